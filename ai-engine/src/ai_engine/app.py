"""The engine: every long-lived part in one task group.

  ARI supervisor  → events → CallManager (one task group per call)
  AudioSocket server → connections bound to calls by UUID
  media clock: one 20 ms tick paces every call's stream, keeps capture legs alive
  HTTP API (health, metrics, calls), media sweeper
"""

from __future__ import annotations

import gc
import signal

import anyio
import anyio.abc

from .api.http import HttpServer
from .calls.call import CallerAction
from .calls.deps import CallDeps
from .calls.manager import CallManager
from .calls.registry import CallRegistry
from .config import Settings
from .observability.logs import get_logger
from .playback.media_clock import MediaClock
from .playback.media_store import MediaStore, run_sweeper
from .providers.base import Provider
from .providers.registry import build_providers
from .records.record import iso
from .records.redaction import redact
from .records.service import RecordsService
from .transports.ari.rest import AriRest
from .transports.ari.supervisor import AriSupervisor
from .transports.rtp.ports import RtpPorts
from .transports.audiosocket.server import AudioSocketServer

log = get_logger(__name__)


class Engine:
    def __init__(self, settings: Settings):
        settings.check_ready_to_run()
        self.settings = settings
        self.registry = CallRegistry()
        self.rest = AriRest(settings.ari.request_timeout_s)
        self.store = MediaStore(settings.playback.media_dir, settings.playback.sound_prefix)
        self._providers: dict[str, Provider] = build_providers(settings)
        self.audiosocket = AudioSocketServer(
            settings.audiosocket,
            self.registry.bind_connection,
            max_connections=settings.calls.max_concurrent_calls * 3 + 16,
            awaited_legs=self.registry.awaited_legs,
            setup_timeout_s=settings.calls.setup_timeout_s,
        )
        self.media_clock = MediaClock(
            max_lag_s=settings.playback.stream_max_lag_ms / 1000,
            keepalive_s=settings.audiosocket.keepalive_s,
            read_timeout_s=settings.audiosocket.read_timeout_s,
        )
        self.deps = CallDeps(
            settings, self.rest, self.registry, self.store, self._providers, settings.audiosocket.port, self.media_clock
        )
        self.deps.rtp_ports = RtpPorts(settings.rtp)
        self._records = RecordsService(settings) if settings.records.enabled else None
        self.deps.records = self._records
        self.manager = CallManager(self.deps)
        self.ari = AriSupervisor(settings.ari, self.rest, self.manager.on_event, self.manager.on_ari_connected)
        self.http: HttpServer | None = None
        self.started = anyio.Event()
        self._tg: anyio.abc.TaskGroup | None = None

    # EngineView for the HTTP API
    @property
    def ari_connected(self) -> bool:
        return self.ari.connected

    @property
    def audiosocket_listening(self) -> bool:
        return self.audiosocket.listening

    @property
    def media_writable(self) -> bool:
        return self.store.writable()

    @property
    def providers(self) -> dict[str, Provider]:
        return self._providers

    def active_calls(self) -> list[dict]:
        s = self.settings.records
        return [
            {
                "id": c.id,
                "caller": redact(c.caller_number, s.redact_keep, 1) if s.redact_digits else c.caller_number,
                "persona": c.persona_name,
                "channel_id": c.caller_id,
                "started_at": iso(c.recorder.started_at),
            }
            for c in self.registry.calls.values()
        ]

    @property
    def records(self) -> RecordsService | None:
        return self._records

    def live_record(self, call_id: str) -> dict | None:
        call = self.registry.calls.get(call_id)
        if call is None:
            return None
        r, s = call.recorder, self.settings.records
        live = {
            "id": call.id,
            "live": True,
            "caller_number": r.caller_number,
            "caller_name": r.caller_name,
            "extension": r.extension,
            "persona": r.persona,
            "provider": r.provider,
            "started_at": iso(r.started_at),
            "answered_at": iso(r.answered_at),
            "transcript": [dict(turn) for turn in r.transcript],
            "turn_latency": list(r.latencies),
        }
        if s.redact_digits:
            live["caller_number"] = redact(r.caller_number, s.redact_keep, 1)
            for turn in live["transcript"]:
                turn["text"] = redact(turn["text"], s.redact_keep, s.redact_min_digits)
        return live

    @property
    def http_port(self) -> int | None:
        return self.http.port if self.http is not None else None

    async def run(self) -> None:
        s = self.settings
        log.info("engine.starting", ari_url=s.ari.url, app=s.ari.app, downstream_mode=s.playback.downstream_mode)
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self.deps.audiosocket_port = await tg.start(self.audiosocket.serve)
            if self._records is not None:
                await tg.start(self._records.run)  # migrations first; the retention task lives here too
            await tg.start(self.manager.run)
            tg.start_soon(self.media_clock.run)
            tg.start_soon(self.ari.run)
            tg.start_soon(run_sweeper, self.store, s.playback.max_file_age_s, s.playback.sweep_interval_s)
            self.http = HttpServer(self, s.http, s.api.token)
            tg.start_soon(self.http.serve)
            log.info("engine.started", http_port=self.http_port, audiosocket_port=self.deps.audiosocket_port)
            # Everything loaded so far lives as long as the engine: keep it out of the cyclic
            # collector's full passes, which walk every object while all calls' 20 ms pacing
            # waits (25-40 ms at 100 calls, bench/media_load.py); this makes them shorter.
            gc.freeze()
            self.started.set()

    async def shutdown(self) -> None:
        """SIGTERM: take no new calls, end the active ones cleanly (bounded), delete files, stop."""
        self.manager.accepting = False
        active = list(self.registry.calls.values())
        log.info("engine.shutting_down", active_calls=len(active))
        for call in active:
            call.end("engine shutting down", caller_action=CallerAction.CONTINUE)
        with anyio.move_on_after(self.settings.calls.shutdown_timeout_s) as scope:
            await self.registry.wait_empty()
        if scope.cancelled_caught:
            log.error("engine.shutdown_timeout", left=len(self.registry))
        if self._records is not None:
            await self._records.flush(self.settings.calls.shutdown_timeout_s)
        removed = await self.store.sweep(max_age_s=-1)
        log.info("engine.stopped", files_removed=removed)
        self.stop()

    def stop(self) -> None:
        if self._tg is not None:
            self._tg.cancel_scope.cancel()


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM."""
    engine = Engine(settings)
    async with anyio.create_task_group() as tg:

        async def _signals() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    log.info("engine.signal", signal=signal.Signals(signum).name)
                    await engine.shutdown()
                    tg.cancel_scope.cancel()
                    return

        tg.start_soon(_signals)
        await engine.run()
        tg.cancel_scope.cancel()
