"""Render a settings class as a Markdown table (key, default, environment variable, meaning).

  python scripts/config_docs.py              # print both tables
  python scripts/config_docs.py --write      # rewrite the tables between the README markers
The README test fails when the README's tables differ from this output.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

README = Path(__file__).resolve().parent.parent / "README.md"


def _default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
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
        return "`" + json.dumps({k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in value.items()}) + "`"
    return f"`{value}`"


def rows(model: type[BaseModel], prefix: str, env_prefix: str, label: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        env = f"{env_prefix}{name.upper()}"
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += rows(ann, key + ".", env + "__")
            continue
        desc = (field.description or "").replace("|", "\\|")
        out.append(f"| `{key}` | {_default(field)} | `{env}` | {label}{desc} |")
        for value_type in _dict_value_models(ann):
            out += rows(value_type, key + ".<name>.", env + "__<NAME>__", _kinds(value_type))
    return out


def _kinds(model: type[BaseModel]) -> str:
    """`[kind a, b] ` before each meaning when the dict's values are a union told apart by `kind`."""
    kind = model.model_fields.get("kind")
    values = getattr(kind.annotation, "__args__", ()) if kind is not None else ()
    return f"[kind {', '.join(values)}] " if values else ""


def _dict_value_models(ann) -> list[type[BaseModel]]:
    """The settings model(s) of a `dict[str, Model]` field; each member of a (discriminated) union."""
    args = getattr(ann, "__args__", ())
    if getattr(ann, "__origin__", None) is not dict or len(args) != 2:
        return []
    value = args[1]
    while getattr(value, "__metadata__", None) is not None:  # Annotated[...]
        value = value.__origin__
    members = getattr(value, "__args__", None) or (value,)
    out = []
    for member in members:
        while getattr(member, "__metadata__", None) is not None:
            member = member.__origin__
        if isinstance(member, type) and issubclass(member, BaseModel):
            out.append(member)
    return out


def table(model: type[BaseModel], env_prefix: str) -> str:
    head = ["| key | default | environment | meaning |", "| --- | --- | --- | --- |"]
    return "\n".join(head + rows(model, "", env_prefix))


def tables() -> dict[str, str]:
    from ai_engine.config import ENV_PREFIX, Settings

    out = {"ai-engine": table(Settings, ENV_PREFIX)}
    try:
        from local_ai_server.config import Settings as ServerSettings
    except ImportError:
        return out
    out["local-ai-server"] = table(ServerSettings, "LOCAL_AI_")
    return out


def render_into(text: str) -> str:
    for name, body in tables().items():
        pattern = re.compile(rf"(<!-- config:{re.escape(name)}:start -->\n)(?:.*?\n)?(<!-- config:{re.escape(name)}:end -->)", re.S)
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


if __name__ == "__main__":
    if "--write" in sys.argv:
        README.write_text(render_into(README.read_text()))
    else:
        for name, body in tables().items():
            print(f"## {name}\n\n{body}\n")
