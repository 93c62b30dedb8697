"""Stream mode's jitter buffer, sans-IO: agent PCM in, exactly one 20 ms frame out per tick.

A reply starts playing once `start_ms` is buffered (or the reply has ended); when the buffer
runs dry mid-reply the frame is silence and counted as an underrun; when idle it is silence.
`clear()` (barge-in) drops everything queued at once.
"""

from __future__ import annotations

from collections import deque

from voice_common.pcm import FRAME_MS, duration_s, frame_bytes, silence


class StreamBuffer:
    def __init__(self, rate: int, start_ms: int = 60, frame_ms: int = FRAME_MS):
        self.rate = rate
        self.frame_bytes = frame_bytes(rate, frame_ms)
        self._start_bytes = frame_bytes(rate, start_ms)
        self._silence = silence(rate, frame_ms)
        self._buf = bytearray()
        self._reply_open = False  # audio of the current reply may still come
        self._started = False  # the current reply passed its start buffer
        self.underruns = 0
        self._taken = 0  # bytes taken out so far (positions below are absolute)
        self._reply_starts: deque[int] = deque()
        self.reply_began = False  # the last frame from next_frame() holds the start of a reply
        self.underran = False  # the last frame from next_frame() was an underrun

    @property
    def buffered_ms(self) -> float:
        return duration_s(self._buf, self.rate) * 1000

    @property
    def active(self) -> bool:
        """Agent audio is playing or about to."""
        return bool(self._buf) or self._reply_open

    def push(self, pcm: bytes, new_reply: bool = False) -> None:
        if not self._reply_open and not self._buf:
            self._started = False
        if new_reply:
            self._reply_starts.append(self._taken + len(self._buf))
        self._reply_open = True
        self._buf += pcm

    def end_reply(self) -> None:
        self._reply_open = False

    def clear(self) -> None:
        self._taken += len(self._buf)
        self._reply_starts.clear()
        self._buf.clear()
        self._reply_open = False
        self._started = False

    def unread(self, frame: bytes) -> None:
        """Put back a frame that could not be sent."""
        self._buf[:0] = frame
        self._taken -= len(frame)

    def _take(self, n: int) -> bytes:
        frame = bytes(self._buf[:n])
        del self._buf[:n]
        end = self._taken + n
        self.reply_began = False
        while self._reply_starts and self._reply_starts[0] < end:
            self._reply_starts.popleft()
            self.reply_began = True
        self._taken = end
        return frame

    def next_frame(self) -> tuple[bytes, bool]:
        """(frame, is_agent_audio)."""
        self.reply_began = self.underran = False
        if not self._started:
            if len(self._buf) >= self._start_bytes or (self._buf and not self._reply_open):
                self._started = True
            else:
                return self._silence, False
        if len(self._buf) >= self.frame_bytes:
            return self._take(self.frame_bytes), True
        if self._buf and not self._reply_open:  # the reply's last partial frame, padded
            part = self._take(len(self._buf))
            return part + self._silence[len(part) :], True
        if self._reply_open:
            self.underruns += 1
            self.underran = True
        return self._silence, False


class Pacer:
    """Deadlines for one frame every `frame_s` from a monotonic clock, with no drift: deadline
    n is start + n * frame_s. If the loop falls behind by more than `max_lag_s` the schedule
    restarts from now instead of sending a burst (Asterisk does not buffer, docs/architecture.md §3)."""

    def __init__(self, start: float, frame_s: float = 0.02, max_lag_s: float = 0.1):
        self.frame_s = frame_s
        self.max_lag_s = max_lag_s
        self._origin = start
        self._n = 0
        self.resets = 0

    @property
    def deadline(self) -> float:
        return self._origin + self._n * self.frame_s

    def advance(self, now: float) -> float:
        """Call after sending a frame; returns the deadline of the next one."""
        self._n += 1
        if now - self.deadline > self.max_lag_s:
            self._origin, self._n = now, 0
            self.resets += 1
        return self.deadline
