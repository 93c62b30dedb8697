"""One call's conversation, once its media path is up: caller audio → provider → agent audio.

Caller audio is handled in the capture leg's receive callback, frame by frame and without a
task in between: engine VAD (barge-in, end of speech) → resampling → the provider session's
`push_audio` (sync). Provider events come back through a sync callback too (`_on_provider_event`):
the echo provider's audio reaches the agent output in the same callback. Whatever a frame
triggers that must wait (stopping a file playback over REST, cancelling the provider's reply) is
signalled to a task of the call, never awaited in a callback. The engine's media clock sends the
capture leg's keepalive silence and ends a leg that sent nothing for the read timeout.

Tasks (all in the call's task group, so a hang-up cancels them together):
  provider:      one provider session at a time. A lost session plays the hold prompt at once
                 and is reconnected with back-off for up to `calls.provider_reconnect_s`; caller
                 audio meanwhile is dropped. A transcribed turn with no response in
                 `calls.provider_response_timeout_s` counts as a lost session.
  barge-in:      caller speech while the agent talks stops the agent and cancels its reply
  limits:        max call duration and the silent-caller timeout end the call with a goodbye
  output:        the agent output's own tasks (file player, or the stream's failure watch)
  actions:       the model's tool calls and the caller's key presses, one at a time
                 (calls/actions.py); an answered attended transfer ends the conversation
                 and leaves the caller bridged with the target
"""

from __future__ import annotations

import anyio

from voice_common.pcm import duration_s
from voice_common.resample import StreamResampler

from ..audio.pcm import ASTERISK_FILE_RATE
from ..audio.prompts import load_prompt
from ..audio.vad import VAD_RATES, CallerSpeechStarted, CallerSpeechStopped, SpeechDetector
from ..concurrency import single_error
from ..config import Settings
from ..observability import metrics
from ..observability.logs import get_logger
from ..playback.output import AgentOutput
from ..providers import base
from ..transports.audiosocket import codec
from ..playback.media_clock import MediaClock
from ..transports.audiosocket.connection import AudioSocketConnection, EndKind, LegEnd
from .barge_in import BargeInPolicy
from ..tools.base import ToolRegistry
from ..tools.lookup import LookupTool, fill
from .actions import ActionRunner
from .call import Call, CallerAction
from .deps import CallDeps
from .turn_timer import TurnTimer

log = get_logger(__name__)


PROVIDER_RETRY_S = (0.2, 0.5, 1.0, 2.0)


def opening_words(persona) -> str:
    """What the agent says first: a recorded call's spoken announcement (text, not `sound:`),
    then the greeting."""
    parts = []
    if persona.record and persona.record_announcement and not persona.record_announcement.startswith("sound:"):
        parts.append(persona.record_announcement.strip())
    if persona.greeting:
        parts.append(persona.greeting.strip())
    return " ".join(p for p in parts if p)


class Conversation:
    def __init__(
        self,
        call: Call,
        settings: Settings,
        capture: AudioSocketConnection,
        provider: base.Provider,
        output: AgentOutput,
        media: MediaClock,
        deps: CallDeps,
    ):
        self.call = call
        self.settings = settings
        self.capture = capture
        self.provider = provider
        self.session: base.ProviderSession | None = None
        self.output = output
        self.media = media
        self._caller_active = anyio.Event()  # set on each caller speech onset (silence timeout)
        self._response_due: float | None = None  # a caller turn was transcribed: a response is due by then
        self._response_watch = anyio.Event()
        self._speech = anyio.Event()  # a barge-in was decided: the barge-in task carries it out
        self._barge_in: tuple[str | None, str] | None = None  # (reply to cancel, source), not yet carried out
        self._prompts = 0
        self.barge_in = BargeInPolicy(settings.barge_in)
        self.record = call.recorder
        self.timer = TurnTimer(on_turn=self.record.turn_latency, call_id=call.id)
        self._response_id: str | None = None
        self._detector: SpeechDetector | None = None
        self._to_provider: StreamResampler | None = None
        self._log = log.bind(call_id=call.id)  # for the capture callbacks, which run outside the call's task
        output.on_first_audio = self.timer.first_audio_out
        tools = deps.tools.get(call.persona_name) or ToolRegistry([], call.persona.tool_timeout_s)
        self.actions = ActionRunner(call, deps, tools, lambda: self.session, lambda: self._response_id, self._key_pressed)

    async def run(self) -> None:
        self.capture.attach(self._on_capture_event, self._on_capture_end)
        self.media.add_leg(self.capture)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._barge_ins)
                tg.start_soon(self.output.run)
                tg.start_soon(self._limits)
                tg.start_soon(self.actions.run)
                tg.start_soon(self._end_when_handed_over, tg.cancel_scope)
                await self._provider_sessions()
                tg.cancel_scope.cancel()
        finally:
            self.media.remove_leg(self.capture)
            self.capture.detach()

    async def _provider_sessions(self) -> None:
        """Run provider sessions until the call ends; raises ProviderUnavailable when it gives up."""
        persona = self.call.persona
        instructions, greeting = persona.instructions, opening_words(persona)
        if persona.lookup.before_greeting and persona.lookup.url:
            fields = await self._lookup_before_greeting()
            instructions, greeting = fill(instructions, fields), fill(greeting, fields)
        options = base.SessionOptions(instructions, persona.voice, self.call.id, self.actions.tools.specs(),
                                      persona.tool_choice)
        greeted = not greeting
        down_since: float | None = None
        attempt = 0
        while True:
            try:
                async with self.provider.session(options) as session:
                    if down_since is not None:
                        log.info("provider.reconnected", down_s=round(anyio.current_time() - down_since, 2))
                    down_since, attempt = None, 0
                    self.session = session
                    try:
                        if not greeted:
                            await session.say(greeting)
                            greeted = True
                        await self._run_session(session)
                    finally:
                        self.session = None
            except base.ProviderRejected as exc:
                log.error("provider.rejected", error=str(exc))
                raise  # no key, or a key the vendor refuses: the failure context at once
            except base.ProviderUnavailable as exc:
                now = anyio.current_time()
                log.error("provider.lost", error=str(exc), attempt=attempt)
                if down_since is None:
                    down_since = now
                    await self._play_prompt("provider-down", self.settings.calls.provider_down_prompt)
                if now - down_since >= self.settings.calls.provider_reconnect_s:
                    raise
                await anyio.sleep(PROVIDER_RETRY_S[min(attempt, len(PROVIDER_RETRY_S) - 1)])
                attempt += 1

    async def _lookup_before_greeting(self) -> dict:
        """The lookup once, before the greeting (its fields fill `{name}` placeholders); a failed
        lookup leaves them empty: the call goes on."""
        try:
            return await LookupTool(self.call.persona.lookup).fetch(self.call.caller_number, {}, self.call.id)
        except Exception as exc:  # noqa: BLE001 - ToolFailed, or a bug: the greeting goes on
            log.warning("lookup.before_greeting_failed", error=str(exc))
            return {}

    async def _end_when_handed_over(self, scope: anyio.CancelScope) -> None:
        await self.actions.handed_over.wait()
        log.info("call.handed_over", target=self.call.transferred_to)
        scope.cancel()

    async def _run_session(self, session: base.ProviderSession) -> None:
        self._response_due = None
        with single_error(base.ProviderUnavailable):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch_response)
                await session.run(self._on_provider_event)
                tg.cancel_scope.cancel()

    async def _watch_response(self) -> None:
        """A transcribed caller turn must get a response (response.created) in time."""
        timeout = self.settings.calls.provider_response_timeout_s
        while True:
            await self._response_watch.wait()
            self._response_watch = anyio.Event()
            while (due := self._response_due) is not None:
                now = anyio.current_time()
                if now >= due:
                    self._response_due = None
                    raise base.ProviderUnavailable(f"no response within {timeout} s of the caller's turn")
                await anyio.sleep(due - now)

    async def _play_prompt(self, name: str, override) -> float:
        """Interrupt the agent and play a bundled prompt; returns its duration."""
        await self.output.stop(self._response_id)
        self._response_id = None
        pcm = load_prompt(name, override)
        self._prompts += 1
        prompt_id = f"prompt-{name}-{self._prompts}"
        self.output.audio(prompt_id, pcm, ASTERISK_FILE_RATE)
        self.output.response_done(prompt_id)
        return duration_s(pcm, ASTERISK_FILE_RATE)

    async def _limits(self) -> None:
        """Max duration and silent-caller timeout: say goodbye, then end the call."""
        calls = self.settings.calls
        deadline = self.call.started_at + calls.max_duration_s
        while True:
            wait = min(calls.silence_timeout_s, deadline - anyio.current_time())
            with anyio.move_on_after(max(0.0, wait)) as scope:
                await self._caller_active.wait()
            if not scope.cancelled_caught:
                self._caller_active = anyio.Event()
                continue
            if anyio.current_time() >= deadline:
                reason = "max call duration reached"
            elif self.output.talking:
                continue  # the agent is talking: the caller is listening, not silent
            else:
                reason = "caller silent"
            log.info("call.limit", reason=reason)
            length = await self._play_prompt("goodbye", calls.goodbye_prompt)
            await anyio.sleep(length + 0.5)
            self.call.end(reason, caller_action=CallerAction.HANGUP)
            return

    # ---- callbacks: run synchronously, once per frame or event ----------------------------

    def _on_capture_event(self, event: codec.Event) -> None:
        if type(event) is codec.Audio:
            pcm = event.payload
            session = self.session
            if session is not None:  # while the provider reconnects, caller audio is dropped
                to_provider = self._to_provider
                if to_provider is None or to_provider.to_rate != session.input_rate or to_provider.from_rate != event.rate:
                    to_provider = self._to_provider = StreamResampler(event.rate, session.input_rate)
                session.push_audio(to_provider.process_bytes(pcm))
            detector = self._detector
            if detector is None:
                if event.rate not in VAD_RATES:
                    return
                b = self.settings.barge_in
                detector = self._detector = SpeechDetector(event.rate, b.vad_aggressiveness, b.min_speech_ms, b.min_level_dbfs)
            change = detector.feed(pcm)
            if type(change) is CallerSpeechStarted:
                self._caller_active.set()
                self._speech_started("engine")
            elif type(change) is CallerSpeechStopped:
                self.timer.caller_quiet(change.stop_delay_s)
            elif detector.speaking:
                self._speech_started("engine (caller kept talking)", still_speaking=True)
        elif isinstance(event, codec.Dtmf):
            self._log.info("call.dtmf", digit=event.digit, via="audiosocket")
        elif isinstance(event, codec.Hangup):
            self.call.end("capture leg hung up")
        elif isinstance(event, codec.Error):
            self._log.warning("audiosocket.error_frame", payload=event.payload.hex())

    def _on_capture_end(self, end: LegEnd) -> None:
        if end.kind is EndKind.TIMEOUT:
            self.call.end("capture leg silent")
        elif end.kind is EndKind.MALFORMED:
            self.call.end("capture leg sent a malformed frame")
        elif end.kind is EndKind.HANDLER_FAILED:
            self.call.end(f"{end} (capture leg)")
        else:
            self.call.end("capture leg closed")

    def _on_provider_event(self, event: base.ProviderEvent) -> None:
        if type(event) is base.AgentAudio:
            if event.response_id == self._response_id:
                self.timer.first_audio_in()
                self.output.audio(event.response_id, event.pcm, event.rate)
                self.actions.speech.audio(event.response_id, len(event.pcm) / 2 / event.rate)
        elif isinstance(event, base.AgentText):
            if event.response_id == self._response_id:
                self.output.text_boundary(event.response_id)
                self.record.agent_text(event.response_id, event.text)
                log.info("agent.text", text=event.text)
        elif isinstance(event, base.ResponseStarted):
            self._response_due = None
            self._response_id = event.response_id
            self.timer.response_started()
            self.actions.speech.started(event.response_id)
        elif isinstance(event, base.ResponseDone):
            if event.response_id == self._response_id:
                self.output.response_done(event.response_id)
            self.actions.speech.done(event.response_id)
            self.record.agent_done(event.response_id, interrupted=event.status != "completed")
            log.info("agent.response_done", status=event.status)
        elif isinstance(event, base.ToolCall):
            self._response_due = None  # the model answered the turn with a tool call
            self.actions.tool_call(event)
        elif isinstance(event, base.SpeechStarted):
            if self.settings.barge_in.use_provider_events:
                self._speech_started("provider")
        elif isinstance(event, base.SpeechStopped):
            self.timer.speech_stopped()
        elif isinstance(event, base.Transcript):
            if event.text.strip():
                self._response_due = anyio.current_time() + self.settings.calls.provider_response_timeout_s
                self._response_watch.set()
            else:
                self._response_due = None
            self.timer.transcript()
            self.record.caller_said(event.text)
            log.info("caller.transcript", text=event.text)
        elif isinstance(event, base.TurnMetrics):
            self.timer.server_metrics(event.values)
        elif isinstance(event, base.ProviderError):
            log.warning("provider.error", message=event.message)

    def _speech_started(self, source: str, *, still_speaking: bool = False) -> None:
        """Caller speech while the agent talks: decided here, at once and in event order (the
        provider's own response.done may follow in the same read), so the reply's id is
        forgotten before any more of its audio or its end is handled. The `_barge_ins` task
        then stops the output and cancels the reply."""
        if self._barge_in is None and self.barge_in.should_interrupt(self.output, still_speaking=still_speaking):
            if self._response_id is not None:
                self.record.agent_done(self._response_id, interrupted=True)
            self._barge_in = (self._response_id, source)
            self._response_id = None
            self._speech.set()

    def _key_pressed(self, source: str) -> None:
        """A key press stops the agent like speech does (no protection window: it is deliberate)."""
        if self._barge_in is None and self.output.talking:
            self._barge_in = (self._response_id, source)
            self._response_id = None
            self._speech.set()

    # ---- barge-in -------------------------------------------------------------------------

    async def _barge_ins(self) -> None:
        while True:
            await self._speech.wait()
            self._speech = anyio.Event()
            if self._barge_in is not None:
                try:
                    await self._interrupt(*self._barge_in)
                finally:
                    self._barge_in = None  # only now: no second barge-in while this one stops the agent

    async def _interrupt(self, cancelled: str | None, source: str) -> None:
        """Stop the agent at once and cancel its reply."""
        stopped = await self.output.stop(cancelled)
        if self.session is not None:
            try:
                await self.session.cancel_response()
            except base.ProviderUnavailable:
                pass
        metrics.BARGE_INS.labels(self.output.mode).inc()
        log.info("call.barge_in", source=source, stopped_audio=stopped)
