"""bench/media_load's two call generators: the lean one (bench/load_asterisk.py, numbered caller
frames and echo timing without mixing) and the full test emulator (statistics from its per-frame logs
afterwards)."""

from __future__ import annotations

from types import SimpleNamespace

import anyio

from asterisk_emulator import AsteriskEmulator
from bench.load_asterisk import LeanEmulator, Recorder, caller_frame, frame_seq, note_frame

WHY_LEAN = (
    "lean generator (bench/load_asterisk.py): the emulator's ARI REST, events WebSocket, channels, bridges, "
    "snoops and AudioSocket legs, without its per-bridge numpy mixing and per-frame logging"
)
WHY_FULL = "full test emulator (tests/support/asterisk_emulator): every bridge mixed in Python every 20 ms"


def bridge_leg(channel):
    """The AudioSocket leg in the caller's bridge (the stream-mode playback leg), if any."""
    bridge = channel.bridge
    for m in bridge.members if bridge is not None else []:
        if m.leg is not None:
            return m.leg
    return None


def capture_leg(channel):
    """The AudioSocket leg behind the snoop on the caller (the capture leg), if any."""
    for snoop in channel.snoops:
        for m in snoop.bridge.members if snoop.bridge is not None else []:
            if m.kind == "local1" and m.peer is not None and m.peer.leg is not None:
                return m.peer.leg
    return None


def numbered_speech(seconds: float) -> bytes:
    """The full emulator's caller: `seconds` of numbered frames (the same as the lean caller's)."""
    return b"".join(caller_frame(seq) for seq in range(int(seconds * 50)))


class FullGenerator:
    """The unmodified test emulator; statistics come from its per-frame logs afterwards."""

    why = WHY_FULL

    def __init__(self, emu: AsteriskEmulator, speech_s: float):
        self.emu = emu
        self.speech = numbered_speech(speech_s)
        self.window = (0.0, 0.0)

    async def on_placed(self, call) -> None:
        await call.say(self.speech, wait=False)

    async def wait_echo(self, call) -> None:
        while True:
            leg = bridge_leg(call.channel)
            if leg is not None and any(
                f["dir"] == "out" and frame_seq(f["payload"]) is not None for f in leg.log.frames[-50:]
            ):
                return
            await anyio.sleep(0.05)

    def start(self) -> None:
        self.window = (anyio.current_time(), 0.0)

    def stop(self) -> Recorder:
        t0, t1 = self.window[0], anyio.current_time()
        rec = Recorder()
        for call in self.emu.calls:
            out, cap = bridge_leg(call.channel), capture_leg(call.channel)
            if out is None or cap is None:
                continue
            sent = {frame_seq(f["payload"]): f["t"] for f in cap.log.frames if f["dir"] == "in" and f["kind"] == 0x10}
            state = SimpleNamespace(last_rx=None, next_seq=None)
            for f in out.log.frames:
                if f["dir"] == "out" and 0x10 <= f["kind"] <= 0x18:
                    rec.measuring = t0 <= f["t"] <= t1
                    seq = frame_seq(f["payload"])
                    note_frame(rec, state, seq, sent.get(seq), f["t"])
        rec.measuring = False
        return rec

    @property
    def skipped_ticks(self) -> int:
        clock = self.emu._clock  # noqa: SLF001
        return clock.skipped if clock is not None else 0


class LeanGenerator:
    why = WHY_LEAN

    def __init__(self, emu: LeanEmulator):
        self.emu = emu

    async def on_placed(self, call) -> None:
        pass

    async def wait_echo(self, call) -> None:
        while getattr(call, "lean", None) is None:
            await anyio.sleep(0.02)
        await call.lean.echoing.wait()

    def start(self) -> None:
        self.emu.recorder.start()

    def stop(self) -> Recorder:
        self.emu.recorder.stop()
        return self.emu.recorder

    @property
    def skipped_ticks(self) -> int:
        return self.emu.skipped_ticks
