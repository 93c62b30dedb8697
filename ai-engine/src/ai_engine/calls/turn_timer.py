"""Per-turn latency: end of caller speech → first agent audio, with its stages (docs/architecture.md §6).

The turn starts when the caller went quiet (the engine's own VAD; the provider's speech_stopped
comes a silence threshold later and is itself a stage). Stages, in seconds from there:
speech_stopped (provider noticed), transcript, response (response.created), first_audio_in
(first agent audio received by the engine), total (first agent audio out: PlaybackStarted in
file mode, first frame sent in stream mode). Exported as Prometheus histograms and one log line
per turn.

When the provider reports its own stages (local-ai-server's `x_local.turn.metrics`, which comes
after its audio), the turn's breakdown follows as a second line, `turn.breakdown`, and the same
histogram: end_of_turn_wait (end of speech to the provider's speech_stopped), stt, llm_first_token,
first_sentence_tts (first text piece to its audio) and engine_transport (the provider's first
audio to the caller's first audio out: the engine, the transport and playback). With speculative
work the STT and the LLM overlap the end-of-turn wait, so the stages need not add up to the total.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from ..observability import metrics
from ..observability.logs import get_logger

log = get_logger(__name__)


class TurnTimer:
    """One per call. Each turn is labelled with the mode that carried its first agent audio
    (`first_audio_out(mode)`): a stream call that fell back to files reports "file" turns."""

    def __init__(self, on_turn: Callable[[dict[str, float]], None] | None = None, call_id: str | None = None) -> None:
        self._on_turn = on_turn  # each finished turn's stages in ms (the call record)
        # Bound here: in stream mode the turn ends in a media-clock tick, outside the call's task,
        # where the call's contextvar binding does not reach (the turn's log line lost its call_id).
        self._log = log.bind(call_id=call_id) if call_id is not None else log
        self.mode: str | None = None  # of the latest turn
        self._t0: float | None = None
        self._stages: dict[str, float] = {}
        self._server: dict[str, float] = {}
        self.turns: list[dict[str, float]] = []
        self._quiet_at: float | None = None

    def caller_quiet(self, ago_s: float = 0.0) -> None:
        """The engine's VAD saw the caller stop speaking `ago_s` seconds ago."""
        self._quiet_at = anyio.current_time() - ago_s

    def speech_stopped(self) -> None:
        now = anyio.current_time()
        quiet = self._quiet_at
        # Use the engine's own end of speech when it belongs to this turn (within 3 s).
        self._t0 = quiet if quiet is not None and 0 <= now - quiet < 3.0 else now
        self._quiet_at = None
        self._stages = {}
        self._server = {}
        self._mark("speech_stopped")

    def _mark(self, stage: str) -> None:
        if self._t0 is not None and stage not in self._stages:
            self._stages[stage] = anyio.current_time() - self._t0

    def transcript(self) -> None:
        self._mark("transcript")

    def response_started(self) -> None:
        self._mark("response")

    def first_audio_in(self) -> None:
        self._mark("first_audio_in")

    def server_metrics(self, values: dict[str, float]) -> None:
        """The provider's own stage timings of its last turn (they come after its audio)."""
        self._server = values
        self._log.info("provider.turn_metrics", **{k: v for k, v in values.items() if k.endswith("_ms")})
        breakdown = self.breakdown(values)
        if breakdown:
            for stage, ms in breakdown.items():
                metrics.TURN_LATENCY_SECONDS.labels(stage, self.mode or "unknown").observe(max(0.0, ms) / 1000)
            self._log.info("turn.breakdown", mode=self.mode, **{f"{k}_ms": v for k, v in breakdown.items()})

    def breakdown(self, server: dict[str, float]) -> dict[str, float]:
        """The last turn's stages (ms) from the provider's timings and this engine's total."""
        def get(name: str) -> float | None:
            value = server.get(name)
            return float(value) if isinstance(value, int | float) else None

        stages = {
            "end_of_turn_wait": get("speech_stopped_ms"),
            "stt": get("stt_ms"),
            "llm_first_token": get("llm_first_token_ms"),
            "first_sentence_tts": get("first_sentence_tts_ms"),
        }
        total = self.turns[-1].get("total") if self.turns else None
        first_audio = get("first_audio_ms")
        if total is not None and first_audio is not None:
            stages["engine_transport"] = round(total - first_audio, 1)
        return {k: v for k, v in stages.items() if v is not None}

    def first_audio_out(self, mode: str) -> None:
        if self._t0 is None:
            return
        self.mode = mode
        self._mark("total")
        for stage, seconds in self._stages.items():
            metrics.TURN_LATENCY_SECONDS.labels(stage, mode).observe(seconds)
        turn = {k: round(v * 1000, 1) for k, v in self._stages.items()}
        self.turns.append(turn)
        if self._on_turn is not None:
            self._on_turn(turn)
        self._log.info("turn.latency", mode=mode, **{f"{k}_ms": v for k, v in turn.items()}, server=self._server or None)
        self._t0 = None
