"""One externalMedia RTP leg at the I/O edge: a UDP socket of the engine's port range, as an
asyncio DatagramProtocol (no task per leg, no task per packet), speaking `codec.py`.

Symmetric RTP, strict: Asterisk sends from exactly UNICASTRTP_LOCAL_ADDRESS:UNICASTRTP_LOCAL_PORT,
the channel variables of the externalMedia answer (more/ M1-M3), and takes our packets only from
the address it sends to and only at that port (M12, M10). So the leg accepts datagrams from that
source only and sends to it. Anything else reaching our port (another host, another port, a
second socket) is a stranger: dropped, counted (`ai_engine_media_packets_dropped_total`), never
mixed into a call. When Asterisk reports an unspecified address (bound to 0.0.0.0) the first
packet from its port fixes the address; without the variables, the first packet fixes both.

Inbound packets of the negotiated payload type are put in order (`codec.Depacketizer`), decoded
to little-endian PCM and handed, synchronously, to the owner as `Audio` events (`transports/leg.py`).
Outbound PCM leaves at once as one packet per `send_audio()` (the engine's media clock calls it
every 20 ms) in a payload Asterisk plays back on such a channel (`codec.SEND`): G.722 at 16 kHz to
a slin16 leg (one encoder per leg: ADPCM keeps state across packets), else PT 11 L16 or PT 0 PCMU
at 8 kHz (M8, M9). Asterisk never hangs up an RTP leg for silence (M13): a leg
that received nothing for the read timeout is ended by the media clock ("timeout").
"""

from __future__ import annotations

import asyncio
import math
from array import array
from ipaddress import ip_address

import anyio
import numpy as np

import G722
from voice_common.pcm import pcm_to_ulaw, ulaw_to_pcm
from voice_common.resample import StreamResampler

from ...observability import metrics
from ...observability.logs import get_logger
from ..audiosocket import codec as frames
from ..leg import EndKind, LegEnd, OwnedLeg
from . import codec

log = get_logger(__name__)

FRAME_S = 0.02
COUNT_EVERY = 50  # packets added to the frames-in metric at once (exact once the leg closes), as AudioSocket


def _dropped(reason: str):
    return metrics.MEDIA_PACKETS_DROPPED.labels("rtp", reason)


_DROP = {r: _dropped(r) for r in ("stranger", "malformed", "payload_type", "late", "duplicate", "lost")}


class RtpLeg(OwnedLeg, asyncio.DatagramProtocol):
    _handler_failed_event = "rtp.handler_failed"

    def __init__(self, fmt: str, *, reorder: int = 2, max_packet: int = 1500, wideband_return: bool = True, on_released=None):
        self.format = fmt
        self._receive = {f.pt: f for f in codec.RECEIVE[fmt]}
        self._send = (codec.SEND if wideband_return else codec.NARROWBAND_SEND)[fmt]
        self.send_rate = self._send.rate
        self._send_kind = frames.KIND_FOR_RATE[self.send_rate]
        self._frame_bytes = self.send_rate // 50 * 2
        self._g722 = G722.G722(16000, 64000) if self._send.encoding == "G722" else None
        self._packetizer = codec.Packetizer(self._send)
        self._depacketizer = codec.Depacketizer(reorder)
        self._max_packet = max_packet
        self._on_released = on_released
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.DatagramTransport | None = None
        self._peer: tuple[str, int] | None = None  # where Asterisk sends from; we send there
        self._peer_port: int | None = None  # the port, while the address is not known yet
        self._latch_any = False
        self._init_owner()
        self._resamplers: dict[int, StreamResampler] = {}
        self._resampled = bytearray()
        self._last_sent: float | None = None
        self._last_s = 0.0  # audio in the last packet sent
        self.port = 0
        self.closed = False
        self.last_activity = self.last_received = self._loop.time()
        self.write_paused_since: float | None = None  # UDP never pushes back
        self.strangers = self.malformed = self.wrong_payload = 0
        self._uncounted = 0  # packets not yet added to the frames-in metric

    # ---- the peer ------------------------------------------------------------------------

    def expect_peer(self, channelvars: dict | None) -> None:
        """From the externalMedia answer's UNICASTRTP_LOCAL_ADDRESS / _PORT (more/ M1)."""
        vars_ = channelvars or {}
        host, port = vars_.get("UNICASTRTP_LOCAL_ADDRESS"), vars_.get("UNICASTRTP_LOCAL_PORT")
        try:
            port_no = int(port) if port else None
            unspecified = not host or ip_address(host).is_unspecified
        except ValueError:
            port_no, unspecified = None, True
        if port_no is None:
            self._latch_any = True
            log.warning("rtp.peer_unknown", port=self.port, note="the first packet's source is taken as Asterisk's")
        elif unspecified:
            self._peer_port = port_no
        else:
            self._peer = (host, port_no)

    @property
    def peer(self) -> tuple[str, int] | None:
        return self._peer

    # ---- MediaLeg ------------------------------------------------------------------------

    @property
    def audio_kind(self) -> frames.Kind:
        return self._send_kind  # what send_audio() takes without resampling

    last_audio_kind = audio_kind

    def send_audio(self, pcm: bytes, kind: frames.Kind | None = None) -> None:
        if self.closed:
            raise anyio.ClosedResourceError
        peer = self._peer
        if peer is None or not pcm:
            return  # nothing heard from Asterisk yet: no address to answer to
        rate = frames.AUDIO_RATES[kind] if kind is not None else self.send_rate
        if rate == self.send_rate:
            self._send_packet(pcm, peer)
            return
        # Whole 20 ms packets only: a streaming resampler's output comes in varying sizes.
        resampler = self._resamplers.get(rate)
        if resampler is None:
            resampler = self._resamplers[rate] = StreamResampler(rate, self.send_rate)
        self._resampled += resampler.process_bytes(pcm)
        size = self._frame_bytes
        while len(self._resampled) >= size:
            self._send_packet(bytes(self._resampled[:size]), peer)
            del self._resampled[:size]

    def _send_packet(self, pcm: bytes, peer: tuple[str, int]) -> None:
        payload = self._encode(pcm)
        now = self._loop.time()
        gap, marker = 0, False
        if self._last_sent is not None:
            idle = now - self._last_sent - self._last_s
            if idle > 2 * FRAME_S:  # a new talkspurt: marker, timestamp advanced by the gap (as Asterisk, M6)
                gap, marker = int(idle * self._send.clock_rate), True
        self._transport.sendto(self._packetizer.packet(payload, gap_samples=gap, marker=marker), peer)
        self._last_sent, self._last_s = now, len(pcm) / 2 / self.send_rate
        self.last_activity = now

    def _encode(self, pcm: bytes) -> bytes:
        if self._g722 is not None:
            return self._g722.encode(np.frombuffer(pcm, dtype="<i2"))
        return pcm_to_ulaw(pcm) if self._send.encoding == "PCMU" else _swap16(pcm)

    def silence_frame(self) -> bytes:
        return b"\x00" * self._frame_bytes

    def release(self) -> None:
        self.detach()
        if not self.closed:
            self.closed = True
            if self._transport is not None:
                self._transport.close()

    # ---- asyncio.DatagramProtocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self.port = transport.get_extra_info("sockname")[1]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._count_frames()
        if self._on_released is not None:
            self._on_released(self.port)
            self._on_released = None
        self.end(LegEnd(EndKind.CLOSED))

    def error_received(self, exc: Exception) -> None:
        log.debug("rtp.send_error", port=self.port, error=repr(exc))  # ICMP unreachable: Asterisk left

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if self.closed or self._ended is not None:
            return
        source = (addr[0], addr[1])
        if source != self._peer and not self._latch(source):
            self.strangers += 1
            _DROP["stranger"].inc()
            if self.strangers == 1 or math.log2(self.strangers).is_integer():
                log.warning("rtp.stranger_dropped", port=self.port, source=f"{addr[0]}:{addr[1]}", count=self.strangers)
            return
        try:
            packet = codec.parse(data, self._max_packet)
        except codec.ProtocolError as exc:
            self.malformed += 1
            _DROP["malformed"].inc()
            if self.malformed == 1:
                log.warning("rtp.malformed_dropped", port=self.port, error=str(exc))
            return
        fmt = self._receive.get(packet.payload_type)
        if fmt is None or len(packet.payload) % fmt.bytes_per_tick or not packet.payload:
            self.wrong_payload += 1
            _DROP["payload_type"].inc()
            return
        self.last_received = self.last_activity = self._loop.time()
        self._uncounted += 1
        if self._uncounted >= COUNT_EVERY:
            self._count_frames()
        dep = self._depacketizer
        before = (dep.late, dep.duplicates, dep.lost)
        ordered = dep.feed(packet)
        if (dep.late, dep.duplicates, dep.lost) != before:
            for reason, old, new in zip(("late", "duplicate", "lost"), before, (dep.late, dep.duplicates, dep.lost)):
                if new != old:
                    _DROP[reason].inc(new - old)
        if not self._keep_audio and self._on_event is not None:
            return
        for p in ordered:
            self._deliver(frames.Audio(frames.KIND_FOR_RATE[fmt.rate], _decode(fmt, p.payload)))

    # ---- internals -----------------------------------------------------------------------

    def _latch(self, source: tuple[str, int]) -> bool:
        """Fix Asterisk's address from its first packet, where the channel variables could not."""
        if self._peer is None and (self._latch_any or (self._peer_port is not None and source[1] == self._peer_port)):
            self._peer, self._latch_any, self._peer_port = source, False, None
            log.info("rtp.peer_learned", port=self.port, peer=f"{source[0]}:{source[1]}")
            return True
        return False

    def _count_frames(self) -> None:
        if self._uncounted:
            metrics.FRAMES_IN.inc(self._uncounted)
            self._uncounted = 0

    def _log_fields(self) -> dict:
        return {"port": self.port}


def _swap16(pcm: bytes) -> bytes:
    """16-bit samples between little-endian (ours) and big-endian (RTP L16, M5). (array's byteswap:
    a fifth of numpy's cost on a 20 ms frame, and this runs for every packet both ways.)"""
    samples = array("h", pcm)
    samples.byteswap()
    return samples.tobytes()


def _decode(fmt: codec.PayloadFormat, payload: bytes) -> bytes:
    return ulaw_to_pcm(payload) if fmt.encoding == "PCMU" else _swap16(payload)
