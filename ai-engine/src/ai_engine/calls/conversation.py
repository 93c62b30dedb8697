"""One call's conversation, once its media path is up: caller audio → provider → agent audio.

Tasks (all in the call's task group, so a hang-up cancels them together):
  caller audio:  capture leg frames → provider (`input_audio_buffer.append` per 20 ms frame)
  keepalive:     silence on the capture leg when nothing crossed it (2 s timeout, DESIGN §3)
  provider:      provider events → segments (file mode) / barge-in / transcripts / turn timing
  player:        segments → bridge playbacks, in order
"""

from __future__ import annotations

import anyio

from ..audio.pcm import ASTERISK_FILE_RATE, Resampler
from ..config import Settings
from ..observability import metrics
from ..observability.logs import get_logger
from ..playback.file_player import FilePlayer
from ..playback.segmenter import Segmenter
from ..providers import base
from ..transports.audiosocket import codec
from ..transports.audiosocket.connection import AudioSocketConnection
from .call import Call
from .turn_timer import TurnTimer

log = get_logger(__name__)

SEGMENT_IDLE_S = 0.04  # a pause in a reply's audio this long closes the current file


class Conversation:
    def __init__(
        self, call: Call, settings: Settings, capture: AudioSocketConnection, session: base.ProviderSession, player: FilePlayer
    ):
        self.call = call
        self.settings = settings
        self.capture = capture
        self.session = session
        self.player = player
        self.segmenter = Segmenter(settings.playback.segment_min_ms)
        self.timer = TurnTimer(mode="file")
        self._response_id: str | None = None
        self._to_8k: Resampler | None = None
        player.on_started = self.timer.first_audio_out

    async def run(self) -> None:
        events_send, events_receive = anyio.create_memory_object_stream[base.ProviderEvent](256)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._caller_audio)
            tg.start_soon(self.capture.keepalive, self.settings.audiosocket.keepalive_s)
            tg.start_soon(self._read_provider, events_send)
            tg.start_soon(self._handle_provider, events_receive)
            tg.start_soon(self.player.run)
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
                await self.session.send_audio(to_provider.process(event.payload))
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
            while True:
                with anyio.move_on_after(SEGMENT_IDLE_S if self.segmenter.pending else None) as scope:
                    event = await receive.receive()
                if scope.cancelled_caught:
                    self._queue(self.segmenter.flush())
                    continue
                await self._on_provider_event(event)

    async def _on_provider_event(self, event: base.ProviderEvent) -> None:
        if isinstance(event, base.AgentAudio):
            if event.response_id != self._response_id:
                return  # audio of a response we moved on from
            self.timer.first_audio_in()
            if self._to_8k is None or self._to_8k.in_rate != event.rate:
                self._to_8k = Resampler(event.rate, ASTERISK_FILE_RATE)
            self._queue(self.segmenter.add_audio(event.response_id, self._to_8k.process(event.pcm)))
        elif isinstance(event, base.AgentText):
            if event.response_id == self._response_id:
                self._queue(self.segmenter.text_boundary(event.response_id))
                log.info("agent.text", text=event.text)
        elif isinstance(event, base.ResponseStarted):
            self._response_id = event.response_id
            self.timer.response_started()
        elif isinstance(event, base.ResponseDone):
            if event.response_id == self._response_id:
                self._queue(self.segmenter.flush())
            log.info("agent.response_done", status=event.status)
        elif isinstance(event, base.SpeechStarted):
            await self._barge_in()
        elif isinstance(event, base.SpeechStopped):
            self.timer.speech_stopped()
        elif isinstance(event, base.Transcript):
            self.timer.transcript()
            log.info("caller.transcript", text=event.text)
        elif isinstance(event, base.TurnMetrics):
            self.timer.server_metrics(event.values)
        elif isinstance(event, base.ProviderError):
            log.warning("provider.error", message=event.message)

    def _queue(self, segments: list) -> None:
        for segment in segments:
            self.player.enqueue(segment)

    async def _barge_in(self) -> None:
        """Caller speech while the agent talks: stop the agent and cancel its response."""
        if not self.player.playing and not self.segmenter.pending:
            return
        cancelled = self._response_id
        self._response_id = None
        self.segmenter.drop()
        stopped = await self.player.stop(cancelled)
        await self.session.cancel_response()
        metrics.BARGE_INS.labels("file").inc()
        log.info("call.barge_in", stopped_playback=stopped)
