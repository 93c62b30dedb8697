"""The wideband bench's audio and scoring, pure functions: the same spoken question rendered once
at 16 kHz and turned into what each kind of line delivers, and the word error rate of a transcript.

- `wideband`: espeak-ng at 16 kHz (what a wideband caller, e.g. G.722 or a 16 kHz softphone, sends).
- `telephone`: the same samples band-limited to the telephone band (300-3400 Hz, ITU-T G.712's
  pass band) and downsampled to 8 kHz with soxr (voice_common.resample, anti-aliased).
- `line`: `telephone` plus what a real phone line adds: mild white noise (`snr_db` below the
  speech level) and a G.711 mu-law round trip (voice_common.pcm's codec).

The noise is seeded, so every run sends byte-identical audio.
"""

from __future__ import annotations

import re

import numpy as np
from local_ai_server.client import espeak
from voice_common.pcm import pcm_to_ulaw, to_bytes, to_samples, ulaw_to_pcm
from voice_common.resample import resample

WIDE_RATE = 16000
NARROW_RATE = 8000
BAND_HZ = (300.0, 3400.0)  # G.712 telephone pass band
EDGE_HZ = 100.0            # raised-cosine roll-off width at each band edge
SPEECH_LEVEL = 300         # a sample louder than this is speech (for trimming), as bench/local_ai_server
LINES = ("wideband", "telephone", "line")
LINE_RATE = {"wideband": WIDE_RATE, "telephone": NARROW_RATE, "line": NARROW_RATE}


def render(text: str, voice: str, speed: int) -> bytes:
    """espeak-ng speech at 16 kHz, trimmed to the spoken part (10 ms kept either side)."""
    pcm = to_samples(espeak(text, rate=WIDE_RATE, voice=voice, speed=speed))
    loud = np.nonzero(np.abs(pcm.astype(np.int32)) > SPEECH_LEVEL)[0]
    if loud.size:
        pcm = pcm[max(0, loud[0] - 160) : loud[-1] + 160]
    return to_bytes(pcm)


def band_limit(samples: np.ndarray, rate: int, band: tuple[float, float] = BAND_HZ) -> np.ndarray:
    """`samples` with everything outside `band` removed (FFT mask with raised-cosine edges)."""
    spectrum = np.fft.rfft(samples.astype(np.float64))
    freqs = np.fft.rfftfreq(samples.size, 1.0 / rate)
    lo, hi = band
    gain = np.ones_like(freqs)
    rise = (freqs >= lo - EDGE_HZ) & (freqs < lo)
    fall = (freqs > hi) & (freqs <= hi + EDGE_HZ)
    gain[freqs < lo - EDGE_HZ] = 0.0
    gain[freqs > hi + EDGE_HZ] = 0.0
    gain[rise] = 0.5 - 0.5 * np.cos(np.pi * (freqs[rise] - (lo - EDGE_HZ)) / EDGE_HZ)
    gain[fall] = 0.5 + 0.5 * np.cos(np.pi * (freqs[fall] - hi) / EDGE_HZ)
    out = np.fft.irfft(spectrum * gain, n=samples.size)
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def telephone(wide: bytes) -> bytes:
    """16 kHz speech as a narrowband line carries it: 300-3400 Hz, 8 kHz."""
    return to_bytes(resample(band_limit(to_samples(wide), WIDE_RATE), WIDE_RATE, NARROW_RATE))


def phone_line(narrow: bytes, snr_db: float = 30.0, seed: int = 0) -> bytes:
    """8 kHz speech after a real line: white noise `snr_db` below its RMS, then G.711 mu-law."""
    x = to_samples(narrow).astype(np.float64)
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    noise = np.random.default_rng(seed).normal(0.0, rms / 10 ** (snr_db / 20), x.size)
    noisy = np.clip(np.rint(x + noise), -32768, 32767).astype(np.int16)
    return ulaw_to_pcm(pcm_to_ulaw(to_bytes(noisy)))


def line_audio(wide: bytes, line: str, snr_db: float = 30.0, seed: int = 0) -> bytes:
    """The audio `line` ("wideband", "telephone" or "line") delivers for the 16 kHz speech `wide`."""
    if line == "wideband":
        return wide
    narrow = telephone(wide)
    return narrow if line == "telephone" else phone_line(narrow, snr_db, seed)


_NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()


def words(text: str | None) -> list[str]:
    """Lower-case words without punctuation; 0-12 written as digits become words ("2" -> "two")."""
    out = []
    for w in re.findall(r"[a-z0-9']+", (text or "").lower().replace("’", "'")):
        w = w.strip("'")
        if w.isdigit() and int(w) < len(_NUMBERS):
            w = _NUMBERS[int(w)]
        if w:
            out.append(w)
    return out


def word_errors(reference: str, hypothesis: str | None) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words): a word-level edit distance."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)], len(ref)


def wer(pairs: list[tuple[str, str | None]]) -> float | None:
    """Corpus word error rate of (reference, transcript) pairs: all errors over all reference words
    (as jiwer computes it for lists); None without reference words. A missing transcript counts
    every word of its question as deleted."""
    errors = total = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        errors, total = errors + e, total + n
    return errors / total if total else None


def word_accuracy(pairs: list[tuple[str, str | None]]) -> float | None:
    """1 - WER (can go below 0 when a transcript adds more words than the questions had)."""
    rate = wer(pairs)
    return None if rate is None else round(1.0 - rate, 4)
