"""Helpers for each service's one typed settings object (pydantic-settings).

Convention: every setting is a `Field(..., description="...")`; the description is the setting's
documentation, and the README's configuration tables are generated from it (`settings_table`,
run by scripts/config_docs.py). `undocumented` lists the keys that lack one, so a test can keep
every row meaningful. Sections derive from `Section` (a misspelt key is an error, not a silent
default). Secrets come from the environment only: `SecretFreeYamlSource` refuses a YAML file
that holds one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, YamlConfigSettingsSource


class Section(BaseModel):
    """A settings section: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


def env_name(env_prefix: str, key: str) -> str:
    """`("AI_ENGINE_", "providers.<name>.auth_token")` -> `AI_ENGINE_PROVIDERS__<NAME>__AUTH_TOKEN`."""
    return env_prefix + "__".join(part.upper() for part in key.split("."))


class SecretFreeYamlSource(YamlConfigSettingsSource):
    """YAML source that refuses secrets: they belong in the environment. `secrets` are dotted
    keys; `*` matches any name in a dict section (`providers.*.auth_token`)."""

    def __init__(self, settings_cls: type[BaseSettings], yaml_file: Path, secrets: Iterable[str], env_prefix: str):
        super().__init__(settings_cls, yaml_file=yaml_file)
        for key in secrets:
            for found in _find(self.yaml_data, key.split(".")):
                raise ValueError(
                    f"{yaml_file}: {found} must come from the environment ({env_name(env_prefix, found)})"
                )


def _find(data: Any, parts: list[str], prefix: str = "") -> Iterator[str]:
    if not isinstance(data, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    names = [n for n in data if isinstance(n, str)] if head == "*" else [head] if head in data else []
    for name in names:
        key = f"{prefix}{name}"
        if rest:
            yield from _find(data[name], rest, key + ".")
        else:
            yield key


# --- documentation ------------------------------------------------------------------------------


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if isinstance(value, SecretStr):
        return "(none)" if not value.get_secret_value() else "(set)"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if value is None:
        return "null"
    if isinstance(value, dict):
        plain = {k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in value.items()}
        return "`" + json.dumps(plain) + "`"
    if isinstance(value, Path):
        value = value.as_posix()
    return f"`{value}`"


def _unwrap(annotation: Any) -> Any:
    while getattr(annotation, "__metadata__", None) is not None:  # Annotated[...]
        annotation = annotation.__origin__
    return annotation


def _dict_value_models(annotation: Any) -> list[type[BaseModel]]:
    """The settings model(s) of a `dict[str, Model]` field: each member of a (discriminated) union."""
    args = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is not dict or len(args) != 2:
        return []
    value = _unwrap(args[1])
    members = [_unwrap(m) for m in (getattr(value, "__args__", None) or (value,))]
    return [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]


def _kinds(model: type[BaseModel]) -> str:
    """`[kind a, b] ` before each meaning when a dict's values are a union told apart by `kind`."""
    kind = model.model_fields.get("kind")
    values = getattr(kind.annotation, "__args__", ()) if kind is not None else ()
    return f"[kind {', '.join(values)}] " if values else ""


def _section_model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def fields(model: type[BaseModel], prefix: str = "", label: str = "") -> Iterator[tuple[str, FieldInfo, str]]:
    """Every leaf setting as (dotted key, field, label); a dict of sections appears as itself and then
    its value models' keys under `<name>` (labelled with their `kind` when the values are a union)."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        section = _section_model(field.annotation)
        if section is not None:
            yield from fields(section, key + ".")
            continue
        yield key, field, label
        members = _dict_value_models(field.annotation)
        for value_model in members:
            yield from fields(value_model, key + ".<name>.", _kinds(value_model) if len(members) > 1 else "")


def undocumented(model: type[BaseModel]) -> list[str]:
    """Dotted keys of the settings that have no `description`."""
    return [key for key, field, _ in fields(model) if not (field.description or "").strip()]


def settings_table(model: type[BaseModel], env_prefix: str) -> str:
    """The Markdown table: key, default, environment variable, meaning."""
    lines = ["| key | default | environment | meaning |", "| --- | --- | --- | --- |"]
    for key, field, label in fields(model):
        meaning = label + (field.description or "").replace("|", "\\|")
        lines.append(f"| `{key}` | {_default(field)} | `{env_name(env_prefix, key)}` | {meaning} |")
    return "\n".join(lines)
