"""Speech to text: faster-whisper (CTranslate2), int8 on the CPU (or on a GPU: `stt.device`).

A caller's turn is a few seconds long, but Whisper normally encodes a fixed 30 s window, which is
most of the cost (about 190 ms of 250 ms for tiny.en on 2 cores). Turns shorter than
`encoder_window_s` are padded to that window only (default 10 s); longer turns up to 30 s are
encoded at their own length (whole seconds, plus half a second of padding); anything longer goes
through faster-whisper's standard 30 s chunked `transcribe`. A shorter window is faster, and on
espeak-ng clips 6 s lost no words, but on a natural voice (16 questions in the bundled Piper voice
through the telephone band, 2026-12-02) Whisper filled the padding by writing short questions out
again: 6 of 16 came out two or three times over ("What is the capital of France? What is the
capital of France? What is"), word accuracy 54 % at 6 s, 56 % at 7 s, 88 % at 8 s, 96 % at 10 s
(95 % at 12 s, 97 % at 30 s); espeak-ng 55-63 % at every window. At 10 s it still happened now
and then (Piper's speech differs from run to run), so a transcript that is one sentence (three or more
words ending in . ? or !) said over and over (the last time perhaps cut short) is taken as that
sentence once (`said_once`); a caller who really says it twice ("Hello? Hello?") loses nothing
by it. With it, on the same 16 clips: 90 % at 6 s (a repeat with other words stays), 95 % at 8 s
and at 10 s.
Decoding is greedy (`beam_size` 1 by default), without timestamps, without conditioning on earlier
text, and without faster-whisper's own VAD (the server's VAD already cut the turn).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from ..config import SttSettings

RATE = 16000
FRAMES_PER_SECOND = 100
MAX_WINDOW_S = 30


def said_once(text: str, min_words: int = 3) -> str:
    """`text` without the repeats of a sentence it only consists of: "What is the capital of France?
    What is the capital of France? What is" -> "What is the capital of France?" (words compared
    without case or punctuation; the sentence has at least `min_words` words, ends in . ? or !, and
    comes at least twice, the last time perhaps cut short). Numbers read out ("four four four four
    four four") are no sentence: they stay."""
    words = text.split()
    keys = [re.sub(r"[^\w']", "", w.lower()) for w in words]
    for period in range(min_words, len(words) // 2 + 1):
        if words[period - 1][-1] in ".?!" and all(keys[i] == keys[i - period] for i in range(period, len(keys))):
            return " ".join(words[:period])
    return text


class WhisperSTT:
    """Thread-safe: up to `num_workers` transcriptions run in parallel."""

    def __init__(self, path: Path, settings: SttSettings) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder never needs the hub
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        for needed in ("model.bin", "tokenizer.json"):
            if not (path / needed).is_file():
                raise FileNotFoundError(f"{path} is not a CTranslate2 Whisper folder (no {needed})")
        self.path = path
        self.settings = settings
        self._model = WhisperModel(
            str(path),
            device=settings.device,
            device_index=settings.device_index,
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads or (os.cpu_count() or 1),
            num_workers=settings.num_workers,
            local_files_only=True,
        )
        multilingual = self._model.model.is_multilingual
        self.language = (settings.language or "en") if multilingual else "en"
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, multilingual, task="transcribe", language=self.language)
        prompt: list[int] = []
        if settings.initial_prompt:
            prompt = [self._tokenizer.sot_prev, *self._tokenizer.encode(" " + settings.initial_prompt.strip())[-200:]]
        self._prompt = [*prompt, *self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))

    def transcribe(self, audio_16k: np.ndarray) -> str:
        """int16 (or float32) mono 16 kHz audio to text. Blocking: call from a worker thread."""
        if audio_16k.dtype != np.float32:
            audio_16k = audio_16k.astype(np.float32) / 32768.0
        seconds = len(audio_16k) / RATE
        if seconds > MAX_WINDOW_S - 0.5 or self.settings.encoder_window_s >= MAX_WINDOW_S:
            return self._transcribe_chunked(audio_16k)
        window_s = min(MAX_WINDOW_S, max(self.settings.encoder_window_s, math.ceil(seconds + 0.5)))
        padded = np.zeros(window_s * RATE, dtype=np.float32)
        padded[: len(audio_16k)] = audio_16k
        # Contiguous, and held here while the encoder runs: CTranslate2's StorageView does not own
        # the numpy memory it is built on (a temporary copy could be freed under it).
        features = np.ascontiguousarray(self._model.feature_extractor(padded)[:, : window_s * FRAMES_PER_SECOND])
        encoded = self._model.encode(features)
        result = self._model.model.generate(
            encoded,
            [self._prompt],
            beam_size=self.settings.beam_size,
            max_length=len(self._prompt) + min(220, 16 + int(seconds * 8)),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        if result.no_speech_prob > self.settings.no_speech_threshold:
            return ""
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        return said_once(self._tokenizer.decode(tokens).strip())

    def _transcribe_chunked(self, audio_16k: np.ndarray) -> str:
        segments, _info = self._model.transcribe(
            audio_16k,
            language=self.language,
            beam_size=self.settings.beam_size,
            vad_filter=False,
            without_timestamps=True,
            condition_on_previous_text=False,
            initial_prompt=self.settings.initial_prompt or None,
            temperature=0.0,
            no_speech_threshold=self.settings.no_speech_threshold,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()

    def warm_up(self) -> None:
        """One throwaway transcription, so the first caller does not pay for initialisation."""
        rng = np.random.default_rng(0)
        self.transcribe((rng.standard_normal(RATE) * 300).astype(np.int16))
