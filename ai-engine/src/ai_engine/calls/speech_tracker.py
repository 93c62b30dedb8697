"""When has the caller heard a reply? The engine must know before it hangs up after a farewell
or sends the caller on after "transferring you now".

From the provider's events of each reply: when its first audio reached the engine and how many
seconds of audio it carried; once its `ResponseDone` came, the caller has heard it at first
audio + its length + a playout margin (file playback starts a little later; stream mode buffers
`stream_start_ms`). A waiter sleeps once until then, never polls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

PLAYOUT_MARGIN_S = 0.6
MAX_WAIT_S = 60.0  # no reply is waited for longer (a provider that never ends one)


@dataclass
class _Reply:
    first_audio_at: float | None = None
    audio_s: float = 0.0
    done: anyio.Event = field(default_factory=anyio.Event)


class SpeechTracker:
    def __init__(self) -> None:
        self._replies: dict[str, _Reply] = {}
        self._order: list[str] = []
        self._started = anyio.Event()

    def started(self, response_id: str) -> None:
        self._reply(response_id)
        self._started.set()
        self._started = anyio.Event()

    def audio(self, response_id: str, seconds: float) -> None:
        reply = self._reply(response_id)
        if reply.first_audio_at is None:
            reply.first_audio_at = anyio.current_time()
        reply.audio_s += seconds

    def done(self, response_id: str) -> None:
        self._reply(response_id).done.set()

    @property
    def count(self) -> int:
        """Replies seen so far (a mark to wait for the next one from)."""
        return len(self._order)

    async def next_reply(self, after: int, timeout: float) -> str | None:
        """The id of the first reply started after mark `after`, or None after `timeout`."""
        with anyio.move_on_after(timeout):
            while len(self._order) <= after:
                await self._started.wait()
            return self._order[after]
        return None

    async def wait_heard(self, response_id: str) -> None:
        """Until the caller heard the reply (bounded by MAX_WAIT_S)."""
        reply = self._reply(response_id)
        with anyio.move_on_after(MAX_WAIT_S):
            await reply.done.wait()
            if reply.first_audio_at is not None:
                end = reply.first_audio_at + reply.audio_s + PLAYOUT_MARGIN_S
                await anyio.sleep(max(0.0, end - anyio.current_time()))

    def _reply(self, response_id: str) -> _Reply:
        reply = self._replies.get(response_id)
        if reply is None:
            reply = self._replies[response_id] = _Reply()
            self._order.append(response_id)
            if len(self._order) > 64:  # bounded: only the latest replies matter
                old = self._order[-65]
                self._replies.pop(old, None)
        return reply
