"""One call's whole lifetime, in one task group: build the media path, converse, tear down.

A hang-up (the caller's StasisEnd: without subscribeAll no ChannelDestroyed comes for it,
FACT 28) sets `call.ended`, which cancels the task group; cleanup then runs shielded and
bounded, whatever was running.
"""

from __future__ import annotations

import anyio

from ..concurrency import single_error
from ..observability import metrics
from ..observability.logs import bind_call, get_logger
from ..playback.fallback_output import FallbackOutput
from ..playback.file_output import FileOutput
from ..playback.file_player import FilePlayer
from ..playback.output import AgentOutput
from ..playback.stream_output import StreamOutput
from ..transports.audiosocket.codec import FORMAT_KINDS
from ..providers.base import ProviderUnavailable
from ..records import recording
from ..transports.ari.errors import AriError, AriUnavailable
from ..transports.leg import EndKind, LegEnd
from . import media_path
from .call import Call, CallerAction
from .conversation import Conversation
from . import transfer
from .deps import CallDeps
from .teardown import teardown

log = get_logger(__name__)


class CallSession:
    def __init__(self, call: Call, deps: CallDeps):
        self.call = call
        self.deps = deps
        s = deps.settings
        self.player = FilePlayer(
            deps.rest, deps.store, s.ari.app, call.id, call.bridge_id, s.playback.finish_timeout_margin_s
        )
        self.output: AgentOutput = FileOutput(self.player, s.playback.segment_min_ms)
        self._tg: anyio.abc.TaskGroup | None = None
        self._media_ready = False
        self._conversation: Conversation | None = None
        self.announcement = recording.Announcement(call)

    async def run(self) -> None:
        call = self.call
        with bind_call(call_id=call.id):
            log.info("call.started", caller=call.caller_number, args=call.args, persona=call.persona_name)
            metrics.ACTIVE_CALLS.inc()
            outcome = "completed"
            try:
                with single_error(Exception):
                    async with anyio.create_task_group() as tg:
                        self._tg = tg
                        tg.start_soon(self._handle_events)
                        tg.start_soon(self._cancel_when_ended, tg.cancel_scope)
                        await self._converse()
            except (media_path.SetupFailed, AriError, AriUnavailable) as exc:
                if await self._caller_left():  # the steps on its channel fail then: no failure
                    call.end("caller hung up during setup", caller_action=CallerAction.GONE)
                    log.info("call.caller_left_during_setup", error=str(exc))
                else:
                    outcome = "setup_failed" if not self.call.ended.is_set() else outcome
                    call.end(f"ARI: {exc}")
                    log.error("call.failed", error=str(exc))
            except ProviderUnavailable as exc:
                outcome = "provider_failed"
                call.end(f"provider: {exc}")
                log.error("call.failed", error=str(exc))
            except Exception as exc:  # a bug must end this call cleanly, never the engine
                outcome = "error"
                call.end(f"error: {exc!r}")
                log.exception("call.crashed")
            finally:
                if outcome == "completed" and not self._media_ready and call.caller_action is not CallerAction.GONE:
                    # Ended before its media path was up, and not by the caller (e.g. the
                    # capture leg was refused and Asterisk hung it up): set-up failed.
                    outcome = "setup_failed"
                try:
                    await teardown(call, self.deps, self.output.close)
                except Exception:  # a fault in cleanup stays in this call: never the engine's end
                    log.exception("call.teardown_failed")
                self.deps.registry.remove(call)
                if self.deps.records is not None:  # queued, never awaited: the teardown is done first
                    self.deps.records.submit(call.recorder.finish(outcome, call.end_reason))
                metrics.ACTIVE_CALLS.dec()
                metrics.CALLS.labels(outcome).inc()
                log.info(
                    "call.ended",
                    reason=call.end_reason,
                    outcome=outcome,
                    duration_s=round(anyio.current_time() - call.started_at, 3),
                )

    async def _converse(self) -> None:
        deps, call = self.deps, self.call
        leg = await media_path.build(call, deps)
        self._media_ready = True
        metrics.CALL_SETUP_SECONDS.observe(anyio.current_time() - call.started_at)
        log.info("call.media_ready", transport=deps.settings.calls.audio_transport)
        await recording.start(call, deps, self.announcement)
        assert leg.connection is not None
        if deps.settings.playback.downstream_mode == "stream":
            self.output = await self._stream_output()
        provider = deps.providers[call.persona.provider]
        self._conversation = Conversation(call, deps.settings, leg.connection, provider, self.output, deps.media_clock, deps)
        await self._conversation.run()
        if call.transferred_to is not None and not call.ended.is_set():
            # An answered attended transfer: the caller talks to the target; our legs go, and the
            # call lasts until one of them hangs up (teardown then hangs up the other).
            await self.output.close()
            with anyio.CancelScope(shield=True):
                await transfer.release_agent_legs(call, deps)
            await call.ended.wait()

    async def _stream_output(self) -> AgentOutput:
        """The paced stream on a playback leg, falling back to files if the leg cannot be had."""
        p = self.deps.settings.playback
        try:
            leg = await media_path.open_playback_leg(self.call, self.deps)
        except (media_path.SetupFailed, AriError, AriUnavailable) as exc:
            metrics.PLAYBACK_FAILURES.labels("stream_setup").inc()
            log.error("stream.setup_failed_using_files", error=str(exc))
            return self.output
        assert leg.connection is not None
        stream = StreamOutput(
            leg.connection, FORMAT_KINDS[p.stream_format], self.deps.media_clock, p.stream_start_ms, call_id=self.call.id
        )
        return FallbackOutput(stream, self.output)

    async def _caller_left(self) -> bool:
        """Is the caller gone? (Its StasisEnd came, or ARI no longer knows its channel: the
        StasisEnd may still be on its way when the REST error arrives.)"""
        if self.call.caller_action is CallerAction.GONE:
            return True
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.deps.settings.ari.request_timeout_s):
            try:
                return await self.deps.rest.get_channel(self.call.caller_id) is None
            except (AriError, AriUnavailable):
                return False
        return False

    async def _cancel_when_ended(self, scope: anyio.CancelScope) -> None:
        await self.call.ended.wait()
        scope.cancel()

    async def _handle_events(self) -> None:
        async for event in self.call.events:
            self.on_event(event)

    def on_event(self, event: dict) -> None:
        kind = event.get("type")
        channel_id = (event.get("channel") or {}).get("id")
        call = self.call
        leg = call.transfer_leg
        if leg is not None and channel_id and leg.on_event(kind or "", channel_id):
            if leg.gone.is_set() and call.transferred_to is not None:
                call.end("transfer target hung up", caller_action=CallerAction.HANGUP)
            return
        if kind == "StasisStart":
            if channel_id in call.stasis_started:
                call.stasis_started[channel_id].set()
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            if channel_id == call.caller_id:
                call.end("caller hung up", caller_action=CallerAction.GONE)
            elif call.transferred_to is not None:
                pass  # our own legs leaving after the call was handed to a transfer target
            elif (capture := call.legs.get("capture")) is not None and channel_id in capture.channel_ids:
                call.end("capture leg ended")
            elif (playback := call.legs.get("playback")) is not None and channel_id in playback.channel_ids:
                # The stream's leg is gone (an RTP leg has no connection to close): files take over.
                if playback.connection is not None:
                    playback.connection.end(LegEnd(EndKind.CLOSED, "channel left Stasis"))
        elif kind in ("PlaybackStarted", "PlaybackFinished"):
            self.player.on_event(event)
            self.announcement.on_event(event)
        elif kind == "ChannelDtmfReceived" and channel_id == call.caller_id:
            digit = str(event.get("digit", ""))
            log.info("call.dtmf", digit=digit, duration_ms=event.get("duration_ms"))
            metrics.DTMF_KEYS.inc()
            if self._conversation is not None and call.transferred_to is None:
                self._conversation.actions.dtmf(digit)
        elif kind == "EngineResync" and self._tg is not None:
            self._tg.start_soon(self._resync)

    async def _resync(self) -> None:
        """After an ARI reconnect: events of the outage were dropped, so ask (FACTS 37, 38)."""
        rest, call = self.deps.rest, self.call
        try:
            if await rest.get_channel(call.caller_id) is None:
                call.end("caller left while ARI was disconnected", caller_action=CallerAction.GONE)
                return
            capture = call.legs.get("capture")
            if capture is not None and capture.bound.is_set() and await rest.get_channel(capture.channel_id) is None:
                call.end("capture leg ended while ARI was disconnected")
                return
            await self.player.resync()
        except (AriError, AriUnavailable) as exc:
            log.warning("call.resync_failed", error=str(exc))
