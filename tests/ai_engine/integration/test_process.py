"""The `ai-engine` command as a real process: JSON log lines with the call id, no credential
in any log line or API answer, refusal to start without a password, and SIGTERM handling."""
import json
import os
import signal
import subprocess
import sys

import anyio
import httpx
import pytest

from asterisk_emulator import AsteriskEmulator
from engine_harness import API_AUTH, API_TOKEN, ARI_PASSWORD, eventually, free_port, peak_tone_level
from fakes.realtime_server import FakeRealtimeServer

pytestmark = pytest.mark.anyio
TOKEN = "provider-token-0b7e5f"


def engine_env(emu, fake, media_dir, http_port, as_port, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AI_ENGINE_", "LOCAL_AI_"))}
    env.update(
        AI_ENGINE_ARI__URL=emu.ari_url,
        AI_ENGINE_ARI__PASSWORD=ARI_PASSWORD,
        AI_ENGINE_ARI__RECONNECT_MIN_S="0.05",
        AI_ENGINE_AUDIOSOCKET__PORT=str(as_port),
        AI_ENGINE_HTTP__PORT=str(http_port),
        AI_ENGINE_PLAYBACK__MEDIA_DIR=str(media_dir),
        AI_ENGINE_PROVIDERS__LOCAL__URL=fake.url,
        AI_ENGINE_PROVIDERS__LOCAL__HEALTH_URL=f"http://127.0.0.1:{fake.port}/health-missing",
        AI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN=TOKEN,
        AI_ENGINE_CALLS__SHUTDOWN_TIMEOUT_S="5",
        AI_ENGINE_API__TOKEN=API_TOKEN,
        **extra,
    )
    return env  # no AI_ENGINE_CONFIG and no config/ in cwd: defaults + environment


def emulator(tmp_path, as_port: int) -> AsteriskEmulator:
    """Callers the engine sends on stay alive in the failure context, as with the real dialplan."""
    return AsteriskEmulator(
        password=ARI_PASSWORD,
        audiosocket_address=("127.0.0.1", as_port),
        sounds_dir=tmp_path / "sounds",
        extra_contexts={"ai-agent-unavailable": [("Answer", ""), ("Wait", "30"), ("Hangup", "")]},
    )


def start_engine(env: dict, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ai_engine"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def wait_ready(http: httpx.AsyncClient, proc: subprocess.Popen, timeout: float = 15) -> None:
    deadline = anyio.current_time() + timeout
    while True:
        try:
            if (await http.get("/health")).json().get("ari_connected"):
                return
        except httpx.TransportError:
            pass
        assert anyio.current_time() < deadline and proc.poll() is None, "engine did not come up"
        await anyio.sleep(0.1)


async def test_refuses_to_start_without_an_ari_password(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AI_ENGINE_")}
    proc = await anyio.run_process([sys.executable, "-m", "ai_engine"], env=env, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    line = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert line["event"] == "config.invalid" and "AI_ENGINE_ARI__PASSWORD" in line["error"]


async def test_engine_process_logs_json_keeps_secrets_out_and_shuts_down_cleanly_on_sigterm(tmp_path):
    media = tmp_path / "sounds" / "ai-generated"
    media.mkdir(parents=True)
    http_port, as_port = free_port(), free_port()
    fake = FakeRealtimeServer(greeting_ms=3000)
    fake.token = TOKEN
    async with fake.running(), emulator(tmp_path, as_port) as emu:
        proc = start_engine(engine_env(emu, fake, media, http_port, as_port), tmp_path)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", headers=API_AUTH) as http:
                await wait_ready(http, proc)
                call = await emu.place_call(exten="5551234", stasis_args=["default"])
                await call.wait_answered(5)
                await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
                answers = [(await http.get(p)).text for p in ("/health", "/calls", "/metrics")]
            t0 = anyio.current_time()
            proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(10):
                while proc.poll() is None:
                    await anyio.sleep(0.05)
            assert anyio.current_time() - t0 < 7.0
            assert proc.returncode == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            output = proc.stdout.read().decode()
        # Shutdown: the caller was sent on, nothing left behind.
        assert any(r["path"].endswith(f"/{call.channel_id}/continue") for r in emu.rest_log)
        assert not emu.bridges and list(media.iterdir()) == []
    lines = [json.loads(l) for l in output.splitlines() if l.strip()]
    events = {l["event"] for l in lines}
    assert {"engine.started", "call.started", "call.ended", "engine.shutting_down", "engine.stopped"} <= events
    assert all("call_id" in l for l in lines if l["event"].startswith("call."))
    for text in [output, *answers]:
        assert ARI_PASSWORD not in text and TOKEN not in text


async def test_after_an_engine_crash_the_next_engine_sends_the_stranded_caller_on_and_clears_the_rest(tmp_path):
    """kill -9 mid-call leaves the caller in Stasis with our bridges, snoop and media fork (and
    a file). The engine that starts next sends that caller to the failure context (never a
    dropped call), hangs up our legs, destroys our bridges and sweeps the file."""
    media = tmp_path / "sounds" / "ai-generated"
    media.mkdir(parents=True)
    http_port, as_port = free_port(), free_port()
    fake = FakeRealtimeServer(greeting_ms=6000)
    async with fake.running(), emulator(tmp_path, as_port) as emu:
        env = engine_env(emu, fake, media, http_port, as_port,
                         AI_ENGINE_PLAYBACK__MAX_FILE_AGE_S="2", AI_ENGINE_PLAYBACK__SWEEP_INTERVAL_S="0.5")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", headers=API_AUTH) as http:
            crashed = start_engine(env, tmp_path)
            try:
                await wait_ready(http, crashed)
                call = await emu.place_call(exten="5551234", stasis_args=["default"])
                await call.wait_answered(5)
                await eventually(lambda: emu.playbacks, 8, "greeting playing")
                assert len(emu.bridges) == 2 and list(media.iterdir())
            finally:
                crashed.kill()
                crashed.wait(5)
            stranded = {cid for cid in emu.channels if cid.startswith("ai-agent-")}
            assert {"snoop", "capture"} <= {cid.split("-")[-1] for cid in stranded}, "the crash left our legs behind"
            fresh = start_engine(env, tmp_path)
            try:
                await wait_ready(http, fresh)
                await eventually(lambda: not emu.bridges, 10, "bridges destroyed")
                await eventually(lambda: not stranded & set(emu.channels), 10, "our legs hung up")
                await eventually(lambda: list(media.iterdir()) == [], 10, "the file swept")
                assert any(r["path"].endswith(f"/{call.channel_id}/continue") for r in emu.rest_log)
                assert not call.ended, "the caller was sent on, not hung up"
            finally:
                fresh.terminate()
                fresh.wait(10)
