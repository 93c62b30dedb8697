"""Plays reply segments on the call bridge, one after another, and deletes each file after.

Each segment: WAV written atomically → `POST /bridges/{B1}/play` with our own playback id →
wait for PlaybackFinished (bounded: an unknown media never finishes, FACT 51) → delete the file.
Never plays on the caller channel: that mutes the caller toward the bridge (FACTS 25-26).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import anyio

from voice_common.pcm import duration_s

from ..audio.pcm import ASTERISK_FILE_RATE
from ..observability import metrics
from ..observability.logs import get_logger
from ..transports.ari.errors import AriError, AriUnavailable
from ..transports.ari.rest import AriRest
from .media_store import MediaStore
from .segmenter import Segment

log = get_logger(__name__)
QUEUE_SIZE = 256


class FilePlayer:
    def __init__(self, rest: AriRest, store: MediaStore, app: str, call_id: str, bridge_id: str, finish_margin_s: float):
        self._rest = rest
        self._store = store
        self._call_id = call_id
        self._bridge_id = bridge_id
        self._margin = finish_margin_s
        self._ids = (f"{app}-{call_id}-pb{n}" for n in count(1))
        self._send, self._receive = anyio.create_memory_object_stream[Segment](QUEUE_SIZE)
        self._current: str | None = None
        self._finished = anyio.Event()
        self._final_state = ""
        self._stale: set[str] = set()  # responses whose queued segments must not play
        self._closing = False  # hang-up: a playback ending now ends because of it (fact C7)
        self.played: list[str] = []  # playback ids that finished 'done'
        self.on_started: Callable[[], None] | None = None  # PlaybackStarted hook (latency)

    @property
    def playing(self) -> bool:
        """Agent audio is playing or queued."""
        return self._current is not None or self._receive.statistics().current_buffer_used > 0

    def enqueue(self, segment: Segment) -> None:
        if segment.response_id in self._stale or self._closing:
            return
        try:
            self._send.send_nowait(segment)
        except anyio.WouldBlock:
            log.error("playback.queue_full", call_id=self._call_id)

    async def run(self) -> None:
        async with self._receive:
            async for segment in self._receive:
                if segment.response_id not in self._stale:
                    await self._play(segment)

    async def _play(self, segment: Segment) -> None:
        name = self._store.new_name(self._call_id)
        playback_id = next(self._ids)
        try:
            await self._store.write(name, segment.pcm)
            self._current, self._finished, self._final_state = playback_id, anyio.Event(), ""
            await self._rest.play_on_bridge(self._bridge_id, self._store.media_uri(name), playback_id)
            await self._wait_finished(playback_id, duration_s(segment.pcm, ASTERISK_FILE_RATE) + self._margin)
        except (AriError, AriUnavailable) as exc:
            metrics.PLAYBACK_FAILURES.labels("rest").inc()
            log.error("playback.request_failed", playback_id=playback_id, error=str(exc))
        except OSError as exc:  # the media folder is gone or read-only: this segment is lost, the call goes on
            metrics.PLAYBACK_FAILURES.labels("media_dir").inc()
            log.error("playback.write_failed", playback_id=playback_id, error=str(exc))
        finally:
            self._store.delete(name, "played")
        self._current = None  # not reached on cancellation (hang-up): close() then stops it

    async def _wait_finished(self, playback_id: str, bound_s: float) -> None:
        with anyio.move_on_after(bound_s) as scope:
            await self._finished.wait()
        if scope.cancelled_caught:
            metrics.PLAYBACK_FAILURES.labels("no_finish").inc()
            log.error("playback.no_finish", playback_id=playback_id, waited_s=round(bound_s, 2))
            await self._stop_quietly(playback_id)
        elif self._final_state == "done":
            metrics.PLAYBACKS.labels("done").inc()
            self.played.append(playback_id)
        elif self._closing:  # the teardown stopped it or removed its file (fact C7): not a failure
            metrics.PLAYBACKS.labels("hangup").inc()
            log.info("playback.ended_by_hangup", playback_id=playback_id, state=self._final_state)
        else:
            metrics.PLAYBACKS.labels(self._final_state or "unknown").inc()
            metrics.PLAYBACK_FAILURES.labels(self._final_state or "unknown").inc()
            log.error("playback.failed", playback_id=playback_id, state=self._final_state)

    def on_event(self, event: dict) -> None:
        playback = event.get("playback") or {}
        if playback.get("id") != self._current:
            return
        if event.get("type") == "PlaybackStarted" and self.on_started is not None:
            self.on_started()
        elif event.get("type") == "PlaybackFinished":
            self._final_state = str(playback.get("state", ""))
            self._finished.set()

    async def stop(self, response_id: str | None = None) -> bool:
        """Barge-in: forget queued segments and stop the running playback. True if one was stopped."""
        if response_id is not None:
            self._stale.add(response_id)
        while True:
            try:
                self._receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
        current = self._current
        if current is None:
            return False
        await self._stop_quietly(current)
        return True

    async def _stop_quietly(self, playback_id: str) -> None:
        try:
            await self._rest.stop_playback(playback_id)
        except (AriError, AriUnavailable) as exc:
            log.warning("playback.stop_failed", playback_id=playback_id, error=str(exc))

    async def resync(self) -> None:
        """After an ARI reconnect: a PlaybackFinished may have been dropped (FACT 37). Only the
        playback asked about is marked finished: while the GET was in flight it may have ended
        and the next segment started, which must not be cut short (nor its file deleted)."""
        current, finished = self._current, self._finished
        if current is None or await self._rest.get_playback(current) is not None:
            return
        if self._current == current and not finished.is_set():
            self._final_state = self._final_state or "done"
            finished.set()

    async def close(self) -> None:
        """Hang-up: stop what plays (it would run on in the empty bridge, snoop F30). A playback
        that ends from here on (stopped, or `failed` once the teardown deleted its file: fact C7)
        is logged at info level and not counted as a failure."""
        self._closing = True
        await self.stop()
