"""What the agent does to the call, besides talking: the model's tool calls and the caller's key
presses, run one at a time by one task of the call (`ActionRunner.run`, in the conversation's
task group: a hang-up cancels it with the rest).

Provider events and ARI events arrive in sync callbacks; they only queue here (bounded: a
flood of tool calls or key presses is dropped with a log line, never blocks a callback).
A tool call's result goes back to the provider session that asked, so the model goes on
talking; a tool that fails or runs out of time is reported to the model the same way
(tools/base.py). An answered attended transfer hands the call over: `handed_over` is set and
the conversation ends, leaving the caller bridged with the target (calls/transfer.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..observability.logs import get_logger
from ..providers import base
from ..tools.base import ToolOutcome, ToolRegistry
from . import transfer
from .call import CallerAction
from .dtmf import KeyMap, Mapped
from .speech_tracker import SpeechTracker

if TYPE_CHECKING:
    from .call import Call
    from .deps import CallDeps

log = get_logger(__name__)

MAX_PENDING = 16  # queued tool calls and key presses, at most
SAY_START_TIMEOUT_S = 10.0  # a sentence we asked for must start being spoken within this long


@dataclass(frozen=True, slots=True)
class _KeyAction:
    action: str  # a mapped key's value


@dataclass(frozen=True, slots=True)
class _ToolJob:
    event: base.ToolCall
    caller_words: str  # the caller's last transcript when the model called the tool


class ActionRunner:
    def __init__(
        self,
        call: Call,
        deps: CallDeps,
        tools: ToolRegistry,
        session: Callable[[], base.ProviderSession | None],
        current_reply: Callable[[], str | None],
        interrupt: Callable[[str], None],
    ):
        self.call = call
        self.deps = deps
        self.tools = tools
        self.call_id = call.id
        self.caller_number = call.caller_number
        self._session = session
        self._current_reply = current_reply
        self._interrupt = interrupt
        self.speech = SpeechTracker()
        self.keys = KeyMap(call.persona.dtmf_keys)
        self.handed_over = anyio.Event()  # an attended transfer was answered: the agent is done
        self.caller_words = ""  # CallActions: the caller's words of the tool call being run
        send, receive = anyio.create_memory_object_stream[object](MAX_PENDING)
        self._jobs_in: MemoryObjectSendStream[object] = send
        self._jobs: MemoryObjectReceiveStream[object] = receive
        dsend, dreceive = anyio.create_memory_object_stream[str](MAX_PENDING)
        self._digits_in: MemoryObjectSendStream[str] = dsend
        self._digits: MemoryObjectReceiveStream[str] = dreceive

    # ---- from sync callbacks --------------------------------------------------------------

    def tool_call(self, event: base.ToolCall) -> None:
        """Queued with the caller's last transcribed words (the call's record has them): the turn
        this call answers, even if the caller says more while an earlier tool runs."""
        turns = self.call.recorder.transcript
        words = next((t["text"] for t in reversed(turns) if t["role"] == "caller"), "")
        self._queue(self._jobs_in, _ToolJob(event, words), "tool call")

    def dtmf(self, digit: str) -> None:
        """A key press: stops the agent like speech does, then goes to the key map."""
        self._interrupt("dtmf")
        self._queue(self._digits_in, digit, "key press")

    @staticmethod
    def _queue(stream: MemoryObjectSendStream, item: object, what: str) -> None:
        try:
            stream.send_nowait(item)
        except anyio.WouldBlock:
            log.warning("call.action_dropped", what=what, reason="too many pending")

    # ---- the tasks ------------------------------------------------------------------------

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._collect_digits)
            async for job in self._jobs:
                if isinstance(job, _ToolJob):
                    await self._run_tool(job)
                elif isinstance(job, _KeyAction):
                    await self._run_key_action(job.action)
                elif isinstance(job, str):
                    await self._tell_model(job)
                if self.handed_over.is_set() or self.call.ended.is_set():
                    break
            tg.cancel_scope.cancel()

    async def _collect_digits(self) -> None:
        interdigit = self.call.persona.dtmf_interdigit_s
        while True:
            digit: str | None = None
            if self.keys.waiting:
                with anyio.move_on_after(interdigit):
                    digit = await self._digits.receive()
                events = self.keys.press(digit) if digit is not None else self.keys.timeout()
            else:
                digit = await self._digits.receive()
                events = self.keys.press(digit)
            if digit is not None:
                self.call.recorder.key_pressed(digit)
            log.info("call.dtmf_key", fired=[type(e).__name__ for e in events], open_entry=bool(self.keys.entry))
            for event in events:
                job = _KeyAction(event.action) if isinstance(event, Mapped) else event.text()
                self._queue(self._jobs_in, job, "key action")

    async def _run_tool(self, job: _ToolJob) -> None:
        event = job.event
        session = self._session()
        self.caller_words = job.caller_words
        outcome = await self.tools.execute(event.name, event.arguments, self)
        self.call.recorder.tool_call(event.name, _arguments(event.arguments), outcome.output)
        if self.handed_over.is_set() or self.call.ended.is_set():
            return
        await self._send_result(session, event, outcome)

    async def _send_result(self, session: base.ProviderSession | None, event: base.ToolCall, outcome: ToolOutcome) -> None:
        if session is None or session is not self._session():
            log.info("tool.result_dropped", tool=event.name, reason="the provider session it came from is gone")
            return
        try:
            await session.send_tool_result(event.call_id, event.name, outcome.text(), outcome.respond)
        except base.ProviderUnavailable as exc:
            log.warning("tool.result_not_sent", tool=event.name, error=str(exc))

    async def _run_key_action(self, action: str) -> None:
        verb, _, rest = action.partition(" ")
        if verb == "transfer":
            result = await self.transfer(rest.strip())
            if not result.get("transferred"):
                await self._tell_model(f"(The caller pressed a key to be transferred, but: {result.get('reason', 'it failed')}.)")
        elif verb == "hangup":
            await self.hangup(self.call.persona.farewell)
        elif verb == "say":
            await self._tell_model(rest.strip())

    async def _tell_model(self, text: str) -> None:
        session = self._session()
        if session is None:
            return
        try:
            await session.send_user_text(text)
        except base.ProviderUnavailable as exc:
            log.warning("call.dtmf_not_sent", error=str(exc))

    # ---- CallActions (what tools may do) --------------------------------------------------

    async def say(self, text: str) -> None:
        session = self._session()
        if session is None:
            return
        mark = self.speech.count
        try:
            await session.say(text)
        except base.ProviderUnavailable as exc:
            log.warning("call.say_failed", error=str(exc))
            return
        reply = await self.speech.next_reply(mark, SAY_START_TIMEOUT_S)
        if reply is not None:
            await self.speech.wait_heard(reply)

    async def _finish_current_reply(self) -> None:
        """What the agent was saying as it called the tool ("one moment, I'll put you through")."""
        reply = self._current_reply()
        if reply is not None:
            await self.speech.wait_heard(reply)

    async def transfer(self, target: str) -> dict:
        settings = self.call.persona.transfer_targets.get(target)
        if settings is None:
            return {"transferred": False, "reason": f"unknown target {target!r}"}
        await self._finish_current_reply()
        if settings.announcement:
            await self.say(settings.announcement)
        if settings.mode == "blind":
            return await transfer.blind(self.call, self.deps, target, settings)
        result = await transfer.attended(self.call, self.deps, target, settings)
        if result.get("transferred"):
            self.handed_over.set()
        return result

    async def hangup(self, farewell: str | None) -> None:
        await self._finish_current_reply()
        if farewell:
            await self.say(farewell)
        log.info("call.agent_hangup", farewell=farewell)
        self.call.recorder.ended_as("agent_hangup")
        self.call.end("agent hung up", caller_action=CallerAction.HANGUP)


def _arguments(text: str) -> object:
    """The model's arguments for the call record: parsed when they are JSON, else as written."""
    try:
        return json.loads(text)
    except ValueError:
        return text
