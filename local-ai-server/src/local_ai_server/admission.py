"""Admission control: an overloaded server degrades politely, never silently.

Every response works towards its first audio (its first tokens, its first sentence's TTS; the
turn's STT is done by then); `FirstAudioWork` counts the CPU seconds its jobs took on the way
(runtime.py adds each job's time) and is `reached` when the first sentence is synthesised. The
estimated wait for a response's first audio is the first-audio work still left to every response
on its way there (the CPU queue serves that work first, cpu.py), shared by the `cpu_jobs` places:

    own_left   = max(0, cost - own.cpu_s)
    others     = sum over the other responses on their way of max(0, cost - their cpu_s)
    wait       = max(own_left, (own_left + others) / cpu_jobs)

where `cost` is the first-audio work of one response: `admission.first_audio_cost_ms` at start,
then a moving average of what the responses served really took.

Two bounds (config.py, `admission`):
- a turn whose first audio is predicted later than `filler_after_ms` after the caller's end of
  speech (time already spent + the wait) starts with a short filler ("One moment, please."),
  synthesised once at start-up by the server's own TTS and kept per wire format, so under load it
  costs no CPU job. A prediction can be low (callers who ask after it was made are served in turn
  with it, cpu.py): an answer whose first piece is still not being synthesised when the bound
  comes gets the filler then. Counted in `local_ai_turn_fillers_total{why="predicted"|"bound"}`
  and logged (`admission.filler`).
- while a new session's first turn would wait longer than `refuse_sessions_after_ms`, new
  sessions are refused (HTTP 503, code `overloaded`; the engine plays its hold prompt and
  retries, then its failure context), counted in `local_ai_sessions_refused_total`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import anyio
import numpy as np
import structlog
from realtime_protocol import AudioFormat

from . import metrics
from .config import AdmissionSettings
from .speech.audio import encode, resample

log = structlog.get_logger("local_ai_server.admission")

LEARN_RATE = 0.2  # weight of the newest response in the moving average of the first-audio cost


@dataclass(eq=False)
class FirstAudioWork:
    """One response on its way to its first audio: CPU seconds spent so far, whether it got there,
    and the gate of a speculative one (set when its turn ends)."""

    cpu_s: float = 0.0
    reached: bool = False
    gate: anyio.Event | None = None

    @property
    def ahead(self) -> bool:
        """Made ahead of its turn's end: no caller waits for it yet."""
        return self.gate is not None and not self.gate.is_set()


# The response whose jobs run in this task (set by the response for its own tasks).
WORK: ContextVar[FirstAudioWork | None] = ContextVar("local_ai_first_audio_work", default=None)


class Admission:
    def __init__(self, settings: AdmissionSettings, cpu_jobs: int) -> None:
        self.settings = settings
        self.cpu_jobs = max(1, cpu_jobs)
        self.cost_s = settings.first_audio_cost_ms / 1000
        self._pending: set[FirstAudioWork] = set()
        self._filler: tuple[np.ndarray, int] | None = None  # samples and their rate
        self._filler_wire: dict[AudioFormat, bytes] = {}

    # --- the work on its way to first audio ----------------------------------------------------

    def begin(self, gate: anyio.Event | None = None) -> FirstAudioWork:
        work = FirstAudioWork(gate=gate)
        self._pending.add(work)
        return work

    def reached(self, work: FirstAudioWork) -> None:
        """The response's first sentence is synthesised: learn what it took."""
        if work.reached:
            return
        work.reached = True
        self._pending.discard(work)
        self.cost_s += LEARN_RATE * (work.cpu_s - self.cost_s)

    def end(self, work: FirstAudioWork) -> None:
        """The response ended (before its first audio, or after): it waits for nothing any more."""
        self._pending.discard(work)

    @property
    def on_the_way(self) -> int:
        return len(self._pending)

    def estimated_wait_s(self, own: FirstAudioWork | None = None) -> float:
        """Seconds until `own`'s first audio (a new response's, with None), from now. An answer
        whose caller waits does not wait for those made ahead of their turn's end (cpu.py AHEAD)."""
        if own is not None and own.reached:
            return 0.0
        own_left = self.cost_s if own is None else max(0.0, self.cost_s - own.cpu_s)
        own_ahead = own is not None and own.ahead
        others = sum(max(0.0, self.cost_s - w.cpu_s) for w in self._pending
                     if w is not own and (own_ahead or not w.ahead))
        return max(own_left, (own_left + others) / self.cpu_jobs)

    # --- the two bounds ------------------------------------------------------------------------

    def filler_bound_s(self) -> float | None:
        """`filler_after_ms` in seconds; None when the filler is off (or not synthesised)."""
        bound_ms = self.settings.filler_after_ms
        return bound_ms / 1000 if bound_ms and self._filler is not None else None

    def filler_due(self, elapsed_s: float, own: FirstAudioWork | None) -> float | None:
        """The predicted first audio (s after the end of speech) when it is past the filler bound, else None."""
        bound_s = self.filler_bound_s()
        if bound_s is None:
            return None
        predicted = elapsed_s + self.estimated_wait_s(own)
        return predicted if predicted > bound_s else None

    def refuses_sessions(self) -> bool:
        bound_ms = self.settings.refuse_sessions_after_ms
        return bool(bound_ms) and self.estimated_wait_s() * 1000 > bound_ms

    def refused(self, reason: str) -> None:
        metrics.SESSIONS_REFUSED.labels(reason).inc()
        log.warning("admission.session_refused", reason=reason, on_the_way=self.on_the_way,
                    estimated_wait_ms=round(self.estimated_wait_s() * 1000))

    # --- the filler ----------------------------------------------------------------------------

    @property
    def filler_text(self) -> str:
        return self.settings.filler_text

    def keep_filler(self, samples: np.ndarray, rate: int) -> None:
        """The filler as the TTS spoke it (at start-up)."""
        self._filler = (samples, rate)
        self._filler_wire.clear()

    def filler_audio(self, fmt: AudioFormat) -> bytes:
        """The filler in wire format `fmt` (converted once per format; tens of microseconds)."""
        if self._filler is None:
            return b""
        if fmt not in self._filler_wire:
            samples, rate = self._filler
            self._filler_wire[fmt] = encode(resample(samples, rate, fmt.rate), fmt)
        return self._filler_wire[fmt]
