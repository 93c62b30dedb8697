"""8 kHz against 16 kHz with the real local models (issue 11, item 7): voice-to-voice latency and
STT word accuracy, per capture configuration.

Every question of the bench's speech (bench/local_ai_server QUESTIONS, each in several espeak-ng
voices) is rendered once at 16 kHz; each kind of line gets its own version of that same audio
(bench/wideband_audio: `wideband` 16 kHz, `telephone` 300-3400 Hz at 8 kHz, `line` = telephone +
mild noise + G.711 mu-law round trip).

1. Through the whole system (Asterisk emulator -> engine -> real local-ai-server -> caller), one
   call per configuration (`CONFIGS`), one question per turn: voice to voice = the caller's end of
   speech to the first agent audio it hears (as bench/latency), and the word accuracy (1 - WER) of
   the server's transcript (the engine's `caller.transcript` log line) against the question. The
   emulator's bridges mix at 8 kHz and its caller speaks 8 kHz (the recordings only had 8 kHz
   callers), so on the 16 kHz transports the caller's speech is the `telephone` audio carried in
   16 kHz frames: this part measures what the transport and the provider rate cost in latency, not
   what wideband speech buys.
2. Straight to local-ai-server (one session per kind of line, its audio at its own rate, paced in
   real time): the word accuracy of each line's audio, and the server's own stages. This is what a
   wideband caller's speech buys the STT, since the 16 kHz transports carry it without an 8 kHz step
   (tests/ai_engine/integration/test_transport_wideband.py, test_websocket_calls.py).

  python -m bench wideband [--turns 24] [--configs 8k,8k-line,16k-websocket,16k-externalmedia]
                           [--lines wideband,telephone,line] [--snr-db 30]
Prints a table; writes bench/results/wideband.json (with calibration_ms and the load average).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field

import anyio
from bench import wideband_audio as wa
from bench.calibration import calibrated, load_average
from bench.voice_rig import (
    INSTRUCTIONS, QUESTIONS, RESULTS, VOICES, TurnLog, local_ai_server, stats, voice_rig, wait_heard, wait_quiet,
)
from local_ai_server.client import RealtimeClient
from realtime_protocol import append_message

# Audio rate of what Asterisk plays from an RTP leg, by payload type
# (tests/asterisk_facts more/ M8-M9; cost/ C5-C6: G.722 heard at 16 kHz).
RTP_RATE_BY_PT = {0: 8000, 8: 8000, 9: 16000, 10: 8000, 11: 8000}
CALLER_HEARS_RATE = 8000  # the emulator's caller is a ulaw channel and its bridges mix at 8 kHz
TRANSCRIBED = "conversation.item.input_audio_transcription.completed"
SERVER_STAGES = ("transcript_ms", "first_audio_ms", "stt_ms")


@dataclass(frozen=True)
class Config:
    """One way of carrying the call: the engine settings (running_rig overrides) and the line."""

    name: str
    what: str
    capture_rate: int  # the rate the caller's audio reaches the engine at
    line: str          # which audio of the question the emulator's caller speaks
    overrides: dict = field(default_factory=dict)


def _local(rate: int) -> dict:
    return {"input_rate": rate, "output_rate": rate}


CONFIGS = {
    c.name: c
    for c in (
        Config("8k", "snoop_fork slin (AudioSocket 0x10)", 8000, "telephone",
               {"calls": {"audio_transport": "snoop_fork"}, "local": _local(8000)}),
        Config("8k-line", "snoop_fork slin, noisy mu-law line", 8000, "line",
               {"calls": {"audio_transport": "snoop_fork"}, "local": _local(8000)}),
        Config("16k-websocket", "websocket slin16 both ways", 16000, "telephone",
               {"calls": {"audio_transport": "websocket"}, "websocket": {"format": "slin16"}, "local": _local(16000)}),
        Config("16k-externalmedia", "snoop_externalmedia slin16 (AudioSocket 0x12)", 16000, "telephone",
               {"calls": {"audio_transport": "snoop_externalmedia", "capture_format": "slin16"},
                "playback": {"stream_format": "slin16"}, "local": _local(16000)}),
        Config("16k-rtp", "externalmedia_rtp slin16 in, G.722 (PT 9) back", 16000, "telephone",
               {"calls": {"audio_transport": "externalmedia_rtp"}, "local": _local(16000),
                "rtp": {"format": "slin16", "port_start": 32000, "port_end": 32199}}),
    )
}
DEFAULT_CONFIGS = ["8k", "8k-line", "16k-websocket", "16k-externalmedia"]


@dataclass(frozen=True)
class Question:
    text: str
    voice: str
    speed: int
    wide: bytes  # 16 kHz


def questions(n: int) -> list[Question]:
    """`n` questions: every question in one voice, then all again in the next voice, and so on."""
    out = []
    for i in range(n):
        voice, speed = VOICES[(i // len(QUESTIONS)) % len(VOICES)]
        text = QUESTIONS[i % len(QUESTIONS)]
        out.append(Question(text, voice, speed, wa.render(text, voice, speed)))
    return out


def rig_overrides(config: Config, url: str) -> dict:
    """running_rig keyword overrides for `config` against the local-ai-server at `url`."""
    overrides = {k: v for k, v in config.overrides.items() if k != "local"}
    overrides["providers"] = {"local": {"url": url, "health_url": None, **config.overrides.get("local", {})}}
    return overrides


class TranscriptLog(logging.Handler):
    """The engine's `caller.transcript` log events, each with its arrival time (monotonic clock)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.items: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        event = record.msg if isinstance(record.msg, dict) else None
        if event and event.get("event") == "caller.transcript":
            self.items.append((time.monotonic(), str(event.get("text", ""))))

    def between(self, t0: float, t1: float) -> str | None:
        texts = [text for t, text in self.items if t0 <= t < t1]
        return " ".join(texts) if texts else None

    @classmethod
    def install(cls) -> TranscriptLog:
        handler = cls()
        logger = logging.getLogger("ai_engine.calls.conversation")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(handler)
        return handler


def leg_rates(emu) -> dict:
    """Rates of the call's capture and agent-audio (`-playback`) legs as the emulated Asterisk runs
    them; for RTP, agent audio is what the engine sends back (G.722: 16 kHz, PT 0/10/11: 8 kHz), not what
    Asterisk sends."""
    legs = [(ch.id, ch.leg.rate) for ch in emu.channels.values() if getattr(ch, "leg", None) is not None]
    legs += [(leg.channel.id, leg.rate) for leg in emu.websocket_legs]
    for leg in emu.rtp_legs:
        played = [p["pt"] for p in leg.packets("out") if p.get("played")]
        back = RTP_RATE_BY_PT.get(played[-1], leg.rate) if played else leg.rate
        legs.append((leg.channel.id, back if leg.channel.id.endswith("-playback") else leg.rate))
    rates: dict = {}
    for cid, rate in legs:  # the transport's own list last: it knows what the RTP leg plays
        rates["playback" if cid.endswith("-playback") else "capture"] = rate
    return rates


async def engine_run(url: str, config: Config, qs: list[Question], transcripts: TranscriptLog,
                     snr_db: float) -> dict:
    transcripts.items.clear()
    clips = [wa.line_audio(q.wide, config.line, snr_db, seed=i) for i, q in enumerate(qs)]
    turns: list[dict] = []
    async with voice_rig(url, "stream", greeting="Hello, how can I help you?", **rig_overrides(config, url)) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        try:
            await call.wait_answered(20)
            await wait_heard(call, call.t_answered, 30)
            rates = leg_rates(rig.emu)
            await wait_quiet(call)
            await call.say(clips[-1])  # a warm-up turn, not counted (the first turn of a process is slow)
            await wait_heard(call, anyio.current_time())
            await wait_quiet(call)
            for q, clip in zip(qs, clips):
                t_start = anyio.current_time()
                await call.say(clip)
                t_end = anyio.current_time()
                t_heard = await wait_heard(call, t_end)
                await wait_quiet(call)
                turns.append({"question": q.text, "voice": q.voice, "t": (t_start, anyio.current_time()),
                              "voice_to_voice_ms": None if t_heard is None else round((t_heard - t_end) * 1000)})
        finally:
            await call.hangup()
    for turn in turns:
        turn["transcript"] = transcripts.between(*turn.pop("t"))
    pairs = [(t["question"], t["transcript"]) for t in turns]
    return {
        "what": config.what,
        "line": config.line,
        "capture_rate": config.capture_rate,
        "provider_rate": config.overrides["local"]["input_rate"],
        "leg_rates": rates,
        "caller_hears_rate": CALLER_HEARS_RATE,
        "voice_to_voice_ms": stats([t["voice_to_voice_ms"] for t in turns]),
        "word_accuracy": wa.word_accuracy(pairs),
        "answered": sum(t["voice_to_voice_ms"] is not None for t in turns),
        "turns": turns,
    }


async def _microphone(client: RealtimeClient, rate: int, queue: list[bytes], said: list[float]) -> None:
    """20 ms frames in real time: the queued speech, silence otherwise; `said` gets each clip's end."""
    frame = rate // 50 * 2
    start = time.monotonic()
    n = 0
    while True:
        n += 1
        await anyio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
        chunk = queue[0][:frame] if queue else bytes(frame)
        if queue:
            queue[0] = queue[0][frame:]
            if not queue[0]:
                queue.pop(0)
                said.append(time.monotonic())
        await client.send_raw(append_message(chunk.ljust(frame, b"\0")))


async def server_run(url: str, line: str, qs: list[Question], snr_db: float) -> dict:
    """The questions as `line` delivers them, straight to local-ai-server at that line's rate."""
    rate = wa.LINE_RATE[line]
    turns: list[dict] = []
    async with RealtimeClient.connect(url) as client:
        await client.wait_for("session.created")
        await client.update_session(rate=rate, instructions=INSTRUCTIONS, silence_duration_ms=500)
        queue: list[bytes] = []
        said: list[float] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(_microphone, client, rate, queue, said)
            await anyio.sleep(0.5)
            for i, q in [(None, qs[-1])] + list(enumerate(qs)):  # a warm-up turn first, not counted
                mark = len(client.events)
                queue.append(wa.line_audio(q.wide, line, snr_db, seed=len(qs) if i is None else i))
                try:
                    await client.wait_for("response.done", after=mark, timeout=30)
                    metrics = await client.wait_for("x_local.turn.metrics", after=mark, timeout=5)
                except TimeoutError:
                    metrics = {}
                texts = [e["transcript"] for e in client.all(TRANSCRIBED, mark)]
                first = client.find("response.output_audio.delta", mark)
                if i is not None:
                    heard = round((first["_t"] - said[-1]) * 1000) if first and said else None
                    turns.append({"question": q.text, "voice": q.voice, "transcript": " ".join(texts) if texts else None,
                                  "client_first_audio_ms": heard, **{k: metrics.get(k) for k in SERVER_STAGES}})
                await anyio.sleep(0.6)
            tg.cancel_scope.cancel()
    pairs = [(t["question"], t["transcript"]) for t in turns]
    return {
        "rate": rate,
        "word_accuracy": wa.word_accuracy(pairs),
        **{k: stats([t[k] for t in turns]) for k in (*SERVER_STAGES, "client_first_audio_ms")},
        "turns": turns,
    }


def _ms(s: dict) -> str:
    return "-" if s["p50"] is None else f"{s['p50']:.0f} / {s['p95']:.0f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def table(results: dict) -> str:
    def nums(values) -> str:
        return " ".join(map(str, values or []))

    out = [f"load average at the start {nums(results.get('loadavg_start'))}, at the end {nums(results.get('loadavg'))}; "
           f"calibration {results.get('calibration_ms', '-')} ms",
           "through the engine (emulator -> engine -> local-ai-server -> caller), stream mode:",
           f"{'config':<18} {'capture':<46} {'in Hz':>6} {'agent Hz':>8} {'v2v p50 / p95 ms':>17} {'n':>3} "
           f"{'STT acc':>8}"]
    for name, r in results.get("engine", {}).items():
        legs = r["leg_rates"]
        out.append(f"{name:<18} {r['what']:<46} {legs.get('capture') or r['capture_rate']:>6} "
                   f"{legs.get('playback') or 8000:>8} {_ms(r['voice_to_voice_ms']):>17} "
                   f"{r['voice_to_voice_ms']['n']:>3} {_pct(r['word_accuracy']):>8}")
    if results.get("server"):
        out.append("straight to local-ai-server, the same questions as each line delivers them:")
        out.append(f"{'line':<18} {'rate':>6} {'STT acc':>8} {'transcript p50 / p95':>21} {'first audio p50 / p95':>22}")
        for line, r in results["server"].items():
            out.append(f"{line:<18} {r['rate']:>6} {_pct(r['word_accuracy']):>8} {_ms(r['transcript_ms']):>21} "
                       f"{_ms(r['first_audio_ms']):>22}")
    return "\n".join(out)


async def run(turns: int, configs: list[str], lines: list[str], snr_db: float) -> dict:
    TurnLog.install()  # quiet logging setup, as bench/latency
    transcripts = TranscriptLog.install()
    qs = await anyio.to_thread.run_sync(questions, turns)  # espeak-ng is synchronous
    results: dict = {"turns": turns, "snr_db": snr_db, "loadavg_start": load_average(), "engine": {}, "server": {}}
    async with local_ai_server() as url:
        for name in configs:
            results["engine"][name] = await engine_run(url, CONFIGS[name], qs, transcripts, snr_db)
            print(f"[wideband] {name}: {_ms(results['engine'][name]['voice_to_voice_ms'])} ms, "
                  f"STT {_pct(results['engine'][name]['word_accuracy'])}", flush=True)
        for line in lines:
            results["server"][line] = await server_run(url, line, qs, snr_db)
            print(f"[wideband] server {line}: STT {_pct(results['server'][line]['word_accuracy'])}", flush=True)
    return results


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench wideband")
    p.add_argument("--turns", type=int, default=24, help="questions per configuration")
    p.add_argument("--configs", type=lambda v: [x for x in v.split(",") if x], default=DEFAULT_CONFIGS,
                   help=f"through the engine, comma-separated, of {','.join(CONFIGS)} (empty: none)")
    p.add_argument("--lines", type=lambda v: [x for x in v.split(",") if x], default=list(wa.LINES),
                   help="straight-to-server runs, comma-separated (empty: none)")
    p.add_argument("--snr-db", type=float, default=30.0, help="noise of the `line` audio, dB below the speech")
    args = p.parse_args(argv)
    unknown = [c for c in args.configs if c not in CONFIGS] + [x for x in args.lines if x not in wa.LINES]
    if unknown:
        p.error(f"unknown: {', '.join(unknown)}")
    results = anyio.run(run, args.turns, args.configs, args.lines, args.snr_db)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "wideband.json").write_text(json.dumps(calibrated(results), indent=2))
    print(table(json.loads((RESULTS / "wideband.json").read_text())))  # with calibration_ms and the load at the end
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
