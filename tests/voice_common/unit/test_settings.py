"""Settings helpers: secrets refused in YAML, a documentation table with a meaning per row."""
import pytest
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from voice_common.settings import SecretFreeYamlSource, Section, settings_table, undocumented


class Provider(Section):
    token: SecretStr | None = Field(None, description="Bearer token (environment only).")
    url: str = Field("ws://x", description="Where.")


class Server(Section):
    port: int = Field(8765, description="TCP port.")
    level: str = "info"  # no description


class Demo(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", env_nested_delimiter="__", extra="forbid")
    server: Server = Server()
    providers: dict[str, Provider] = Field(default_factory=lambda: {"local": Provider()}, description="Providers by name.")


def test_the_table_has_key_default_env_and_meaning():
    table = settings_table(Demo, "DEMO_").splitlines()
    assert "| `server.port` | `8765` | `DEMO_SERVER__PORT` | TCP port. |" in table
    assert "| `providers.<name>.token` | null | `DEMO_PROVIDERS__<NAME>__TOKEN` | Bearer token (environment only). |" in table


def test_undocumented_names_every_setting_without_a_description():
    assert undocumented(Demo) == ["server.level"]


def test_a_yaml_file_holding_a_secret_is_refused(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("providers:\n  local:\n    url: ws://y\n")
    SecretFreeYamlSource(Demo, good, ["providers.*.token"], "DEMO_")
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers:\n  cloud:\n    token: abc\n")
    with pytest.raises(ValueError, match=r"providers\.cloud\.token must come from the environment \(DEMO_PROVIDERS__CLOUD__TOKEN\)"):
        SecretFreeYamlSource(Demo, bad, ["providers.*.token"], "DEMO_")
