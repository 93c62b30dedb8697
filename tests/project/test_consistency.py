"""The compose file, Dockerfiles, Makefile, .env.example, dialplan, ARI/HTTP snippets, README and
the settings defaults agree: ports, contexts, app name, media paths, env names, install steps."""
import re
import urllib.parse
from pathlib import Path

import pytest
import yaml

from ai_engine.config import Settings as EngineSettings

ROOT = Path(__file__).resolve().parents[2]


def read(rel: str) -> str:
    return (ROOT / rel).read_text()


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(read("docker-compose.yml"))


@pytest.fixture(scope="module")
def engine(monkeypatch_module) -> EngineSettings:
    monkeypatch_module.setenv("AI_ENGINE_CONFIG", str(ROOT / "config/ai-engine.yaml"))
    return EngineSettings()


@pytest.fixture(scope="module")
def server_settings(monkeypatch_module):
    from local_ai_server.config import Settings

    monkeypatch_module.setenv("LOCAL_AI_CONFIG", str(ROOT / "local-ai-server/config/local-ai-server.yaml"))
    return Settings()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    import os

    for key in list(os.environ):
        if key.startswith(("AI_ENGINE_", "LOCAL_AI_")):
            mp.delenv(key)
    yield mp
    mp.undo()


def setting_exists(model, env_name: str, prefix: str) -> bool:
    """Does AI_ENGINE_A__B__C name a field a.b.c of the settings model? (dict keys are free; a dict
    of a union of models, e.g. providers by kind, matches when any member has the field)"""
    parts = env_name[len(prefix) :].lower().split("__")

    def members(ann) -> list:
        while getattr(ann, "__metadata__", None) is not None:  # Annotated[...]
            ann = ann.__origin__
        return list(getattr(ann, "__args__", None) or [ann]) if getattr(ann, "__origin__", None) is not dict else [ann]

    def walk(current, i: int) -> bool:
        if i >= len(parts):
            return True
        fields = getattr(current, "model_fields", None)
        if not fields or parts[i] not in fields:
            return False
        ann = fields[parts[i]].annotation
        if getattr(ann, "__origin__", None) is dict:  # skip the dict key, e.g. the provider name
            return any(walk(m, i + 2) for m in members(ann.__args__[1]))
        return walk(ann, i + 1)

    return walk(model, 0)


def dialplan_contexts(text: str) -> dict[str, list[str]]:
    contexts, current = {}, None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if m := re.fullmatch(r"\[([^\]]+)\]", line):
            current = m.group(1)
            contexts[current] = []
        elif line and current:
            contexts[current].append(line)
    return contexts


def conf_sections(text: str) -> dict[str, dict[str, str]]:
    out, current = {}, None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if m := re.fullmatch(r"\[([^\]]+)\]", line):
            current = out.setdefault(m.group(1), {})
        elif "=" in line and current is not None:
            key, value = (x.strip() for x in line.split("=", 1))
            current[key] = value
    return out


def test_default_config_file_loads_and_keeps_the_documented_ports(engine):
    assert engine.audiosocket.port == 8090 and engine.http.port == 15000
    assert engine.playback.sound_prefix == "ai-generated"


def test_media_fork_dialplan_matches_the_engine(engine):
    ctx = dialplan_contexts(read("asterisk-conf/extensions_custom.conf"))
    fork = ctx[engine.calls.media_fork_context]
    assert fork[0].startswith("exten => _[0-9a-f].,1,"), "UUID extens need _[0-9a-f]. (not _X.)"
    calls = [l for l in fork if "AudioSocket(" in l]
    assert len(calls) == 1
    args = re.search(r"AudioSocket\(([^)]*)\)", calls[0]).group(1).split(",")
    assert args == ["${EXTEN}", f"{engine.audiosocket.host}:{engine.audiosocket.port}"], "exactly two arguments"
    assert any("Answer()" in l for l in fork[: fork.index(calls[0])]), "the channel must be answered first"


def test_entry_context_uses_the_app_name_and_routes_failed_stasis(engine):
    ctx = dialplan_contexts(read("asterisk-conf/extensions_custom.conf"))
    entry = "\n".join(ctx["ai-agent-entry"])
    assert f"Stasis({engine.ari.app}," in entry
    assert "STASISSTATUS" in entry and "ai-agent-unavailable" in entry
    assert engine.calls.overflow_context in ctx and "s,1" in ctx[engine.calls.overflow_context][0].replace("exten => ", "")
    assert "ai-agent-unavailable" in ctx


def test_ari_and_http_snippets_match_the_engine(engine):
    ari = conf_sections(read("asterisk-conf/ari_additional_custom.conf"))
    assert ari[engine.ari.username]["type"] == "user"
    assert conf_sections(read("asterisk-conf/ari_general_custom.conf"))["general"]["enabled"] == "yes"
    http = conf_sections(read("asterisk-conf/http_custom.conf"))["general"]
    url = urllib.parse.urlparse(engine.ari.url)
    assert (http["bindaddr"], int(http["bindport"])) == (url.hostname, url.port)


def test_compose_services_ports_and_healthchecks(compose, engine, server_settings):
    services = compose["services"]
    assert set(services) == {"ai-engine", "local-ai-server"}
    eng, srv = services["ai-engine"], services["local-ai-server"]
    assert eng["network_mode"] == "host"
    assert f"127.0.0.1:{engine.http.port}/health" in " ".join(eng["healthcheck"]["test"])
    port = int(srv["environment"]["LOCAL_AI_SERVER__PORT"])
    assert port == server_settings.server.port
    assert srv["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"127.0.0.1:{port}/health" in " ".join(srv["healthcheck"]["test"])
    local = engine.providers["local"]
    assert urllib.parse.urlparse(local.url).port == port and urllib.parse.urlparse(local.health_url).port == port
    assert eng["depends_on"]["local-ai-server"]["condition"] == "service_healthy"


def test_compose_mounts_config_and_media_where_the_engine_looks(compose):
    eng = compose["services"]["ai-engine"]
    env = eng["environment"]
    targets = {}
    for volume in eng["volumes"]:
        source, target = re.sub(r":(ro|rw)$", "", volume).rsplit(":", 1)
        targets[target] = source
    assert targets[env["AI_ENGINE_CONFIG"]] == "./config/ai-engine.yaml"
    assert env["AI_ENGINE_PLAYBACK__MEDIA_DIR"] in targets
    assert "shared-media" in targets[env["AI_ENGINE_PLAYBACK__MEDIA_DIR"]]


def test_every_env_name_in_compose_and_env_example_is_a_real_setting(compose):
    from local_ai_server.config import Settings as ServerSettings

    names = set()
    for svc in compose["services"].values():
        names |= set(svc.get("environment", {}))
    example = [l.split("=", 1)[0] for l in read(".env.example").splitlines() if l and not l.startswith("#")]
    commented = re.findall(r"^# ((?:AI_ENGINE|LOCAL_AI)_[A-Z_]+)=", read(".env.example"), re.M)
    compose_text = read("docker-compose.yml")
    for name in names | set(example) | set(commented):
        if name == "AI_ENGINE_CONFIG" or name == "LOCAL_AI_CONFIG":
            continue
        if name.startswith("AI_ENGINE_"):
            assert setting_exists(EngineSettings, name, "AI_ENGINE_"), name
        elif name.startswith("LOCAL_AI_"):
            assert setting_exists(ServerSettings, name, "LOCAL_AI_"), name
        else:
            assert "${" + name in compose_text, f"{name} in .env.example is used nowhere in docker-compose.yml"
    assert "AI_ENGINE_ARI__PASSWORD" in example
    # No secret has a real value in the example.
    for line in read(".env.example").splitlines():
        if re.match(r"^(AI_ENGINE_ARI__PASSWORD|LOCAL_AI_AUTH_TOKEN|AI_ENGINE_PROVIDERS__\w+__AUTH_TOKEN)=", line):
            assert line.endswith("="), line


def test_compose_env_files_exist_as_examples(compose):
    for svc in compose["services"].values():
        assert svc["env_file"] == ".env"
    assert (ROOT / ".env.example").is_file()


@pytest.mark.parametrize("service", ["ai-engine", "local-ai-server"])
def test_dockerfiles_install_exactly_what_make_installs(service):
    docker = read(f"{service}/Dockerfile")
    make = read("Makefile")
    pip_lines = [l for l in docker.splitlines() if "pip install" in l and not l.lstrip().startswith("#")]
    installed_files = sorted(set(re.findall(r"-r ([\w.-]+\.txt)", " ".join(pip_lines))))
    make_files = sorted({Path(p).name for p in re.findall(rf"{service}/(requirements[\w.-]*\.txt)", make)})
    assert installed_files == make_files, "the same requirement files, no more, no less"
    shared = re.search(r"^SHARED_PKGS\s*:=(.*)$", make, re.M).group(1).split()
    for line in pip_lines:
        cleaned = re.sub(r"--\S+|-r \S+|pip install|RUN|&&.*|\\", " ", line).split()
        shared_here = sorted(p.removeprefix("./") for p in cleaned if p != ".")
        assert cleaned in ([], ["."]) or shared_here == sorted(shared), \
            f"{service}/Dockerfile installs something make does not: {line}"
    assert any("--no-deps ." in l for l in pip_lines)
    assert any(all(p in l for p in shared) and "--no-deps" in l for l in pip_lines), "the shared packages"
    assert re.search(rf"--no-deps -e {service}", make)


def test_readme_shows_both_commands_and_the_current_config_tables():
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    import config_docs

    text = read("README.md")
    assert "docker compose up" in text and "make test" in text
    assert config_docs.render_into(text) == text, "README config tables are stale: python scripts/config_docs.py --write"


def test_ci_runs_the_readme_test_command():
    assert "make test" in read(".ci/run")
