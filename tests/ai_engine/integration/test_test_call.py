"""`ai-agent test-call`: the conversation and its figures, through the engine and the emulator.

The emulator's caller stands in for the ARI caller of a real Asterisk (a Local channel bridged
with our own externalMedia leg) for the audio: the emulator mixes media only for the recorded
caller (a Local pair with no app, FACT 2), not for a Local ;1 half in a second app. The ARI
caller's signalling and teardown run against the emulator (last test), its audio pieces
(AudioSocketEar) alone."""
from __future__ import annotations

import io
import wave

import anyio
import numpy as np
import pytest

from ai_engine.admin.ari_caller import AudioSocketEar
from ai_engine.admin.call_measure import FRAME, measure, speech_regions
from ai_engine.admin.test_call import converse, finish, load_wav, report
from ai_engine.transports.audiosocket import codec
from engine_harness import eventually, running_rig, tone

pytestmark = pytest.mark.anyio


class EmulatorCaller:
    def __init__(self, call):
        self.call = call
        self.t_answered = call.t_answered

    async def say(self, pcm8k: bytes) -> None:
        await self.call.say(pcm8k)

    def heard_pcm(self) -> bytes:
        return self.call.heard_pcm()


async def test_test_call_measures_greeting_and_reply_and_writes_the_recording(tmp_path):
    async with running_rig(tmp_path) as rig:
        call = await rig.emu.place_call(stasis_args=["default"])
        await call.wait_answered(5)
        figures, heard, said = await converse(EmulatorCaller(call), tone(300, 800), greeting_s=1.5, listen_s=2.5)
        out = tmp_path / "test-call.wav"
        result = await finish(rig.engine.settings, "default", figures, heard, said, out, transcript_timeout_s=5)
        await call.hangup()
    # The fake provider greets with 600 ms of 440 Hz and answers with the caller's own audio.
    assert figures.greeting_latency_s is not None and figures.greeting_latency_s < said[0]
    assert figures.greeting_end_s is not None and not figures.spoke_over_greeting
    assert figures.voice_to_voice_s is not None and figures.voice_to_voice_s > 0
    reply_start, reply_end = figures.reply_s
    assert reply_end - reply_start == pytest.approx(0.8, abs=0.25)
    with wave.open(str(out), "rb") as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)
        assert w.getnframes() * 2 == len(heard)
    assert result.transcript is None and result.transcript_note.startswith("not available")
    text = io.StringIO()
    assert report(result, "emulator", text) == 0
    lines = text.getvalue().splitlines()
    assert lines[1].startswith("greeting latency") and lines[2].startswith("voice to voice")
    assert any(l.startswith("recording") and str(out) in l for l in lines)


async def test_test_call_with_no_reply_says_so_and_fails(tmp_path):
    async with running_rig(tmp_path) as rig:
        call = await rig.emu.place_call(stasis_args=["default"])
        await call.wait_answered(5)
        # Silence said: the provider hears no turn and never answers.
        figures, heard, said = await converse(EmulatorCaller(call), bytes(1600), greeting_s=1.5, listen_s=1.0)
        result = await finish(rig.engine.settings, "default", figures, heard, said, None)
        await call.hangup()
    assert figures.voice_to_voice_s is None
    text = io.StringIO()
    assert report(result, "emulator", text) == 1
    assert "none heard" in text.getvalue() and "no reply heard" in text.getvalue()


def test_speech_regions_bridge_short_gaps_and_split_long_ones():
    quiet = bytes(8000 * 2 * 1)  # 1 s
    pcm = quiet + tone(440, 500) + bytes(8000 * 2 // 5) + tone(440, 300) + quiet + tone(440, 400)
    regions = speech_regions(pcm)
    assert [(round(a, 2), round(b, 2)) for a, b in regions] == [(1.0, 2.0), (3.0, 3.4)]
    figures = measure(pcm, said_start_s=2.5, said_end_s=2.6)
    assert figures.greeting_latency_s == pytest.approx(1.0)
    assert figures.voice_to_voice_s == pytest.approx(0.4)


def test_ear_places_frames_by_arrival_time_with_gaps_as_silence():
    ear = AudioSocketEar()
    frame = tone(440, 20)
    ear.frames = [(10.00, frame), (10.02, frame), (10.10, frame)]  # 60 ms gap: nothing was sent
    heard = ear.heard_since(10.0)
    assert len(heard) == 6 * FRAME * 2
    assert heard[2 * FRAME * 2 : 5 * FRAME * 2] == bytes(3 * FRAME * 2)


async def test_ear_says_paced_frames_then_silence():
    ear = AudioSocketEar()
    a, b = anyio.create_memory_object_stream[bytes](100)

    class Stream:
        async def send(self, data):
            await a.send(data)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ear._send_loop, Stream())
        await ear.say(tone(440, 60))
        tg.cancel_scope.cancel()
    frames = []
    while True:
        try:
            frames.append(b.receive_nowait())
        except anyio.WouldBlock:
            break
    decoded = [e for f in frames for e in codec.Decoder().feed(f)]
    assert all(isinstance(e, codec.Audio) and len(e.payload) == FRAME * 2 for e in decoded)
    loud = [np.abs(np.frombuffer(e.payload, "<i2")).max() > 1000 for e in decoded]
    assert loud[:3] == [True, True, True]


def test_bundled_caller_phrase_is_telephone_audio():
    assert len(load_wav(None)) > 8000  # more than half a second of 8 kHz speech


def test_shipped_test_call_context_answers_then_enters_the_agent():
    from pathlib import Path

    from ai_engine.admin.ari_caller import TEST_CALL_CONTEXT

    text = (Path(__file__).resolve().parents[3] / "asterisk-conf" / "extensions_custom.conf").read_text()
    block = text.split(f"[{TEST_CALL_CONTEXT}]", 1)[1].split("\n[", 1)[0]
    lines = [l.strip() for l in block.splitlines() if l.strip() and not l.strip().startswith(";")]
    assert lines == [
        "exten => s,1,Answer()", "same => n,Goto(ai-agent-entry,s,1)",
        "exten => _[a-z].,1,Answer()", "same => n,Goto(ai-agent-entry,${EXTEN},1)",
    ]


async def test_cli_test_call_without_asterisk_fails_and_points_at_the_doctor(tmp_path, monkeypatch):
    import argparse

    from ai_engine.admin.test_call import test_call
    from engine_harness import free_port

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AI_ENGINE_ARI__URL", f"http://127.0.0.1:{free_port()}/")
    monkeypatch.setenv("AI_ENGINE_ARI__PASSWORD", "some-password-1")
    args = argparse.Namespace(persona="", wav=None, greeting_s=0.1, listen_s=0.1, out=None)
    out = io.StringIO()
    assert await test_call(args, out) == 1
    assert "run ai-agent doctor" in out.getvalue()


async def test_ari_caller_sets_up_and_tears_down_through_the_test_call_context(tmp_path):
    """The ARI caller's signalling against the emulator: Local into [ai-agent-test-call] (Answer,
    then the agent), its ;1 half in the tool's app, our externalMedia leg, one bridge; all gone
    afterwards. (No audio: the emulator mixes media only for its recorded caller, see above.)"""
    from ai_engine.admin.ari_caller import TEST_CALL_CONTEXT, ari_caller
    from ai_engine.admin.ari_probe import AriProbe
    from ai_engine.admin.context import doctor_app

    async with running_rig(tmp_path) as rig:
        rig.emu.pbx.extra_contexts[TEST_CALL_CONTEXT] = [("Answer", ""), ("Stasis", "ai-agent,default"), ("Hangup", "")]
        settings = rig.engine.settings
        probe = AriProbe(settings.ari)
        try:
            async with probe.events(doctor_app(settings)) as events:
                async with ari_caller(probe, events, doctor_app(settings), "s", 5.0) as caller:
                    assert caller.ear.connected.is_set()
                    bridge = next(b for b in rig.emu.bridges.values() if b.id.startswith("tc-bridge-"))
                    assert {m.kind for m in bridge.members} == {"local1", "extmedia"}
                    await eventually(lambda: len(rig.engine.registry.calls) == 1, 5, "the engine took the call")
                    await caller.say(bytes(1600))
        finally:
            await probe.aclose()
        await eventually(lambda: not rig.engine.registry.calls, 8, "the call ended")
        await eventually(lambda: not [c for c in rig.emu.channels.values() if c.alive], 8, "every channel gone")
        assert not [b for b in rig.emu.bridges if b.startswith("tc-")]
