"""Turn taking: does the agent start answering before the caller finished? (issue 15, item 1)

Callers pause mid-sentence: at commas, around "um", between list items, between the groups of a
number they read out. Each utterance of bench/data/turn_taking.json (44 of them) is spoken at
8 kHz (espeak-ng, or with `--caller piper` the bundled Piper voice: bench/caller_voices.py; each
part on its own, so its tone falls at every pause, which the end-of-turn path does not read) with
its pauses as silence, resampled like the server does, and run through the
server's own end-of-turn path, frame by frame in audio time:

- the endpointer (`speech.vad.Endpointer`, the server's VAD settings) emits Paused after
  `speculative_after_ms` of silence; the speculative transcript is made there by the real bundled
  Whisper model, and its measured wall time is how long the pause runs on before the transcript is
  in (as in the server, where the STT runs while the caller is silent); the pause is held
  (the larger of `unfinished_hold_ms` and `unclear_hold_ms` more silence at most) until then, as
  the server's listener does;
- the transcript sets the silence that ends the pause (`speech.unfinished.pause_silence_ms`, as in
  the listener): silence + `unfinished_hold_ms` when it sounds unfinished, `finished_silence_ms`
  when it is a whole question or the semantic check (the real bundled SmolLM2,
  `models/turn_end.py`, asked where `may_end_here`; its wall time added to the STT's) reaches
  `end_of_turn_probability`, silence + `statement_hold_ms` after a whole statement, else
  silence + `unclear_hold_ms`; voiced audio (the caller goes on)
  forgets it;
- a SpeechStopped is where the agent starts answering (the speculative answer's gate opens).

An utterance counts as cut off when a SpeechStopped fires before the caller's last word ended. The
end-of-turn wait (last voiced frame of the utterance -> the stop that answers it) is the latency
the setting costs. Deterministic except the STT wall time (noisy when the machine is loaded, so
the load average is recorded; `--stt-ms` replaces it with a fixed time, e.g. the quiet-machine
figure, so that a loaded machine does not make every transcript late).

  python -m bench turn_taking [--silence 300,400,500] [--hold 0,600] [--unclear 0,600] [--statement unclear,100]
                              [--finished 0,300] [--speculative 120,200] [--stt-ms 125]
                              [--end-probability 0,0.3] [--check-ms 30] [--caller espeak|piper]
Prints a table and writes bench/results/turn_taking.json. Goal: <= 5 % cut off.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from local_ai_server.config import Settings
from local_ai_server.speech.audio import PROCESSING_RATE, resample
from local_ai_server.speech.unfinished import PauseSilences, may_end_here, pause_silence_ms
from local_ai_server.speech.vad import Endpointer, Paused, Resumed, SpeechStopped, VadParams

from bench.calibration import calibrated
from bench.caller_voices import CALLERS, clip
from bench.local_ai_server import percentile

DATA = Path(__file__).resolve().parent / "data" / "turn_taking.json"
RESULTS = Path(__file__).resolve().parent / "results"
RATE = 8000
FRAME = PROCESSING_RATE * 20 // 1000
LEAD_S, TAIL_S = 0.3, 2.5


def utterance_audio(parts: list, caller: str, i: int) -> tuple[np.ndarray, int]:
    """16 kHz int16 audio of the utterance (the i-th voice of `caller`, bench/caller_voices.py) and
    the time (ms) at which its last word ends."""
    pieces = [np.zeros(int(LEAD_S * RATE), dtype=np.int16)]
    for part in parts:
        if isinstance(part, str):
            pieces.append(np.frombuffer(clip(caller, part, i)[0], dtype="<i2").astype(np.int16))
        else:
            pieces.append(np.zeros(int(part * RATE), dtype=np.int16))
    speech_end_ms = round(sum(p.size for p in pieces) * 1000 / RATE)
    pieces.append(np.zeros(int(TAIL_S * RATE), dtype=np.int16))
    return resample(np.concatenate(pieces), RATE, PROCESSING_RATE).astype(np.int16), speech_end_ms


class TimedOnce:
    """Each key's result computed once, with the wall time it took (or `fixed_ms`, the time to
    model instead of the measured one): the same answer and time for every setting that reaches it."""

    def __init__(self, fixed_ms: float | None = None) -> None:
        self._cache: dict = {}
        self._fixed_ms = fixed_ms

    def get(self, key, compute, *args) -> tuple:
        if key not in self._cache:
            start = time.perf_counter()
            result = compute(*args)
            self._cache[key] = (result, (time.perf_counter() - start) * 1000)
        result, ms = self._cache[key]
        return result, ms if self._fixed_ms is None else self._fixed_ms


class CachedStt:
    """The bundled Whisper model; each distinct audio prefix is transcribed once."""

    def __init__(self, settings: Settings, fixed_ms: float | None = None) -> None:
        from local_ai_server.models.bundled import BUNDLED_STT
        from local_ai_server.models.stt import WhisperSTT

        self._model = WhisperSTT(settings.stt.model_path or BUNDLED_STT.path(), settings.stt)
        self._once = TimedOnce(fixed_ms)

    def __call__(self, key: int, audio: np.ndarray) -> tuple[str, float]:
        return self._once.get((key, audio.size), self._model.transcribe, audio)


class CachedTurnEnd:
    """The semantic end-of-turn check (the real bundled model); each transcript is scored once."""

    def __init__(self, fixed_ms: float | None = None) -> None:
        from local_ai_server.models.bundled import BUNDLED_LLM
        from local_ai_server.models.turn_end import TurnEndModel

        self._model = TurnEndModel(BUNDLED_LLM.path())
        self._once = TimedOnce(fixed_ms)

    def __call__(self, text: str) -> tuple[float, float]:
        return self._once.get(text, self._model.probability, text)


def run_one(key: int, audio: np.ndarray, speech_end_ms: int, params: VadParams, hold_ms: int, stt,
            finished_ms: int = 0, unclear_ms: int = 0, turn_end=None, end_probability: float = 0.0,
            statement_ms: int | None = None) -> dict:
    silences = PauseSilences(params.silence_duration_ms, finished_ms, hold_ms, unclear_ms, statement_ms)
    endpointer = Endpointer(params)
    pending: tuple[int, str, bool] | None = None  # (frame at which the words are in, transcript, likely end)
    stops, holds, heard = [], [], []
    for i in range(0, audio.size - FRAME + 1, FRAME):
        frame_no = i // FRAME
        if pending is not None and frame_no >= pending[0]:
            target = pause_silence_ms(pending[1], silences, pending[2])
            if target > params.silence_duration_ms:
                holds.append(pending[1])
            stopped = endpointer.release(target)  # the turn ends now if the silence already ran that long
            if stopped is not None:
                stops.append({"at_ms": endpointer.now_ms, "end_ms": stopped.end_ms})
            pending = None
        for event in endpointer.feed(audio[i : i + FRAME]):
            if isinstance(event, Paused) and (hold_ms or unclear_ms or finished_ms) and stt is not None:
                text, stt_ms = stt(key, event.audio)
                likely_end, check_ms, probability = False, 0.0, None
                if turn_end is not None and end_probability and finished_ms and may_end_here(text):
                    probability, check_ms = turn_end(text)
                    likely_end = probability >= end_probability
                heard.append({"at_ms": endpointer.now_ms, "text": text, "stt_ms": round(stt_ms),
                              "end_probability": probability})
                if hold_ms or unclear_ms:
                    endpointer.hold(max(hold_ms, unclear_ms))  # until the transcript is in
                pending = (frame_no + 1 + math.ceil((stt_ms + check_ms) / 20), text, likely_end)
            elif isinstance(event, Resumed):
                pending = None
            elif isinstance(event, SpeechStopped):
                stops.append({"at_ms": endpointer.now_ms, "end_ms": event.end_ms})
                pending = None
    early = [s for s in stops if s["at_ms"] < speech_end_ms - 40]  # fired while words were still to come
    final = [s for s in stops if s["at_ms"] >= speech_end_ms - 40]
    return {
        "cut_off": bool(early),
        "early_stops": len(early),
        "answered": bool(final),
        "end_of_turn_wait_ms": final[0]["at_ms"] - final[0]["end_ms"] if final else None,
        "holds": holds,
        "speculative_transcripts": heard,
    }


def run(silences: list[int], holds: list[int], settings: Settings, finished: list[int] | None = None,
        speculative_after: list[int] | None = None, stt_ms: float | None = None,
        unclear: list[int] | None = None, end_probabilities: list[float] | None = None,
        check_ms: float | None = None, caller: str = "espeak", statement: list | None = None) -> dict:
    data = json.loads(DATA.read_text())["utterances"]
    clips = [utterance_audio(u["parts"], caller, i) for i, u in enumerate(data)]
    finished = finished if finished is not None else [settings.vad.finished_silence_ms]
    unclear = unclear if unclear is not None else [settings.vad.unclear_hold_ms]
    statement = statement if statement is not None else [settings.vad.statement_hold_ms]
    stt = CachedStt(settings, stt_ms) if any(holds) or any(finished) or any(unclear) else None
    end_probabilities = end_probabilities if end_probabilities is not None else [settings.vad.end_of_turn_probability]
    turn_end = CachedTurnEnd(check_ms) if stt is not None and any(end_probabilities) else None
    vad = settings.vad
    speculative_after = speculative_after or [vad.speculative_after_ms]
    results = []
    for speculative, silence, hold, early, other, end_p, whole in (
            (p, s, h, f, u, e, w) for p in speculative_after for s in silences for h in holds for f in finished
            for u in unclear for e in end_probabilities for w in statement):
        params = VadParams(aggressiveness=vad.aggressiveness, energy_floor_dbfs=vad.energy_floor_dbfs,
                           silence_duration_ms=silence, prefix_padding_ms=vad.prefix_padding_ms,
                           start_speech_ms=vad.start_speech_ms, start_window_ms=vad.start_window_ms,
                           max_turn_ms=vad.max_turn_ms, speculative_after_ms=speculative)
        turns = [dict(run_one(k, audio, end, params, hold, stt, early, other, turn_end, end_p, whole),
                      kind=data[k]["kind"])
                 for k, (audio, end) in enumerate(clips)]
        waits = [t["end_of_turn_wait_ms"] for t in turns]
        kinds = sorted({t["kind"] for t in turns})
        results.append({
            "silence_duration_ms": silence,
            "unfinished_hold_ms": hold,
            "finished_silence_ms": early,
            "unclear_hold_ms": other,
            "statement_hold_ms": whole,
            "speculative_after_ms": speculative,
            "end_of_turn_probability": end_p,
            "utterances": len(turns),
            "cut_off": sum(t["cut_off"] for t in turns),
            "cut_off_share": sum(t["cut_off"] for t in turns) / len(turns),
            "cut_off_by_kind": {k: f"{sum(t['cut_off'] for t in turns if t['kind'] == k)}/"
                                   f"{sum(t['kind'] == k for t in turns)}" for k in kinds},
            "end_of_turn_wait_ms": {"p50": percentile(waits, 0.5), "p95": percentile(waits, 0.95)},
            "turns": turns,
        })
    return {"loadavg": Path("/proc/loadavg").read_text().split()[:3], "caller": caller, "stt_ms_modelled": stt_ms,
            "configs": results}


def print_table(report: dict) -> None:
    print(f"load average {' '.join(report['loadavg'])}; caller voice {report.get('caller', 'espeak')}")
    print(f"{'spec. ms':>8} {'silence ms':>10} {'hold ms':>8} {'unclear':>8} {'stmt.':>6} {'fin. ms':>8} {'end p':>6} {'cut off':>9} {'share':>7} {'eot wait p50':>13} {'p95':>6}  by kind")
    for r in report["configs"]:
        w = r["end_of_turn_wait_ms"]
        kinds = " ".join(f"{k} {v}" for k, v in r["cut_off_by_kind"].items())
        print(f"{r['speculative_after_ms']:>8} {r['silence_duration_ms']:>10} {r['unfinished_hold_ms']:>8} {r['unclear_hold_ms']:>8}"
              f" {'=' if r.get('statement_hold_ms') is None else r['statement_hold_ms']:>6}"
              f" {r['finished_silence_ms']:>8} {r['end_of_turn_probability'] or 'off':>6}"
              f" {r['cut_off']:>4}/{r['utterances']:<4}"
              f" {r['cut_off_share']:>6.1%} {w['p50'] or 0:>13.0f} {w['p95'] or 0:>6.0f}  {kinds}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench turn_taking")
    ints = lambda v: [int(x) for x in v.split(",")]  # noqa: E731
    p.add_argument("--silence", type=ints, default=[300, 400, 500], help="end-of-turn silences (ms) to try")
    p.add_argument("--hold", type=ints, default=None, help="unfinished holds (ms); default 0, 600 and the setting")
    p.add_argument("--finished", type=ints, default=None,
                   help="end-of-turn silences (ms) after a clearly finished transcript; default the setting")
    p.add_argument("--speculative", type=ints, default=None, help="speculative_after_ms values; default the setting")
    p.add_argument("--unclear", type=ints, default=None,
                   help="holds (ms) when the transcript is neither unfinished nor finished; default the setting")
    p.add_argument("--statement", type=lambda v: [None if x in ("", "unclear") else int(x) for x in v.split(",")],
                   default=None, help="holds (ms) after a whole statement ('unclear' = the unclear hold); "
                                      "default the setting")
    p.add_argument("--stt-ms", type=float, default=None, help="model each transcription as taking this long "
                                                              "(default: its measured wall time)")
    p.add_argument("--end-probability", type=lambda v: [float(x) for x in v.split(",")], default=None,
                   help="semantic end-of-turn thresholds (0 = off); default the setting")
    p.add_argument("--check-ms", type=float, default=None, help="model each semantic check as taking this long "
                                                                "(default: its measured wall time)")
    p.add_argument("--caller", choices=CALLERS, default="espeak",
                   help="who speaks the utterances (bench/caller_voices.py): espeak-ng, or the bundled Piper voice")
    args = p.parse_args(argv)
    settings = Settings()
    holds = args.hold if args.hold is not None else sorted({0, 600, settings.vad.unfinished_hold_ms})
    report = run(args.silence, holds, settings, args.finished, args.speculative, args.stt_ms, args.unclear,
                 args.end_probability, args.check_ms, args.caller, args.statement)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "turn_taking.json").write_text(json.dumps(calibrated(report), indent=2))
    print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
