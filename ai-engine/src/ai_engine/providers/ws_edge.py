"""The I/O edge the cloud providers share: opening a vendor WebSocket (bounded, refusals told
apart from outages), the bounded outbox of caller audio, and G.711 mu-law as bytes.

A refusal (HTTP 401/403 on the handshake, or a close code the vendor uses for a bad key) is
`ProviderRejected`: the call goes to the failure context at once and /health says why. Any
other failure is `ProviderUnavailable`: hold prompt and reconnect.
"""

from __future__ import annotations

from collections import deque

import anyio
import numpy as np
from voice_common import pcm as pcm_codec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from ..observability import metrics
from ..observability.logs import get_logger
from . import base

log = get_logger(__name__)

MAX_QUEUED_FRAMES = 100  # caller audio waiting to be sent (2 s of 20 ms frames); the oldest goes first
REFUSED_STATUS = (401, 403)


class KeyState:
    """What /health says about a cloud provider's key: missing, rejected, or (as far as we know) good."""

    def __init__(self, name: str, key: str | None):
        self.name = name
        self.key = key
        self.rejected: str | None = None

    def require(self) -> str:
        if not self.key:
            raise base.ProviderRejected(f"{self.name}: no API key (set it in the environment)")
        return self.key

    def reject(self, why: str) -> base.ProviderRejected:
        self.rejected = why
        metrics.PROVIDER_ERRORS.labels(self.name, "rejected").inc()
        return base.ProviderRejected(f"{self.name}: {why}")

    @property
    def not_ready_reason(self) -> str | None:
        if not self.key:
            return "no API key in the environment"
        return self.rejected

class CloudProvider:
    """What the cloud providers share: a name, typed settings holding the API key, and readiness,
    which is the key's state (missing or refused: not ready, with the reason for /health)."""

    def __init__(self, name: str, settings) -> None:
        self.name = name
        self.settings = settings
        self.keys = KeyState(name, settings.key())

    @property
    def not_ready_reason(self) -> str | None:
        return self.keys.not_ready_reason

    async def ready(self) -> bool:
        return self.keys.not_ready_reason is None


async def open_ws(keys: KeyState, url: str, headers: dict[str, str], timeout_s: float, max_size: int) -> ClientConnection:
    try:
        with anyio.fail_after(timeout_s):
            ws = await connect(url, additional_headers=headers, max_size=max_size, open_timeout=timeout_s, close_timeout=1)
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in REFUSED_STATUS:
            raise keys.reject(f"the vendor refused the API key (HTTP {status})") from None
        metrics.PROVIDER_ERRORS.labels(keys.name, "connect").inc()
        raise base.ProviderUnavailable(f"{keys.name}: cannot connect: HTTP {status}") from None
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
        metrics.PROVIDER_ERRORS.labels(keys.name, "connect").inc()
        raise base.ProviderUnavailable(f"{keys.name}: cannot connect: {type(exc).__name__}") from None
    keys.rejected = None
    return ws


def closed(name: str, exc: ConnectionClosed) -> base.ProviderUnavailable:
    frame = exc.rcvd
    why = f"closed by the vendor ({frame.code} {frame.reason})" if frame is not None else "connection lost"
    metrics.PROVIDER_ERRORS.labels(name, "closed").inc()
    return base.ProviderUnavailable(f"{name}: session {why}")


async def send(name: str, ws: ClientConnection, message: str | bytes, timeout_s: float) -> None:
    """One bounded send: a vendor that stops reading (full buffers) counts as lost, like a closed socket."""
    try:
        with anyio.fail_after(timeout_s):
            await ws.send(message)
    except ConnectionClosed as exc:
        raise closed(name, exc) from None
    except TimeoutError:
        metrics.PROVIDER_ERRORS.labels(name, "send_timeout").inc()
        raise base.ProviderUnavailable(f"{name}: send stalled for {timeout_s} s") from None


async def close_quietly(ws: ClientConnection) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(1):
        await ws.close()


class Outbox:
    """Caller audio from the capture leg's receive callback (sync, never blocks) to one sender
    task: bounded, the oldest frame dropped first when the vendor does not keep up."""

    def __init__(self, name: str):
        self.name = name
        self._frames: deque[bytes] = deque()
        self._ready = anyio.Event()
        self.dropped = 0

    def push(self, pcm: bytes) -> None:
        if len(self._frames) >= MAX_QUEUED_FRAMES:
            self._frames.popleft()
            self.dropped += 1
            if self.dropped % 50 == 1:
                log.warning("provider.audio_dropped", provider=self.name, frames=self.dropped)
        self._frames.append(pcm)
        self._ready.set()

    async def take(self, max_frames: int) -> bytes:
        """Wait for audio; returns up to `max_frames` queued frames joined."""
        while not self._frames:
            await self._ready.wait()
            self._ready = anyio.Event()
        n = min(len(self._frames), max_frames)
        return b"".join(self._frames.popleft() for _ in range(n))


# ---- G.711 mu-law, as bytes of s16le (the tables live once, in voice_common) -------------------


def ulaw_encode(pcm: bytes) -> bytes:
    """s16le samples to mu-law bytes (one per sample)."""
    return pcm_codec.ulaw_encode(np.frombuffer(pcm, dtype="<i2"))


def ulaw_decode(data: bytes) -> bytes:
    """mu-law bytes to s16le samples."""
    return pcm_codec.ulaw_decode(data).astype("<i2", copy=False).tobytes()
