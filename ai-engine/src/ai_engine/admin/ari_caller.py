"""The test call's caller on a real Asterisk: a Local channel into the test-call context, whose
;1 half (answered, in the doctor's app) shares a bridge with our own externalMedia AudioSocket
leg. What the leg receives is what the caller hears; what we send on it is what the caller says.

  Local/<exten>@ai-agent-test-call/n ;2 -> Answer() -> Goto(ai-agent-entry,...) -> the engine
  ;1 (StasisStart in <app>-doctor) + externalMedia(audiosocket, 127.0.0.1:<ours>) in one bridge

Every id is chosen before its request; teardown hangs up and destroys what was made.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc

from ..transports.audiosocket import codec
from .ari_probe import AriProbe, EventLog
from .call_measure import FRAME, RATE

TEST_CALL_CONTEXT = "ai-agent-test-call"
SILENCE = bytes(FRAME * 2)


class CallFailed(Exception):
    """The test call could not be set up; the message says where it stopped."""


class AudioSocketEar:
    """Our end of the externalMedia leg: stores what arrives by arrival time, sends 20 ms
    frames paced from a monotonic deadline (speech when queued, silence otherwise)."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, bytes]] = []
        self.connected = anyio.Event()
        self._speech = bytearray()
        self._spoken = anyio.Event()
        self._stream: anyio.abc.SocketStream | None = None

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        if self._stream is not None:
            await stream.aclose()
            return
        self._stream = stream
        decoder = codec.Decoder(max_payload=8192)
        async with stream, anyio.create_task_group() as tg:
            tg.start_soon(self._send_loop, stream)
            try:
                async for data in stream:
                    for event in decoder.feed(data):
                        if isinstance(event, codec.Uuid):
                            self.connected.set()
                        elif isinstance(event, codec.Audio) and event.rate == RATE:
                            self.frames.append((anyio.current_time(), event.payload))
                        elif isinstance(event, codec.Hangup):
                            return
            except (anyio.BrokenResourceError, codec.ProtocolError):
                pass
            finally:
                tg.cancel_scope.cancel()

    async def _send_loop(self, stream: anyio.abc.SocketStream) -> None:
        deadline = anyio.current_time()
        while True:
            deadline += 0.02
            await anyio.sleep(max(0.0, deadline - anyio.current_time()))
            chunk = bytes(self._speech[: FRAME * 2])
            del self._speech[: FRAME * 2]
            if len(chunk) < FRAME * 2:
                chunk += SILENCE[len(chunk) :]
                if not self._speech:
                    self._spoken.set()
            try:
                await stream.send(codec.encode_audio(chunk))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return

    async def say(self, pcm8k: bytes) -> None:
        self._spoken = anyio.Event()
        self._speech += pcm8k
        await self._spoken.wait()

    def heard_since(self, t0: float) -> bytes:
        """What arrived, placed by arrival time on a timeline starting at t0 (gaps are silence)."""
        out = bytearray()
        for t, payload in self.frames:
            pos = max(0, round((t - t0) / 0.02)) * FRAME * 2
            if pos > len(out):
                out += bytes(pos - len(out))
            out[pos : pos + len(payload)] = payload
        return bytes(out)


class AriCaller:
    def __init__(self, ear: AudioSocketEar, t_answered: float):
        self.ear = ear
        self.t_answered = t_answered

    async def say(self, pcm8k: bytes) -> None:
        await self.ear.say(pcm8k)

    def heard_pcm(self) -> bytes:
        return self.ear.heard_since(self.t_answered)


@asynccontextmanager
async def ari_caller(probe: AriProbe, events: EventLog, app: str, exten: str, timeout_s: float) -> AsyncIterator[AriCaller]:
    ear = AudioSocketEar()
    tag = uuidlib.uuid4()
    local_id, em_id, bridge_id, leg = f"tc-{tag}", f"tc-em-{tag}", f"tc-bridge-{tag}", uuidlib.uuid4()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, ear.handle)
        try:
            yield await _dial(probe, events, app, exten, timeout_s, ear, port, local_id, em_id, bridge_id, leg)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(timeout_s):
                for cid in (local_id, em_id):
                    await probe.delete(f"/channels/{cid}")
                await probe.delete(f"/bridges/{bridge_id}")
            tg.cancel_scope.cancel()


async def _dial(probe, events, app, exten, timeout_s, ear, port, local_id, em_id, bridge_id, leg) -> AriCaller:
    def started(cid):
        return lambda ev: ev.get("type") == "StasisStart" and (ev.get("channel") or {}).get("id") == cid

    answer = await probe.post("/bridges", bridgeId=bridge_id, type="mixing", name="ai-agent-test-call")
    if not answer.ok:
        raise CallFailed(f"bridge: {answer.status} {answer.message}")
    since = len(events.events)
    answer = await probe.post(
        "/channels", endpoint=f"Local/{exten}@{TEST_CALL_CONTEXT}/n", app=app, appArgs="test-call", channelId=local_id,
        formats="slin", callerId='"ai-agent test-call" <test-call>',
    )
    if not answer.ok:
        raise CallFailed(f"originate into [{TEST_CALL_CONTEXT}]: {answer.status} {answer.message}")
    if await events.wait_for(started(local_id), timeout_s, since) is None:
        raise CallFailed(f"the call into [{TEST_CALL_CONTEXT}] was not answered within {timeout_s:.0f} s")
    t_answered = anyio.current_time()
    since = len(events.events)
    answer = await probe.post(
        "/channels/externalMedia", app=app, channelId=em_id, external_host=f"127.0.0.1:{port}", format="slin",
        encapsulation="audiosocket", transport="tcp", data=str(leg),
    )
    if not answer.ok:
        raise CallFailed(f"externalMedia: {answer.status} {answer.message}")
    if await events.wait_for(started(em_id), timeout_s, since) is None:
        raise CallFailed("the externalMedia leg never entered Stasis")
    answer = await probe.post(f"/bridges/{bridge_id}/addChannel", channel=f"{local_id},{em_id}")
    if not answer.ok:
        raise CallFailed(f"addChannel: {answer.status} {answer.message}")
    with anyio.move_on_after(timeout_s):
        await ear.connected.wait()
    return AriCaller(ear, t_answered)
