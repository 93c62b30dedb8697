"""Language model: llama-cpp-python, streaming chat completions from a GGUF file.

`instances` llama.cpp contexts share one set of weights (memory-mapped); each runs one generation
at a time. `stream(slot, ...)` returns a blocking iterator of text pieces: step it from worker
threads (one token per step) so that cancellation can stop between tokens.

Function calling (speech/tools.py) continues an assistant message that starts with a given prefix,
under a llama.cpp grammar: the prompt is then formatted here with the GGUF's own chat template (as
llama-cpp-python's chat completion does), the prefix appended, and completed with
`create_completion`. Both share the context's cache: the prompt of a decision, of the reply after
it and of the arguments only differ after the common prefix, which llama.cpp keeps evaluated.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from ..config import LlmSettings

_ARGS_ROOT = "x-tool-arguments"


NEUTRAL_MESSAGE = "Hello."  # the caller message that asks for nothing (calibration of fixed choices)


def _enum_only(schema: dict) -> bool:
    """An object whose properties are all required string enums (a transfer target)."""
    properties = schema.get("properties")
    return (schema.get("type") == "object" and isinstance(properties, dict) and bool(properties)
            and set(schema.get("required", properties)) == set(properties)
            and all(isinstance(p, dict) and p.get("enum") and all(isinstance(v, str) and v for v in p["enum"])
                    for p in properties.values()))


@lru_cache(maxsize=64)
def _choice_grammar(options: tuple[str, ...]):
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string("root ::= " + " | ".join(json.dumps(o) for o in options))


@lru_cache(maxsize=64)
def _schema_grammar(schema_json: str):
    """JSON matching the schema, after one space (the text follows `name:`)."""
    from llama_cpp import LlamaGrammar
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = re.sub(r"^root ::=", f"{_ARGS_ROOT} ::=", json_schema_to_gbnf(schema_json), count=1, flags=re.M)
    return LlamaGrammar.from_string(f'root ::= " " {_ARGS_ROOT}\n{gbnf}')


def chat_formatter(llama):
    """The GGUF's own chat template as a formatter (as llama-cpp-python's chat completion builds
    it), or None when the file has no template."""
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    token_text = llama._model.token_get_text  # noqa: SLF001 (as Llama itself builds this formatter)
    eos, bos = llama.token_eos(), llama.token_bos()
    return Jinja2ChatFormatter(template, token_text(eos) if eos != -1 else "", token_text(bos) if bos != -1 else "",
                               stop_token_ids=[eos])


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
        self._formatter = chat_formatter(self._contexts[0])

    @property
    def supports_tools(self) -> bool:
        """Function calling formats its own prompts with the GGUF's chat template."""
        return self._formatter is not None

    @property
    def slots(self) -> int:
        return len(self._contexts)

    def stream(self, slot: int, messages: list[dict], *, max_tokens: int, prefix: str = "",
               schema: dict | None = None) -> Iterator[str]:
        s = self.settings
        if not prefix and schema is None:
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
            return
        if schema is not None and _enum_only(schema) and self._distinct_first_tokens(slot, schema):
            yield from self._enum_arguments(slot, messages, prefix, schema)
            return
        grammar = _schema_grammar(json.dumps(schema, sort_keys=True)) if schema is not None else None
        sampling = {"temperature": 0.0} if grammar is not None else {  # arguments: the likeliest
            "temperature": s.temperature, "top_p": s.top_p, "repeat_penalty": s.repeat_penalty}
        yield from self._continue(slot, messages, prefix, max_tokens, grammar, **sampling)

    def _enum_arguments(self, slot: int, messages: list[dict], prefix: str, schema: dict) -> Iterator[str]:
        """Arguments that are all fixed choices (a transfer target): each value is the one whose
        first token gained most from the caller's words, i.e. its logit at that point minus its
        logit after a neutral caller message (contextual calibration): a small model otherwise
        picks the value it was shown first, whatever the caller asked for."""
        neutral = [*messages[:-1], {**messages[-1], "content": NEUTRAL_MESSAGE}]
        text = "{"
        for index, (name, spec) in enumerate(schema["properties"].items()):
            text += ("" if index == 0 else ", ") + json.dumps(name) + ': "'
            values = [str(v) for v in spec["enum"]]
            at = prefix + " " + text
            first = self._first_tokens(slot, values)
            heard, baseline = self._logits(slot, messages, at, first.values()), self._logits(slot, neutral, at,
                                                                                            first.values())
            value = max(values, key=lambda v: heard[first[v]] - baseline[first[v]])
            text += value + '"'
        yield " " + text + "}"

    def _first_tokens(self, slot: int, words: list[str]) -> dict[str, int]:
        llama = self._contexts[slot]
        return {w: llama.tokenize(w.encode("utf-8"), add_bos=False, special=False)[0] for w in words}

    def _logits(self, slot: int, messages: list[dict], prefix: str, tokens) -> dict[int, float]:
        """The logits of `tokens` as the next token after the reply's start `prefix` (one
        evaluation; the cached prompt prefix is reused)."""
        from llama_cpp import llama_get_logits_ith

        for _ in self._continue(slot, messages, prefix, 1, None, temperature=0.0):
            pass  # evaluates the prompt; the free token is not kept
        logits = llama_get_logits_ith(self._contexts[slot].ctx, -1)
        return {token: float(logits[token]) for token in tokens}

    def _distinct_first_tokens(self, slot: int, schema: dict) -> bool:
        return all(len(set(self._first_tokens(slot, [str(v) for v in p["enum"]]).values())) == len(p["enum"])
                   for p in schema["properties"].values())

    def choose(self, slot: int, messages: list[dict], options: list[str]) -> str:
        """One forward pass: the option whose first token the model finds likeliest at the start of
        the reply (a constrained first-token choice; the reply's own first token needs this pass
        anyway). Options that share a first token are told apart under a grammar instead."""
        if len(options) == 1:
            return options[0]
        first = self._first_tokens(slot, options)
        if len(set(first.values())) < len(options):
            text = "".join(self._continue(slot, messages, "", 16, _choice_grammar(tuple(options)), temperature=0.0))
            return text if text in options else options[0]
        if self.settings.tool_decision == "calibrated":
            return self._calibrated_choice(slot, messages, options, first)
        logits = self._logits(slot, messages, "", first.values())
        return max(options, key=lambda option: logits[first[option]])

    def _calibrated_choice(self, slot: int, messages: list[dict], options: list[str], first: dict[str, int]) -> str:
        """Each option's gain (its first token's logit after the caller's words minus after a
        neutral message); a tool must beat `say` by the margin. The neutral prompt is evaluated
        first so that the context's cache ends with the real one (the reply continues it)."""
        neutral = [*messages[:-1], {**messages[-1], "content": NEUTRAL_MESSAGE}]
        baseline = self._logits(slot, neutral, "", first.values())
        heard = self._logits(slot, messages, "", first.values())
        gain = {option: heard[first[option]] - baseline[first[option]] for option in options}
        tools = [option for option in options if option != "say"]
        best = max(tools, key=gain.get)
        if "say" in options and gain[best] - gain["say"] <= self.settings.tool_decision_margin:
            return "say"
        return best

    def _continue(self, slot: int, messages: list[dict], prefix: str, max_tokens: int, grammar,
                  **sampling) -> Iterator[str]:
        if self._formatter is None:
            raise RuntimeError(f"{self.path.name} has no chat template: function calling needs one")
        llama = self._contexts[slot]
        formatted = self._formatter(messages=messages)
        tokens = llama.tokenize((formatted.prompt + prefix).encode("utf-8"), add_bos=not formatted.added_special,
                                special=True)
        chunks = llama.create_completion(tokens, stream=True, max_tokens=max_tokens, grammar=grammar,
                                         stop=formatted.stop, stopping_criteria=formatted.stopping_criteria,
                                         **sampling)
        for chunk in chunks:
            text = chunk["choices"][0]["text"]
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
