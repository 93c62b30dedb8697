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
    assert headerless_settings(read("asterisk-conf/ari_general_custom.conf"))["enabled"] == "yes"
    http = headerless_settings(read("asterisk-conf/http_custom.conf"))
    url = urllib.parse.urlparse(engine.ari.url)
    assert (http["bindaddr"], int(http["bindport"])) == (url.hostname, url.port)


@pytest.mark.parametrize("snippet", ["ari_general_custom.conf", "http_custom.conf"])
def test_freepbx_general_snippets_have_no_section_header(snippet):
    """FreePBX includes these inside its own [general]; a second [general] header would be ignored."""
    text = read(f"asterisk-conf/{snippet}")
    assert not any(re.match(r"\s*\[", line) for line in text.splitlines()), snippet
    assert "why there is no [general]" in text.lower()


def headerless_settings(text: str) -> dict[str, str]:
    return conf_sections("[included]\n" + text)["included"]


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


def volume_targets(service: dict) -> dict[str, str]:
    targets = {}
    for volume in service.get("volumes", []):
        source, target = re.sub(r":(ro|rw)$", "", volume).rsplit(":", 1)
        targets[target] = source
    return targets


def test_compose_mounts_config_and_media_where_the_engine_looks(compose, engine):
    eng = compose["services"]["ai-engine"]
    env = eng["environment"]
    targets = volume_targets(eng)
    assert targets[env["AI_ENGINE_CONFIG"]] == "./config/ai-engine.yaml"
    media = targets[env["AI_ENGINE_PLAYBACK__MEDIA_DIR"]]
    # Bind-mounted where Asterisk plays sound:<sound_prefix>/..., never a folder under the clone.
    assert media == "${AI_MEDIA_HOST_DIR:-/var/lib/asterisk/sounds/%s}" % engine.playback.sound_prefix
    assert env_example(".env.example")["AI_MEDIA_HOST_DIR"] == f"/var/lib/asterisk/sounds/{engine.playback.sound_prefix}"


def test_compose_mounts_the_server_config_and_models(compose):
    srv = compose["services"]["local-ai-server"]
    targets = volume_targets(srv)
    config_path = srv["environment"]["LOCAL_AI_CONFIG"]
    assert targets[config_path] == "./local-ai-server/config/local-ai-server.yaml"
    assert f"LOCAL_AI_CONFIG={config_path}" in read("local-ai-server/Dockerfile").replace(" ", "")
    assert targets["/models"] == "${MODELS_DIR:-./models}"
    assert "/models/" in read("local-ai-server.env.example")


def test_compose_builds_versioned_images_and_never_pulls(compose):
    version = re.search(r'^version = "([^"]+)"', read("ai-engine/pyproject.toml"), re.M).group(1)
    assert env_example(".env.example")["AI_AGENT_VERSION"] == version
    for name, svc in compose["services"].items():
        assert svc["pull_policy"] == "build", name
        assert "build" in svc
        assert svc["image"] == f"asterisk-ai-voice-agent/{name}:${{AI_AGENT_VERSION:-{version}}}"


def test_compose_limits_cpu_and_rotates_logs(compose):
    for name, svc in compose["services"].items():
        assert svc["logging"]["driver"] == "json-file", name
        assert svc["logging"]["options"]["max-size"] and svc["logging"]["options"]["max-file"], name
        assert str(svc["cpus"]).startswith("${"), name
    assert "CPUS_LOCAL_AI" in env_example(".env.example")


def test_gpu_override_touches_only_local_ai_server_and_says_untested():
    text = read("docker-compose.gpu.yml")
    gpu = yaml.safe_load(text)
    assert set(gpu["services"]) == {"local-ai-server"}
    devices = gpu["services"]["local-ai-server"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "NOT TESTED on our machines" in text
    assert "not tested on our machines" in read("README.md")


def test_compose_v2_is_stated_where_an_admin_reads_it():
    for rel in ("docker-compose.yml", "README.md", "docs/install-freepbx.md", "docs/install-asterisk.md"):
        assert "Compose v2" in read(rel), rel


def test_docker_compose_config_accepts_every_file_combination(tmp_path):
    import shutil
    import subprocess

    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("Docker Compose v2 is not installed here ('docker compose version' fails)")
    env = {**__import__("os").environ}
    for files in (["docker-compose.yml"], ["docker-compose.yml", "docker-compose.gpu.yml"]):
        args = [docker, "compose", "--project-directory", str(tmp_path), "--env-file", str(ROOT / ".env.example")]
        for f in files:
            args += ["-f", str(ROOT / f)]
        for name in ("ai-engine.env", "local-ai-server.env"):
            (tmp_path / name).write_text(read(name + ".example"))
        result = subprocess.run(args + ["config", "--quiet"], capture_output=True, text=True, env=env)
        assert result.returncode == 0, (files, result.stderr)


ENV_EXAMPLES = {".env.example": None, "ai-engine.env.example": "ai-engine", "local-ai-server.env.example": "local-ai-server"}
SECRETS = re.compile(r"^(AI_ENGINE_ARI__PASSWORD|LOCAL_AI_AUTH_TOKEN|AI_ENGINE_PROVIDERS__\w+__AUTH_TOKEN)$")


def env_example(rel: str) -> dict[str, str]:
    return dict(l.split("=", 1) for l in read(rel).splitlines() if l and not l.startswith("#"))


def test_every_env_name_in_compose_and_env_examples_is_a_real_setting(compose):
    from local_ai_server.config import Settings as ServerSettings

    compose_text = read("docker-compose.yml")
    for rel, service in ENV_EXAMPLES.items():
        names = set(env_example(rel)) | set(re.findall(r"^# ((?:AI_ENGINE|LOCAL_AI)_[A-Z_]+)=", read(rel), re.M))
        if service:
            names |= set(compose["services"][service].get("environment", {}))
        for name in names:
            if name in ("AI_ENGINE_CONFIG", "LOCAL_AI_CONFIG"):
                continue
            if name == "COMPOSE_PROFILES":  # read by Compose itself
                continue
            if name.startswith("AI_ENGINE_"):
                assert service == "ai-engine" and setting_exists(EngineSettings, name, "AI_ENGINE_"), (rel, name)
            elif name.startswith("LOCAL_AI_") and service == "local-ai-server":
                assert setting_exists(ServerSettings, name, "LOCAL_AI_"), (rel, name)
            else:
                assert service is None and "${" + name in compose_text, f"{name} in {rel} is used nowhere in docker-compose.yml"
        for name, value in env_example(rel).items():
            if SECRETS.match(name):
                assert value == "", f"{rel}: {name} must not have a value in the example"


def test_local_ai_server_is_a_profile_the_default_env_enables_and_the_engine_does_not_require(compose):
    profiles = env_example(".env.example")["COMPOSE_PROFILES"].split(",")
    assert compose["services"]["local-ai-server"]["profiles"] == ["local"] and "local" in profiles
    assert "profiles" not in compose["services"]["ai-engine"], "the engine always runs"
    dependency = compose["services"]["ai-engine"]["depends_on"]["local-ai-server"]
    assert dependency == {"condition": "service_healthy", "required": False}


def test_each_service_gets_its_own_env_file_and_secrets_only_where_used(compose):
    assert compose["services"]["ai-engine"]["env_file"] == "ai-engine.env"
    assert compose["services"]["local-ai-server"]["env_file"] == "local-ai-server.env"
    engine_env, server_env = env_example("ai-engine.env.example"), env_example("local-ai-server.env.example")
    assert "AI_ENGINE_ARI__PASSWORD" in engine_env and "AI_ENGINE_ARI__PASSWORD" not in read("local-ai-server.env.example")
    assert "LOCAL_AI_AUTH_TOKEN" in server_env and "AI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN" in engine_env
    assert not any(SECRETS.match(n) for n in env_example(".env.example")), ".env is for compose, not secrets"
    ignored = read(".gitignore").splitlines()
    docker_ignored = read(".dockerignore").splitlines()
    for name in (".env", "ai-engine.env", "local-ai-server.env"):
        assert name in ignored and name in docker_ignored, name


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


def test_operator_commands_are_wired():
    assert 'ai-agent = "ai_engine.admin.cli:main"' in read("ai-engine/pyproject.toml")
    make = read("Makefile")
    assert re.search(r"^doctor:\n\tscripts/ai-agent.sh doctor$", make, re.M)
    assert re.search(r"^test-call:\n\tscripts/ai-agent.sh test-call$", make, re.M)
