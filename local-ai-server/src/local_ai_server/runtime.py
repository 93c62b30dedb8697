"""What all sessions share: settings, the models (loaded once), and the bounded CPU worker pool.

Every piece of model work runs in a worker thread under one `FairLimiter` (`cpu_jobs` jobs in
flight across all sessions): one STT call, a few LLM tokens, or one TTS piece per job. Jobs are
short and the limiter serves the waiting sessions in turn (cpu.py), so one session's flood does
not delay another's turn, and the event loop (everyone's audio) is never blocked. Work towards a
caller's first audio goes first (STT, and a response's jobs until its first sentence is
synthesised); a response's job time is added to its `FirstAudioWork` (admission.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
import numpy as np
import structlog
from realtime_protocol import AudioFormat

from .admission import WORK, Admission
from .config import Settings
from .cpu import AHEAD, LATER, QUEUE_KEY, URGENT, FairLimiter
from .models import AsyncLanguageModel, ModelSet, load_models
from .speech.audio import encode, resample, trim_leading_quiet

log = structlog.get_logger("local_ai_server.runtime")

_END = object()


_CLAUSE_END = frozenset(".,!?;:")


def _take(tokens: Iterator[str], budget_s: float) -> list:
    """The next tokens of `tokens`, written in one CPU job: at least one, more while the job is
    under `budget_s`, and none past a clause end (the first text piece is cut there: its TTS should
    not wait for more). `_END` last when the stream ended. Fewer, longer LLM jobs wait fewer
    rounds of the CPU queue behind other callers' TTS jobs."""
    deadline = time.perf_counter() + budget_s
    batch: list = []
    while True:
        token = next(tokens, _END)
        batch.append(token)
        if token is _END or time.perf_counter() >= deadline or not _CLAUSE_END.isdisjoint(token):
            return batch


class SlotPool:
    """Hands out LLM context indices; prefers the one a session used last (its prompt is cached)."""

    def __init__(self, size: int) -> None:
        self._free = list(range(size))
        self._semaphore = anyio.Semaphore(size)

    @asynccontextmanager
    async def acquire(self, prefer: int | None = None) -> AsyncIterator[int]:
        async with self._semaphore:
            slot = prefer if prefer in self._free else self._free[0]
            self._free.remove(slot)
            try:
                yield slot
            finally:
                self._free.append(slot)


class Runtime:
    def __init__(self, settings: Settings, models: ModelSet | None = None) -> None:
        self.settings = settings
        self.models = models or ModelSet()
        self.cpu = FairLimiter(settings.cpu_jobs)
        self.admission = Admission(settings.admission, settings.cpu_jobs)
        self._threads = anyio.CapacityLimiter(settings.cpu_jobs)
        self._slots: SlotPool | None = None
        self.active_sessions = 0
        self.load_error: str | None = None

    @property
    def ready(self) -> bool:
        return self.models.ready

    async def load(self) -> None:
        """Load the models in a thread (the event loop keeps answering /health meanwhile)."""
        started = time.perf_counter()
        log.info("models.loading", cpu_jobs=self.settings.cpu_jobs)
        try:
            await anyio.to_thread.run_sync(load_models, self.settings, self.models, abandon_on_cancel=True)
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            raise
        await self.prepare_filler()
        log.info("models.ready", seconds=round(time.perf_counter() - started, 3))

    async def prepare_filler(self) -> None:
        """Synthesise the admission filler once, now, so that under load it costs no CPU job."""
        if not self.settings.admission.filler_after_ms:
            return
        tts = self.models.tts
        samples = await anyio.to_thread.run_sync(tts.synthesize, self.settings.admission.filler_text,
                                                 limiter=self._threads)
        self.admission.keep_filler(trim_leading_quiet(samples, tts.sample_rate), tts.sample_rate)

    @property
    def slots(self) -> SlotPool:
        if self._slots is None:
            self._slots = SlotPool(self.models.llm.slots)
        return self._slots

    async def run(self, fn: Callable, *args, priority: int = URGENT):
        """Run blocking model work in a worker thread, within the shared CPU bound (served fairly
        across sessions, urgent work first: see cpu.py). Within a response, its jobs are urgent
        until its first audio (AHEAD while its turn has not ended), and their time is counted
        towards it (admission.py)."""
        work = WORK.get()
        if work is not None and priority == URGENT:
            priority = LATER if work.reached else AHEAD if work.ahead else URGENT
        async with self.cpu.place(QUEUE_KEY.get(), priority):
            started = time.perf_counter()
            try:
                return await anyio.to_thread.run_sync(fn, *args, limiter=self._threads)
            finally:
                if work is not None and not work.reached:
                    work.cpu_s += time.perf_counter() - started

    async def transcribe(self, audio_16k: np.ndarray) -> str:
        return await self.run(self.models.stt.transcribe, audio_16k)

    async def turn_end_probability(self, words: str) -> float | None:
        """The semantic end-of-turn check (models/turn_end.py), or None without it."""
        if self.models.turn_end is None:
            return None
        return await self.run(self.models.turn_end.probability, words)

    async def synthesize(self, text: str, fmt: AudioFormat, *, trim_start: bool = False) -> bytes:
        """Speech for `text` in the wire format `fmt` (synthesis, resampling and encoding all run
        in the worker thread). `trim_start`: without the voice's lead-in silence (a response's
        first piece: the caller is waiting for it)."""
        return await self.run(self._synthesize, text, fmt, trim_start)

    def _synthesize(self, text: str, fmt: AudioFormat, trim_start: bool) -> bytes:
        tts = self.models.tts
        samples = tts.synthesize(text)
        if trim_start:
            samples = trim_leading_quiet(samples, tts.sample_rate)
        return encode(resample(samples, tts.sample_rate, fmt.rate), fmt)

    async def prefill(self, messages: list[dict], prefer_slot: int | None = None) -> int:
        """Evaluate a prompt prefix in a worker job (see LanguageModel.prefill); returns the slot.
        A remote model's server keeps its own prefix cache: nothing to do."""
        if isinstance(self.models.llm, AsyncLanguageModel):
            return prefer_slot if prefer_slot is not None else 0
        async with self.slots.acquire(prefer_slot) as slot:
            started = time.perf_counter()
            await self.run(self.models.llm.prefill, slot, messages, priority=LATER)  # while the caller speaks
            log.debug("llm.prefilled", slot=slot, messages=len(messages),
                      ms=round((time.perf_counter() - started) * 1000))
            return slot

    async def choose(self, messages: list[dict], options: list[str], prefer_slot: int | None = None
                     ) -> tuple[str, int]:
        """The decision step of function calling (speech/tools.py): the first word of the reply,
        one of `options`, in one worker job (a few tokens). Returns it and the slot used."""
        async with self.slots.acquire(prefer_slot) as slot:
            started = time.perf_counter()
            choice = await self.run(self.models.llm.choose, slot, messages, options)
            log.info("llm.decided", slot=slot, cache_hit=slot == prefer_slot, choice=choice, options=len(options),
                     ms=round((time.perf_counter() - started) * 1000))
            return choice, slot

    async def generate(
        self,
        messages: list[dict],
        max_tokens: int,
        on_token: Callable[[str], Awaitable[None]],
        prefer_slot: int | None = None,
        prefix: str = "",
        schema: dict | None = None,
    ) -> int:
        """Stream a chat completion (a local model a few tokens per worker job, `_take`); returns the slot used. `prefix` and
        `schema` as in `LanguageModel.stream` (a reply after a decision; a call's arguments).

        Cancelling the caller stops generation after the job being computed (`concurrency.llm_job_ms`)."""
        waited = time.perf_counter()
        async with self.slots.acquire(prefer_slot) as slot:
            started = time.perf_counter()
            first: float | None = None
            count = 0
            extra = {k: v for k, v in (("prefix", prefix), ("schema", schema)) if v}  # plain replies: as before
            tokens = self._tokens(slot, messages, max_tokens, extra)
            try:
                async for token in tokens:
                    if first is None:
                        first = time.perf_counter()
                    count += 1
                    await on_token(token)
            finally:
                await tokens.aclose()
                log.info("llm.generated", slot=slot, cache_hit=slot == prefer_slot, messages=len(messages),
                         prefix=prefix or None, constrained=schema is not None,
                         prompt_chars=sum(len(m["content"]) for m in messages), tokens=count,
                         slot_wait_ms=round((started - waited) * 1000),
                         first_token_ms=round((first - started) * 1000) if first else None,
                         total_ms=round((time.perf_counter() - started) * 1000))
            return slot

    async def _tokens(self, slot: int, messages: list[dict], max_tokens: int, extra: dict) -> AsyncIterator[str]:
        """A remote model's stream as it is (no CPU job); a local one a few tokens per worker job."""
        llm = self.models.llm
        if isinstance(llm, AsyncLanguageModel):
            stream = llm.astream(messages, max_tokens=max_tokens, **extra)
            try:
                async for token in stream:
                    yield token
            finally:
                await stream.aclose()
            return
        tokens = llm.stream(slot, messages, max_tokens=max_tokens, **extra)
        budget_s = self.settings.concurrency.llm_job_ms / 1000
        try:
            while True:
                for token in await self.run(_take, tokens, budget_s):
                    if token is _END:
                        return
                    yield token
        finally:
            tokens.close()
