"""`ai-agent doctor` against the Asterisk emulator, one injected fault per test: each fault
gives a FAIL line on the check that owns it, with a fix, and a non-zero exit."""
from __future__ import annotations

import io
import re
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from ai_engine.admin import checks_asterisk, checks_media
from ai_engine.admin.cli import main
from ai_engine.admin.context import DOCTOR_CONTEXT, Context
from ai_engine.admin.doctor import doctor, run_checks
from ai_engine.admin.report import Status, print_report
from ai_engine.config import Settings
from asterisk_emulator import AsteriskEmulator
from engine_harness import ARI_PASSWORD, engine_settings, free_port, running_rig
from fakes.realtime_server import FakeRealtimeServer

pytestmark = pytest.mark.anyio

# The doctor's context exactly as asterisk-conf/extensions_custom.conf ships it (checked below).
DOCTOR_STEPS = [("Answer", ""), ("Wait", "10"), ("Hangup", "")]


@asynccontextmanager
async def asterisk(tmp_path: Path, as_port: int, **emu):
    sounds = tmp_path / "sounds"
    (sounds / "ai-generated").mkdir(parents=True, exist_ok=True)
    options = dict(
        app="ai-agent", username="ai-agent", password=ARI_PASSWORD, audiosocket_address=("127.0.0.1", as_port),
        sounds_dir=sounds, fork_context="ai-agent-media-fork", extra_contexts={DOCTOR_CONTEXT: DOCTOR_STEPS},
    )
    options.update(emu)
    async with AsteriskEmulator(**options) as emulator:
        yield emulator


@asynccontextmanager
async def setup(tmp_path: Path, emu: dict | None = None, fake: FakeRealtimeServer | None = None, **overrides):
    """Emulator + fake provider, engine NOT running; yields (emulator, settings)."""
    as_port = free_port()
    fake = fake or FakeRealtimeServer()
    async with fake.running(), asterisk(tmp_path, as_port, **(emu or {})) as emulator:
        overrides.setdefault("http", {"host": "127.0.0.1", "port": free_port()})
        overrides.setdefault("calls", {"audio_transport": "snoop_fork"})  # these checks were written for the fork's dialplan
        yield emulator, engine_settings(tmp_path, emulator.ari_url, fake.url, as_port, **overrides)


def by_name(results) -> dict:
    return {r.name: r for r in results}


def statuses(results) -> dict:
    return {r.name: r.status.value for r in results}


def no_leftovers(emulator) -> None:
    assert [c for c in emulator.channels.values() if c.app == "ai-agent-doctor" and c.alive] == []


async def test_healthy_host_all_checks_pass_or_say_why_not(tmp_path):
    async with setup(tmp_path) as (emulator, settings):
        results = await run_checks(settings)
        no_leftovers(emulator)
    got = statuses(results)
    assert got == {
        "ARI reachable": "PASS",
        "Asterisk version": "PASS",
        "Asterisk modules": "SKIP",  # GET /asterisk/modules is not recorded: the emulator answers 404
        "ARI app owner": "SKIP",  # engine not running
        "dialplan media fork": "PASS",
        "advertise host": "SKIP",  # file mode + snoop_fork: no externalMedia leg
        "RTP media": "SKIP",
        "WebSocket media": "SKIP",
        "media folder": "PASS",
        "ports": "PASS",
        "provider local": "PASS",
    }, results
    assert "22.10.1" in by_name(results)["ARI reachable"].detail
    assert list((tmp_path / "sounds" / "ai-generated").iterdir()) == []  # the test file is removed
    out = io.StringIO()
    assert print_report(results, out) == 0


async def test_wrong_ari_password_fails_with_the_fix(tmp_path):
    async with setup(tmp_path) as (emulator, settings):
        settings = settings.model_copy(update={"ari": settings.ari.model_copy(update={"password": SecretStr("wrong-one")})})
        results = await run_checks(settings)
    r = by_name(results)["ARI credentials"]
    assert r.status is Status.FAIL and "401" in r.detail and "AI_ENGINE_ARI__PASSWORD" in r.fix
    assert by_name(results)["dialplan media fork"].status is Status.SKIP
    assert "wrong-one" not in "\n".join(x.line() for x in results)


async def test_asterisk_http_down_fails_ari_reachable(tmp_path):
    async with setup(tmp_path) as (emulator, settings):
        await emulator.stop_http()
        results = await run_checks(settings)
    r = by_name(results)["ARI reachable"]
    assert r.status is Status.FAIL and "http show status" in r.fix


async def test_missing_media_fork_context_fails_the_dialplan_check(tmp_path):
    async with setup(tmp_path, emu={"fork_context": "some-other-context"}) as (emulator, settings):
        results = await run_checks(settings)
        no_leftovers(emulator)
    r = by_name(results)["dialplan media fork"]
    assert r.status is Status.FAIL and "dialplan reload" in r.fix


async def test_dialplan_pointing_at_another_port_fails_the_dialplan_check(tmp_path):
    async with setup(tmp_path, emu={"audiosocket_address": ("127.0.0.1", free_port())}) as (emulator, settings):
        results = await run_checks(settings)
    r = by_name(results)["dialplan media fork"]
    assert r.status is Status.FAIL and f":{settings.audiosocket.port}" in r.fix


async def test_unwritable_media_folder_fails(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    async with setup(tmp_path, playback={"media_dir": str(blocker / "ai-generated")}) as (emulator, settings):
        results = await run_checks(settings)
    r = by_name(results)["media folder"]
    assert r.status is Status.FAIL and "does not exist" in r.detail and "init-host.sh" in r.fix


async def test_read_only_media_folder_fails(tmp_path, monkeypatch):
    # A read-only bind mount, or a folder of another user (tests run as root, who ignores modes).
    def refuse(self, data):
        raise PermissionError(13, "Permission denied")

    async with setup(tmp_path) as (emulator, settings):
        monkeypatch.setattr(Path, "write_bytes", refuse)
        results = await run_checks(settings)
        monkeypatch.undo()
    r = by_name(results)["media folder"]
    assert r.status is Status.FAIL and "cannot write" in r.detail and "Permission denied" in r.detail


async def test_media_folder_asterisk_cannot_play_fails(tmp_path):
    # Asterisk looks for sounds elsewhere (the symlink/bind mount is missing): PlaybackFinished failed.
    elsewhere = tmp_path / "asterisk-sounds"
    elsewhere.mkdir()
    async with setup(tmp_path, emu={"sounds_dir": elsewhere}) as (emulator, settings):
        results = await run_checks(settings)
        no_leftovers(emulator)
    r = by_name(results)["media folder"]
    assert r.status is Status.FAIL and "failed" in r.detail and "/root" in r.fix


async def test_missing_doctor_context_fails_the_media_check(tmp_path):
    async with setup(tmp_path, emu={"extra_contexts": {}}) as (emulator, settings):
        results = await run_checks(settings)
    r = by_name(results)["media folder"]
    assert r.status is Status.FAIL and DOCTOR_CONTEXT in r.fix


async def test_provider_down_fails(tmp_path):
    async with setup(tmp_path) as (emulator, settings):
        dead = f"ws://127.0.0.1:{free_port()}/v1/realtime"
        settings = settings.model_copy(
            update={"providers": {"local": settings.providers["local"].model_copy(update={"url": dead, "connect_timeout_s": 1.0})}}
        )
        results = await run_checks(settings)
    r = by_name(results)["provider local"]
    assert r.status is Status.FAIL and "docker compose up -d local-ai-server" in r.fix


async def test_provider_token_refused_fails_with_the_token_fix(tmp_path):
    fake = FakeRealtimeServer()
    fake.token = "server-token-123"
    async with setup(tmp_path, fake=fake) as (emulator, settings):
        results = await run_checks(settings)
    r = by_name(results)["provider local"]
    assert r.status is Status.FAIL and "AUTH_TOKEN" in r.fix


async def test_with_the_engine_running_the_doctor_uses_the_engines_port(tmp_path):
    async with running_rig(tmp_path, calls={"audio_transport": "snoop_fork"}) as rig:
        rig.emu.pbx.extra_contexts[DOCTOR_CONTEXT] = DOCTOR_STEPS
        settings = rig.engine.settings.model_copy(
            update={"http": rig.engine.settings.http.model_copy(update={"port": rig.engine.http_port})}
        )
        results = await run_checks(settings)
        assert rig.engine.registry.calls == {}
    got = statuses(results)
    assert got["ARI app owner"] == "PASS", results
    assert got["dialplan media fork"] == "PASS", results
    assert "refused-connection counter" in by_name(results)["dialplan media fork"].detail
    assert got["ports"] == "PASS" and got["media folder"] == "PASS"


async def test_engine_running_but_not_connected_fails_app_owner(tmp_path):
    async with running_rig(tmp_path) as rig:
        rig.emu.set_ws_refused(True)
        await rig.emu.drop_events_ws()
        await rig.engine.ari.wait_connected(False)
        settings = rig.engine.settings.model_copy(
            update={"http": rig.engine.settings.http.model_copy(update={"port": rig.engine.http_port})}
        )
        results = await run_checks(settings)
    r = by_name(results)["ARI app owner"]
    assert r.status is Status.FAIL and "application_replaced" in r.fix


@pytest.mark.parametrize(
    "version, fmt, expected",
    [("22.10.1", "slin16", Status.PASS), ("21.11.0", "slin16", Status.FAIL), ("21.12.0", "slin16", Status.PASS),
     ("20.16.0", "slin", Status.PASS), ("18.20.0", "slin", Status.FAIL), ("GIT-master-abc", "slin16", Status.SKIP)],
)
def test_asterisk_version_against_what_the_configuration_needs(version, fmt, expected):
    settings = Settings(ari={"password": "x-real-one"}, playback={"downstream_mode": "stream", "stream_format": fmt})
    ctx = Context(settings, probe=None)  # type: ignore[arg-type]
    ctx.asterisk_version = version
    assert checks_asterisk.check_version(ctx).status is expected


async def test_cli_exit_code_is_non_zero_on_a_failure_and_prints_one_line_per_check(tmp_path, monkeypatch, capsys):
    async with setup(tmp_path) as (emulator, settings):
        monkeypatch.chdir(tmp_path)  # no config/ai-engine.yaml here: environment only
        monkeypatch.setenv("AI_ENGINE_ARI__URL", settings.ari.url)
        monkeypatch.setenv("AI_ENGINE_ARI__PASSWORD", "not-the-password")
        monkeypatch.setenv("AI_ENGINE_HTTP__PORT", str(settings.http.port))
        out = io.StringIO()
        assert await doctor(out) == 1
    lines = out.getvalue().splitlines()
    assert any(line.startswith("FAIL  ARI credentials") for line in lines)
    assert any(line.strip().startswith("fix: ") for line in lines)


def test_cli_without_a_password_fails_the_configuration_check(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AI_ENGINE_ARI__PASSWORD", raising=False)
    assert main(["doctor"]) == 1
    assert capsys.readouterr().out.startswith("FAIL  configuration")


def test_shipped_dialplan_has_the_doctor_context_the_tests_use():
    text = (Path(__file__).resolve().parents[3] / "asterisk-conf" / "extensions_custom.conf").read_text()
    block = text.split(f"[{DOCTOR_CONTEXT}]", 1)[1].split("\n[", 1)[0]
    apps = [re.search(r",(\w+)\(", line)[1] for line in block.splitlines() if line.strip().startswith(("exten =>", "same =>"))]
    assert apps == [step[0] for step in DOCTOR_STEPS]
    assert "Wait(10)" in block


class ModulesProbe:
    """GET /ari/asterisk/modules as ARI's reference documents it (a list of Module objects:
    name, description, use_count, status, support_level). Not recorded from our Asterisk, so
    not in the emulator."""

    def __init__(self, running: list[str]):
        self.body = [
            {"name": n, "description": "", "use_count": 0, "status": "Running", "support_level": "core"} for n in running
        ]

    async def get(self, path):
        from ai_engine.admin.ari_probe import Answer

        assert path == "/asterisk/modules"
        return Answer(200, self.body)


async def test_modules_check_names_what_the_transport_needs_and_is_not_running():
    settings = Settings(ari={"password": "x-real-one"}, calls={"audio_transport": "snoop_fork"})
    needed = checks_asterisk.required_modules(settings)
    assert {"app_audiosocket.so", "res_audiosocket.so", "res_stasis_snoop.so"} <= set(needed)
    ok = await checks_asterisk.check_modules(Context(settings, probe=ModulesProbe(needed)))  # type: ignore[arg-type]
    assert ok.status is Status.PASS
    missing = await checks_asterisk.check_modules(
        Context(settings, probe=ModulesProbe([m for m in needed if m != "app_audiosocket.so"]))  # type: ignore[arg-type]
    )
    assert missing.status is Status.FAIL and "app_audiosocket.so" in missing.detail and "module load" in missing.fix


def test_stream_mode_needs_chan_audiosocket():
    settings = Settings(ari={"password": "x-real-one"}, playback={"downstream_mode": "stream"})
    assert "chan_audiosocket.so" in checks_asterisk.required_modules(settings)


async def test_the_bridge_fork_captures_over_externalmedia_not_a_dialplan_fork():
    """bridge_fork's capture leg is an externalMedia AudioSocket channel in the caller's bridge
    (calls/media_path.py): the doctor asks for chan_audiosocket and skips the fork context."""
    settings = Settings(ari={"password": "x-real-one"}, calls={"audio_transport": "bridge_fork"})
    needed = checks_asterisk.required_modules(settings)
    assert "chan_audiosocket.so" in needed and "app_audiosocket.so" not in needed
    assert checks_media.uses_externalmedia_audiosocket(settings)
    fork = await checks_media.check_media_fork(Context(settings, probe=None))  # type: ignore[arg-type]
    assert fork.status is Status.SKIP


def test_wideband_audiosocket_capture_needs_an_asterisk_with_the_slin16_kinds():
    """calls.capture_format slin16 makes Asterisk send kind 0x12 frames (22.7 and later); RTP and
    WebSocket legs use no AudioSocket kinds whatever the stream format."""
    wideband = Settings(ari={"password": "x-real-one"}, calls={"audio_transport": "snoop_externalmedia", "capture_format": "slin16"})
    ctx = Context(wideband, probe=None)  # type: ignore[arg-type]
    ctx.asterisk_version = "22.6.0"
    r = checks_asterisk.check_version(ctx)
    assert r.status is Status.FAIL and "calls.capture_format=slin16" in r.detail
    assert "22.7.0" in r.fix and "calls.capture_format: slin" in r.fix
    websocket = Settings(ari={"password": "x-real-one"}, calls={"audio_transport": "websocket"},
                         playback={"downstream_mode": "stream", "stream_format": "slin16"})
    assert checks_asterisk.needs_slin_kinds(websocket) is None


async def test_stream_mode_checks_that_asterisk_reaches_the_advertised_host(tmp_path):
    async with setup(tmp_path, playback={"downstream_mode": "stream"}) as (emulator, settings):
        results = await run_checks(settings)
        no_leftovers(emulator)
    r = by_name(results)["advertise host"]
    assert r.status is Status.PASS and "externalMedia" in r.detail


async def test_advertise_host_nobody_listens_on_fails(tmp_path):
    # 127.0.0.2 is loopback too, but neither the doctor nor the engine listens there.
    async with setup(
        tmp_path, playback={"downstream_mode": "stream"}, audiosocket={"host": "127.0.0.1", "advertise_host": "127.0.0.2"}
    ) as (emulator, settings):
        results = await run_checks(settings)
    r = by_name(results)["advertise host"]
    assert r.status is Status.FAIL and "advertise_host" in r.fix


async def test_cloud_provider_without_a_key_fails_with_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("AI_ENGINE_PROVIDERS__CLOUD__API_KEY", raising=False)
    async with setup(
        tmp_path,
        providers={"cloud": {"kind": "openai_realtime"}},
        personas={"default": {"provider": "cloud", "greeting": "Hello", "instructions": "Be brief."}},
    ) as (emulator, settings):
        results = await run_checks(settings)
    r = by_name(results)["provider cloud"]
    assert r.status is Status.FAIL and "no API key" in r.detail and "AI_ENGINE_PROVIDERS__CLOUD__API_KEY" in r.fix
    assert "provider local" not in by_name(results)  # only providers a persona uses are checked


async def test_provider_still_loading_fails_with_its_state(tmp_path):
    import anyio
    import anyio.abc

    body = b'{"status":"loading"}'

    async def answer(stream: anyio.abc.SocketStream) -> None:  # local-ai-server's /health while loading
        async with stream:
            await stream.receive()
            await stream.send(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                              b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with setup(tmp_path, providers={"local": {"health_url": f"http://127.0.0.1:{port}/health"}}) as (emulator, settings):
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, answer)
            results = await run_checks(settings)
            tg.cancel_scope.cancel()
    r = by_name(results)["provider local"]
    assert r.status is Status.FAIL and "loading" in r.detail and "docker compose logs local-ai-server" in r.fix
