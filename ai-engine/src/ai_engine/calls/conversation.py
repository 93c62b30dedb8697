"""One call's conversation, once its media path is up: caller audio → provider → agent audio.

Tasks (all in the call's task group, so a hang-up cancels them together):
  caller audio:  capture leg frames → engine VAD (barge-in, end of speech) → provider, frame by frame
  keepalive:     silence on the capture leg when nothing crossed it (2 s timeout, DESIGN §3);
                 a leg that sent nothing for the read timeout ends the call
  provider:      one provider session at a time; its events → agent output / barge-in / timing.
                 A lost session plays the hold prompt at once and is reconnected with back-off
                 for up to `calls.provider_reconnect_s`; caller audio meanwhile is dropped.
  limits:        max call duration and the silent-caller timeout end the call with a goodbye
  output:        the agent output's own tasks (file player, or the paced stream)
"""

from __future__ import annotations

import anyio

from ..audio.pcm import ASTERISK_FILE_RATE, Resampler, duration_s
from ..audio.prompts import load_prompt
from ..audio.vad import VAD_RATES, SpeechDetector
from ..concurrency import single_error
from ..config import Settings
from ..observability import metrics
from ..observability.logs import get_logger
from ..playback.output import AgentOutput
from ..providers import base
from ..transports.audiosocket import codec
from ..transports.audiosocket.connection import AudioSocketConnection
from .barge_in import BargeInPolicy
from .call import Call
from .turn_timer import TurnTimer

log = get_logger(__name__)


PROVIDER_RETRY_S = (0.2, 0.5, 1.0, 2.0)


class Conversation:
    def __init__(
        self,
        call: Call,
        settings: Settings,
        capture: AudioSocketConnection,
        provider: base.Provider,
        output: AgentOutput,
    ):
        self.call = call
        self.settings = settings
        self.capture = capture
        self.provider = provider
        self.session: base.ProviderSession | None = None
        self.output = output
        self._caller_active = anyio.Event()  # set on each caller speech onset (silence timeout)
        self._awaiting_response = False  # a caller turn was transcribed; a response is due
        self._prompts = 0
        self.barge_in = BargeInPolicy(settings.barge_in)
        self.timer = TurnTimer(mode=output.mode)
        self._response_id: str | None = None
        self._detector: SpeechDetector | None = None
        output.on_first_audio = self.timer.first_audio_out

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._caller_audio)
            tg.start_soon(self._keepalive)
            tg.start_soon(self.output.run)
            tg.start_soon(self._limits)
            await self._provider_sessions()
            tg.cancel_scope.cancel()

    async def _provider_sessions(self) -> None:
        """Run provider sessions until the call ends; raises ProviderUnavailable when it gives up."""
        options = base.SessionOptions(self.call.persona.instructions, self.call.persona.voice, self.call.id)
        greeted = not self.call.persona.greeting
        down_since: float | None = None
        attempt = 0
        while True:
            try:
                async with self.provider.session(options) as session:
                    if down_since is not None:
                        log.info("provider.reconnected", down_s=round(anyio.current_time() - down_since, 2))
                    down_since, attempt = None, 0
                    self.session = session
                    if not greeted:
                        await session.say(self.call.persona.greeting or "")
                        greeted = True
                    await self._run_session(session)
            except base.ProviderUnavailable as exc:
                self.session = None
                now = anyio.current_time()
                log.error("provider.lost", error=str(exc), attempt=attempt)
                if down_since is None:
                    down_since = now
                    await self._play_prompt("provider-down", self.settings.calls.provider_down_prompt)
                if now - down_since >= self.settings.calls.provider_reconnect_s:
                    raise
                await anyio.sleep(PROVIDER_RETRY_S[min(attempt, len(PROVIDER_RETRY_S) - 1)])
                attempt += 1

    async def _run_session(self, session: base.ProviderSession) -> None:
        events_send, events_receive = anyio.create_memory_object_stream[base.ProviderEvent](256)
        with single_error(base.ProviderUnavailable):
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._handle_provider, events_receive)
                async with events_send:
                    async for event in session.events():
                        await events_send.send(event)
                tg.cancel_scope.cancel()

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
            self.call.end(reason, caller_action="hangup")
            return

    async def _keepalive(self) -> None:
        """Silence on the capture leg when idle; a leg that sent nothing for the read timeout is dead."""
        try:
            await self.capture.keepalive(self.settings.audiosocket.keepalive_s)
        except TimeoutError:
            self.call.end("capture leg silent")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            self.call.end("capture leg closed")

    async def _caller_audio(self) -> None:
        to_provider: Resampler | None = None
        while True:
            try:
                event = await self.capture.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                self.call.end("capture leg closed")
                return
            except codec.ProtocolError as exc:
                log.error("audiosocket.protocol_error", error=str(exc))
                self.call.end("capture leg sent a malformed frame")
                return
            if isinstance(event, codec.Audio):
                session = self.session
                if session is not None:  # while the provider reconnects, caller audio is dropped
                    if to_provider is None or to_provider.out_rate != session.input_rate:
                        to_provider = Resampler(event.rate, session.input_rate)
                    try:
                        await session.send_audio(to_provider.process(event.payload))
                    except base.ProviderUnavailable:
                        pass  # the session's reader notices and reconnects
                if self._detector is None and event.rate in VAD_RATES:
                    b = self.settings.barge_in
                    self._detector = SpeechDetector(event.rate, b.vad_aggressiveness, b.min_speech_ms, b.min_level_dbfs)
                if self._detector is not None:
                    change = self._detector.feed(event.payload)
                    if change == "start":
                        self._caller_active.set()
                        await self._on_speech_start("engine")
                    elif change == "stop":
                        self.timer.caller_quiet(self._detector.stop_delay_s)
            elif isinstance(event, codec.Dtmf):
                log.info("call.dtmf", digit=event.digit, via="audiosocket")
            elif isinstance(event, codec.Hangup):
                self.call.end("capture leg hung up")
                return
            elif isinstance(event, codec.Error):
                log.warning("audiosocket.error_frame", payload=event.payload.hex())

    async def _handle_provider(self, receive: anyio.abc.ObjectReceiveStream[base.ProviderEvent]) -> None:
        timeout = self.settings.calls.provider_response_timeout_s
        async with receive:
            while True:
                try:
                    if not self._awaiting_response:
                        event = await receive.receive()  # no timer per audio delta
                    else:
                        with anyio.move_on_after(timeout) as scope:
                            event = await receive.receive()
                        if scope.cancelled_caught:
                            self._awaiting_response = False
                            raise base.ProviderUnavailable(f"no response within {timeout} s of the caller's turn")
                except anyio.EndOfStream:
                    return  # the session ended
                await self._on_provider_event(event)

    async def _on_provider_event(self, event: base.ProviderEvent) -> None:
        if isinstance(event, base.AgentAudio):
            if event.response_id == self._response_id:
                self.timer.first_audio_in()
                self.output.audio(event.response_id, event.pcm, event.rate)
        elif isinstance(event, base.AgentText):
            if event.response_id == self._response_id:
                self.output.text_boundary(event.response_id)
                log.info("agent.text", text=event.text)
        elif isinstance(event, base.ResponseStarted):
            self._awaiting_response = False
            self._response_id = event.response_id
            self.timer.response_started()
        elif isinstance(event, base.ResponseDone):
            if event.response_id == self._response_id:
                self.output.response_done(event.response_id)
            log.info("agent.response_done", status=event.status)
        elif isinstance(event, base.SpeechStarted):
            if self.settings.barge_in.use_provider_events:
                await self._on_speech_start("provider")
        elif isinstance(event, base.SpeechStopped):
            self.timer.speech_stopped()
        elif isinstance(event, base.Transcript):
            self._awaiting_response = bool(event.text.strip())
            self.timer.transcript()
            log.info("caller.transcript", text=event.text)
        elif isinstance(event, base.TurnMetrics):
            self.timer.server_metrics(event.values)
        elif isinstance(event, base.ProviderError):
            log.warning("provider.error", message=event.message)

    async def _on_speech_start(self, source: str) -> None:
        """Caller speech while the agent talks: stop the agent at once and cancel its reply."""
        if not self.barge_in.should_interrupt(self.output):
            return
        cancelled, self._response_id = self._response_id, None
        stopped = await self.output.stop(cancelled)
        if self.session is not None:
            try:
                await self.session.cancel_response()
            except base.ProviderUnavailable:
                pass
        metrics.BARGE_INS.labels(self.output.mode).inc()
        log.info("call.barge_in", source=source, stopped_audio=stopped)
