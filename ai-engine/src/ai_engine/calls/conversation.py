"""One call's conversation, once its media path is up: caller audio → provider → agent audio.

Tasks (all in the call's task group, so a hang-up cancels them together):
  caller audio:  capture leg frames → engine VAD (barge-in, end of speech) → provider, frame by frame
  keepalive:     silence on the capture leg when nothing crossed it (2 s timeout, DESIGN §3)
  provider:      provider events → agent output (file or stream) / barge-in / transcripts / timing
  output:        the agent output's own tasks (file player, or the paced stream)
"""

from __future__ import annotations

import anyio

from ..audio.pcm import Resampler
from ..audio.vad import VAD_RATES, SpeechDetector
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


class Conversation:
    def __init__(
        self, call: Call, settings: Settings, capture: AudioSocketConnection, session: base.ProviderSession, output: AgentOutput
    ):
        self.call = call
        self.settings = settings
        self.capture = capture
        self.session = session
        self.output = output
        self.barge_in = BargeInPolicy(settings.barge_in)
        self.timer = TurnTimer(mode=output.mode)
        self._response_id: str | None = None
        self._detector: SpeechDetector | None = None
        output.on_first_audio = self.timer.first_audio_out

    async def run(self) -> None:
        events_send, events_receive = anyio.create_memory_object_stream[base.ProviderEvent](256)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._caller_audio)
            tg.start_soon(self.capture.keepalive, self.settings.audiosocket.keepalive_s)
            tg.start_soon(self._read_provider, events_send)
            tg.start_soon(self._handle_provider, events_receive)
            tg.start_soon(self.output.run)
            if self.call.persona.greeting:
                await self.session.say(self.call.persona.greeting)

    async def _caller_audio(self) -> None:
        to_provider: Resampler | None = None
        while True:
            try:
                event = await self.capture.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                self.call.end("capture leg closed")
                return
            except TimeoutError:
                self.call.end("capture leg silent")
                return
            except codec.ProtocolError as exc:
                log.error("audiosocket.protocol_error", error=str(exc))
                self.call.end("capture leg sent a malformed frame")
                return
            if isinstance(event, codec.Audio):
                if to_provider is None:
                    to_provider = Resampler(event.rate, self.session.input_rate)
                    if event.rate in VAD_RATES:
                        b = self.settings.barge_in
                        self._detector = SpeechDetector(event.rate, b.vad_aggressiveness, b.min_speech_ms, b.min_level_dbfs)
                await self.session.send_audio(to_provider.process(event.payload))
                if self._detector is not None:
                    change = self._detector.feed(event.payload)
                    if change == "start":
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

    async def _read_provider(self, send: anyio.abc.ObjectSendStream[base.ProviderEvent]) -> None:
        async with send:
            async for event in self.session.events():
                await send.send(event)

    async def _handle_provider(self, receive: anyio.abc.ObjectReceiveStream[base.ProviderEvent]) -> None:
        async with receive:
            async for event in receive:
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
        await self.session.cancel_response()
        metrics.BARGE_INS.labels(self.output.mode).inc()
        log.info("call.barge_in", source=source, stopped_audio=stopped)
