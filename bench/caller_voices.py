"""The benches' callers: who speaks the questions, at 8 kHz telephone quality.

- `espeak`: espeak-ng in four voices and speeds (bench/local_ai_server VOICES), the benches'
  caller since the start. A formant synthesiser: flat, buzzy speech that Whisper tiny.en mishears
  often (word accuracy ~62 % on the latency questions), so turns wait the unclear hold.
- `piper`: the bundled Piper voice (en_US-joe-medium, a neural voice recorded from a person),
  four speaking rates, taken down to 8 kHz. Closer to a person on the phone (Whisper: ~96 %).
  It is also the agent's voice: the bench only times audio, so that does not matter.

Neither is a person: with real callers, expect figures between the two (people mumble, lines
are noisy, but speech is natural). Made up front, before a call: both are synchronous.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from bench.local_ai_server import VOICES, speech_clip, trimmed_clip

RATE = 8000
PIPER_RATES = (1.0, 1.1, 0.95, 1.2)  # Piper length_scale: >1 slower
CALLERS = ("espeak", "piper")


@cache
def _piper():
    """One voice, and its synthesis settings at each speaking rate."""
    from local_ai_server.models.bundled import BUNDLED_TTS
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(BUNDLED_TTS.path())
    return voice, {scale: SynthesisConfig(length_scale=scale, volume=0.5) for scale in PIPER_RATES}


def piper_clip(text: str, length_scale: float) -> tuple[bytes, float]:
    """The bundled Piper voice at 8 kHz, trimmed like `speech_clip`; the audio and its seconds."""
    from local_ai_server.speech.audio import resample

    voice, configs = _piper()
    speech = np.concatenate([c.audio_int16_array for c in voice.synthesize(text, syn_config=configs[length_scale])])
    return trimmed_clip(resample(speech, voice.config.sample_rate, RATE).astype(np.int16))


def clip(caller: str, text: str, i: int) -> tuple[bytes, float]:
    """`text` spoken by the i-th voice of `caller` (voices rotate with i)."""
    if caller == "piper":
        return piper_clip(text, PIPER_RATES[i % len(PIPER_RATES)])
    if caller == "espeak":
        return speech_clip(text, *VOICES[i % len(VOICES)])
    raise ValueError(f"unknown caller voice {caller!r}: one of {CALLERS}")
