"""Text to speech: Piper voices (onnxruntime on the CPU). piper-tts is GPL-3.0-or-later."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..config import TtsSettings


class PiperTTS:
    """Thread-safe (one onnxruntime session; espeak phonemisation is locked inside piper)."""

    def __init__(self, path: Path, settings: TtsSettings) -> None:
        import json

        import onnxruntime
        from piper import PiperConfig, PiperVoice, SynthesisConfig

        if path.suffix != ".onnx" or not path.is_file():
            raise FileNotFoundError(f"{path} is not a Piper .onnx voice")
        config_path = settings.config_path or Path(f"{path}.json")
        if not Path(config_path).is_file():
            raise FileNotFoundError(f"Piper voice config not found: {config_path}")
        self.path = path
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = settings.threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        with open(config_path, encoding="utf-8") as f:
            config = PiperConfig.from_dict(json.load(f))
        self._voice = PiperVoice(
            config=config,
            session=onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"]),
        )
        self._config = SynthesisConfig(length_scale=settings.length_scale, volume=settings.volume)
        self.sample_rate: int = self._voice.config.sample_rate

    def synthesize(self, text: str) -> np.ndarray:
        """Text to int16 mono samples at `sample_rate`. Blocking: call from a worker thread."""
        parts = [chunk.audio_int16_array for chunk in self._voice.synthesize(text, syn_config=self._config)]
        if not parts:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(parts)

    def warm_up(self) -> None:
        """onnxruntime is slow the first time it meets a longer input: meet a few lengths now."""
        for text in ("Hello.", "Thanks for calling, how can I help you today?",
                     "The store is open from nine in the morning to six in the evening, every day of the week."):
            self.synthesize(text)
