"""Language model: llama-cpp-python, streaming chat completions from a GGUF file.

`instances` llama.cpp contexts share one set of weights (memory-mapped); each runs one generation
at a time. `stream(slot, ...)` returns a blocking iterator of text pieces: step it from worker
threads (one token per step) so that cancellation can stop between tokens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..config import LlmSettings


class LlamaLLM:
    def __init__(self, path: Path, settings: LlmSettings) -> None:
        from llama_cpp import Llama

        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a GGUF file")
        self.path = path
        self.settings = settings
        cores = os.cpu_count() or 1
        self._contexts = [
            Llama(
                model_path=str(path),
                n_ctx=settings.n_ctx,
                n_threads=settings.n_threads or cores,
                n_threads_batch=settings.n_threads_batch or cores,
                chat_format=settings.chat_format,
                use_mmap=True,
                verbose=False,
            )
            for _ in range(settings.instances)
        ]

    @property
    def slots(self) -> int:
        return len(self._contexts)

    def stream(self, slot: int, messages: list[dict], *, max_tokens: int) -> Iterator[str]:
        s = self.settings
        chunks = self._contexts[slot].create_chat_completion(
            messages,
            stream=True,
            max_tokens=max_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            repeat_penalty=s.repeat_penalty,
        )
        for chunk in chunks:
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                yield text

    def prefill(self, slot: int, messages: list[dict]) -> None:
        """Evaluate a prompt prefix ahead of time: the context's cache then holds `messages` plus
        the start of a user turn, so the next real prompt (the same messages and a new user
        message) only evaluates the new message."""
        for _ in self.stream(slot, [*messages, {"role": "user", "content": ""}], max_tokens=1):
            pass

    def warm_up(self) -> None:
        for slot in range(self.slots):
            for _ in self.stream(slot, [{"role": "user", "content": "Hi"}], max_tokens=1):
                pass
