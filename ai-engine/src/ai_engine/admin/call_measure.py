"""What a test call heard, measured: sans-IO, PCM in, figures out (no clock, no sockets).

The caller's ears are one 8 kHz s16le stream that starts when the call was answered. Speech is a
20 ms frame louder than `LOUD_DBFS`; a greeting or a reply is a run of speech that ends after
`GAP_MS` of quiet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 8000
FRAME = RATE // 50  # samples per 20 ms
LOUD_DBFS = -40.0
GAP_MS = 600


def speech_regions(pcm: bytes, loud_dbfs: float = LOUD_DBFS, gap_ms: int = GAP_MS) -> list[tuple[float, float]]:
    """[(start_s, end_s)] of speech in `pcm`, quiet gaps shorter than `gap_ms` bridged."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    n = samples.size // FRAME
    if n == 0:
        return []
    frames = samples[: n * FRAME].reshape(n, FRAME)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = rms > 32768.0 * 10 ** (loud_dbfs / 20)
    regions: list[tuple[float, float]] = []
    gap_frames = gap_ms // 20
    start = last = None
    for i in np.flatnonzero(loud):
        if start is None:
            start = last = i
        elif i - last > gap_frames:
            regions.append((start * 0.02, (last + 1) * 0.02))
            start = i
        last = i
    if start is not None:
        regions.append((start * 0.02, (last + 1) * 0.02))
    return regions


@dataclass(frozen=True, slots=True)
class CallFigures:
    greeting_latency_s: float | None  # answer -> first agent audio heard
    greeting_end_s: float | None  # when the greeting stopped (from answer)
    voice_to_voice_s: float | None  # end of what the caller said -> first agent audio after it
    reply_s: tuple[float, float] | None  # the reply's (start, end) from answer
    spoke_over_greeting: bool  # the caller started while the greeting still played


def measure(heard: bytes, said_start_s: float, said_end_s: float) -> CallFigures:
    """Figures of a call whose caller said something from `said_start_s` to `said_end_s` (seconds
    after answer) and heard `heard` (from answer on)."""
    regions = speech_regions(heard)
    before = [r for r in regions if r[0] < said_start_s]
    after = [r for r in regions if r[0] >= said_end_s]
    greeting_latency = before[0][0] if before else None
    greeting_end = before[-1][1] if before else None
    reply = (after[0][0], after[-1][1]) if after else None
    return CallFigures(
        greeting_latency_s=greeting_latency,
        greeting_end_s=greeting_end,
        voice_to_voice_s=(reply[0] - said_end_s) if reply else None,
        reply_s=reply,
        spoke_over_greeting=bool(greeting_end is not None and greeting_end > said_start_s),
    )


def reply_audio(heard: bytes, figures: CallFigures) -> bytes:
    """The reply's samples (for a transcript)."""
    if figures.reply_s is None:
        return b""
    start, end = (int(t * RATE) * 2 for t in figures.reply_s)
    return heard[start:end]
