"""`ai-agent test-call`: a call through Asterisk into the agent, measured from the caller's side.

The caller waits for the greeting, says a WAV, listens for the reply, and hangs up. Printed:
greeting latency (answer -> first agent audio), voice-to-voice latency (end of what the caller
said -> first agent audio after it), the reply's transcript (from the local provider's speech
recognition when there is one), and where the recording of everything the caller heard is.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import wave
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol, TextIO

import anyio

from voice_common.pcm import wav_bytes
from ..config import Settings
from .ari_caller import CallFailed, ari_caller
from .ari_probe import AriProbe, AriUnreachable
from .call_measure import RATE, CallFigures, measure, reply_audio
from .context import doctor_app
from .doctor import load_checked_settings
from .transcribe import transcribe


class Caller(Protocol):
    t_answered: float

    async def say(self, pcm8k: bytes) -> None: ...

    def heard_pcm(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class TestCallResult:
    figures: CallFigures
    heard: bytes
    said_s: tuple[float, float]
    transcript: str | None
    transcript_note: str
    recording: Path | None


async def converse(caller: Caller, say: bytes, greeting_s: float, listen_s: float) -> tuple[CallFigures, bytes, tuple[float, float]]:
    """Wait for the greeting window, say `say`, listen `listen_s`; measure what was heard."""
    await anyio.sleep(max(0.0, caller.t_answered + greeting_s - anyio.current_time()))
    said_start = anyio.current_time() - caller.t_answered
    await caller.say(say)
    said_end = anyio.current_time() - caller.t_answered
    await anyio.sleep(listen_s)
    heard = caller.heard_pcm()
    return measure(heard, said_start, said_end), heard, (said_start, said_end)


async def finish(
    settings: Settings, persona: str, figures: CallFigures, heard: bytes, said, out: Path | None, transcript_timeout_s: float = 20.0
) -> TestCallResult:
    """Transcript (when the persona's provider recognises speech) and the recording."""
    transcript, note = None, ""
    provider = settings.providers[settings.personas[persona].provider]
    reply = reply_audio(heard, figures)
    if provider.kind != "realtime":
        note = f"not available: transcripts come from local-ai-server (kind realtime), this persona uses kind '{provider.kind}'"
    elif not reply:
        note = "not available: no reply heard"
    else:
        try:
            transcript = await transcribe(provider, reply, transcript_timeout_s)
        except RuntimeError as exc:
            note = f"not available: {exc}"
    recording = None
    if out is not None:
        try:
            await anyio.to_thread.run_sync(out.write_bytes, wav_bytes(heard, RATE))
            recording = out
        except OSError as exc:
            note += f" (recording not written: {exc.strerror or exc})"
    return TestCallResult(figures, heard, said, transcript, note, recording)


def report(result: TestCallResult, target: str, out: TextIO) -> int:
    f = result.figures

    def secs(v):
        return f"{v:.2f} s" if v is not None else "none heard"

    print(f"test call            {target}", file=out)
    print(f"greeting latency     {secs(f.greeting_latency_s)} (answer -> first agent audio)", file=out)
    print(f"voice to voice       {secs(f.voice_to_voice_s)} (end of caller speech -> first agent audio)", file=out)
    if f.spoke_over_greeting:
        print("note                 the greeting was still playing when the caller spoke: raise --greeting-s", file=out)
    print(f"transcript           {result.transcript!r}" if result.transcript is not None else f"transcript           {result.transcript_note}", file=out)
    where = str(result.recording or "not written")
    if where.startswith("/shared-media/"):
        where += " (in the engine container: on the host under AI_MEDIA_HOST_DIR)"
    print(f"recording            {where}", file=out)
    return 0 if f.greeting_latency_s is not None and f.voice_to_voice_s is not None else 1


def load_wav(path: Path | None) -> bytes:
    """8 kHz mono 16-bit samples of `path`, or of the bundled spoken goodbye."""
    data = path.read_bytes() if path else resources.files("ai_engine.assets").joinpath("goodbye.wav").read_bytes()
    with wave.open(io.BytesIO(data), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise ValueError(f"{path or 'goodbye.wav'}: need 8 kHz mono 16-bit")
        return w.readframes(w.getnframes())


async def test_call(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    settings, config = load_checked_settings()
    if settings is None:
        print(config.line(), file=out)
        return 2
    persona = args.persona or settings.calls.default_persona
    if persona not in settings.personas:
        print(f"unknown persona {persona!r} (known: {', '.join(settings.personas)})", file=out)
        return 2
    say = load_wav(Path(args.wav) if args.wav else None)
    record_to = Path(args.out) if args.out else Path(settings.playback.media_dir) / time.strftime("test-call-%Y%m%d-%H%M%S.wav")
    exten = "s" if persona == settings.calls.default_persona and not args.persona else persona
    probe = AriProbe(settings.ari)
    try:
        async with probe.events(doctor_app(settings)) as events:
            async with ari_caller(probe, events, doctor_app(settings), exten, settings.calls.setup_timeout_s) as caller:
                figures, heard, said = await converse(caller, say, args.greeting_s, args.listen_s)
        result = await finish(settings, persona, figures, heard, said, record_to)
    except (AriUnreachable, CallFailed) as exc:
        print(f"test call failed: {exc} (run ai-agent doctor)", file=out)
        return 1
    finally:
        with anyio.CancelScope(shield=True):
            await probe.aclose()
    return report(result, f"Local/{exten}@ai-agent-test-call (persona {persona})", out)
