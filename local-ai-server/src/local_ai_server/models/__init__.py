"""The three models (STT, LLM, TTS): interfaces, loading once per process, and load status."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import structlog

from ..config import Settings
from .bundled import BUNDLED_STT, BUNDLED_TTS, llm_preset, resolve

log = structlog.get_logger("local_ai_server.models")


class SpeechToText(Protocol):
    def transcribe(self, audio_16k: np.ndarray) -> str: ...


class LanguageModel(Protocol):
    @property
    def slots(self) -> int: ...

    def stream(self, slot: int, messages: list[dict], *, max_tokens: int, prefix: str = "",
               schema: dict | None = None) -> Iterator[str]:
        """The assistant's reply to `messages`, token by token. With `prefix`, the reply already
        starts with that text (not repeated in the output); with `schema`, the output is JSON
        that matches that JSON schema (constrained decoding, never free text)."""
        ...

    def choose(self, slot: int, messages: list[dict], options: list[str]) -> str:
        """The first word of the assistant's reply, constrained to one of `options`."""
        ...

    def prefill(self, slot: int, messages: list[dict]) -> None: ...


@runtime_checkable
class AsyncLanguageModel(Protocol):
    """A language model whose work is elsewhere (an HTTP endpoint): the runtime awaits `astream`
    directly instead of stepping `stream` in CPU worker jobs. Cancelling the consumer ends the request."""

    def astream(self, messages: list[dict], *, max_tokens: int, prefix: str = "",
                schema: dict | None = None) -> AsyncIterator[str]: ...


class TurnEndCheck(Protocol):
    def probability(self, words: str) -> float:
        """P(the caller's message ends after `words`)."""
        ...


class TextToSpeech(Protocol):
    sample_rate: int

    def synthesize(self, text: str) -> np.ndarray: ...


@dataclass
class ModelStatus:
    loaded: bool = False
    path: str | None = None
    load_seconds: float | None = None
    error: str | None = None

    def to_json(self) -> dict:
        data = {"loaded": self.loaded, "path": self.path}
        if self.load_seconds is not None:
            data["load_seconds"] = round(self.load_seconds, 3)
        if self.error:
            data["error"] = self.error
        return data


@dataclass
class ModelSet:
    stt: SpeechToText | None = None
    llm: LanguageModel | None = None
    tts: TextToSpeech | None = None
    turn_end: TurnEndCheck | None = None  # optional (vad.end_of_turn_probability): without it, rules only
    status: dict[str, ModelStatus] = field(
        default_factory=lambda: {"stt": ModelStatus(), "llm": ModelStatus(), "tts": ModelStatus()}
    )

    @property
    def ready(self) -> bool:
        return all(s.loaded for s in self.status.values())

    @classmethod
    def of(cls, stt: SpeechToText, llm: LanguageModel, tts: TextToSpeech,
           turn_end: TurnEndCheck | None = None) -> ModelSet:
        """A ready set from objects already built (tests, embedding)."""
        models = cls(stt=stt, llm=llm, tts=tts, turn_end=turn_end)
        for name in ("stt", "llm", "tts"):
            models.status[name] = ModelStatus(loaded=True, path=f"<{type(getattr(models, name)).__name__}>")
        return models


def load_models(settings: Settings, models: ModelSet | None = None) -> ModelSet:
    """Load STT, LLM and TTS (blocking; run it in a thread). Logs what came from where and how long
    it took. A model that fails to load is reported in its status and the error is raised."""
    from .llm import LlamaLLM
    from .stt import WhisperSTT
    from .tts import PiperTTS

    models = models or ModelSet()
    preset = llm_preset(settings.llm.preset, settings.llm.model_cache_dir)
    llm = ("llm", settings.llm.model_path, preset, lambda p: LlamaLLM(p, settings.llm))
    if settings.llm.backend == "openai_compatible":
        llm = ("llm", settings.llm.base_url, None, lambda _p: _remote_llm(settings))
    plan = (
        ("stt", settings.stt.model_path, BUNDLED_STT, lambda p: WhisperSTT(p, settings.stt)),
        llm,
        ("tts", settings.tts.model_path, BUNDLED_TTS, lambda p: PiperTTS(p, settings.tts)),
    )
    for name, configured, bundled, build in plan:
        status = models.status[name]
        started = time.perf_counter()
        try:
            path: Path | str = resolve(configured, bundled) if bundled is not None else configured
            status.path = str(path)
            instance = build(path)
            instance.warm_up()
        except Exception as exc:
            status.error = f"{type(exc).__name__}: {exc}"
            log.error("model.load_failed", model=name, path=status.path, error=status.error)
            raise
        setattr(models, name, instance)
        status.load_seconds = time.perf_counter() - started
        status.loaded = True
        log.info(
            "model.loaded",
            model=name,
            path=status.path,
            source="bundled package " + bundled.distribution if bundled and configured is None else "config",
            seconds=round(status.load_seconds, 3),
            **_details(name, instance),
        )
    if settings.vad.end_of_turn_probability > 0:
        models.turn_end = _turn_end_model()
    return models


def _turn_end_model() -> TurnEndCheck | None:
    """The semantic end-of-turn check over the bundled SmolLM2 (always installed). Optional: if it
    cannot load, turns end by the rules of speech/unfinished.py alone (logged)."""
    from .bundled import BUNDLED_LLM
    from .turn_end import TurnEndModel

    started = time.perf_counter()
    try:
        model = TurnEndModel(BUNDLED_LLM.path())
        model.warm_up()
    except Exception as exc:
        log.warning("model.load_failed", model="turn_end", error=f"{type(exc).__name__}: {exc}",
                    effect="end of turn by the rules only")
        return None
    log.info("model.loaded", model="turn_end", path=str(model.path), source="bundled package "
             + BUNDLED_LLM.distribution, seconds=round(time.perf_counter() - started, 3))
    return model


def _details(name: str, instance: object) -> dict:
    if name == "tts":
        return {"sample_rate": getattr(instance, "sample_rate", None)}
    if name == "llm":
        return {"instances": getattr(instance, "slots", None)}
    return {}


def _remote_llm(settings: Settings):
    from .llm_remote import RemoteLLM

    key = settings.llm.api_key.get_secret_value() if settings.llm.api_key is not None else None
    return RemoteLLM(settings.llm, api_key=key)
