"""Bridge recordings (``tests/asterisk_facts/more/``, ``record`` scenario, FACTS M43-M46).

* ``POST /bridges/{id}/record?name=..&format=wav&ifExists=overwrite`` answers 201
  ``{"name","format","state":"queued","target_uri":"bridge:<id>"}``; about 3.5 ms later a
  ``Recorder/ARI-xxxxxxxx;2`` party joins the bridge (seen only in BRIDGEPEER values, no
  ChannelEnteredBridge) and RecordingStarted (``state: recording``) is sent (M43);
* ``GET /recordings/live/{name}`` while it runs: ``{"name","format","state":"recording",
  "target_uri"}`` (M44); 404 ``{"message":"Recording not found"}`` once it is over (M46);
* it records the bridge mix: what every member sends plus the bridge playback; ticks where
  nobody sends anything add nothing to the file (M46: 6.7 s written for 9 s, nothing for the
  2 s with only the silent RTP leg left);
* the caller's hang-up does not end it; it finishes when the last real channel leaves the
  bridge (a hang-up inside it, ``removeChannel`` or the bridge's ``DELETE``):
  RecordingFinished ``{"state":"done","duration":<whole seconds>}`` 0.5 ms later (M45);
* the file is ``<recordings_dir>/<name>.wav``, 8 kHz mono 16-bit (M46);
  ``GET /recordings/stored`` and ``/stored/{name}`` give only ``{"name","format"}``;
  ``DELETE /recordings/stored/{name}`` answers 204 and removes the file (M46).

Not recorded, so not reproduced: formats other than wav (answered 422 here), ``ifExists``
other than overwrite, maxDurationSeconds, beep, terminateOn, the smart bridge's technology
while a recorder is in it (this emulator counts the recorder as a party).
"""
from __future__ import annotations

import os
import tempfile
import wave
from dataclasses import dataclass, field

import numpy as np

from .media import mix
from .model import SAMPLES_PER_TICK, ari_timestamp

RECORDING_START_DELAY = 0.0035   # M43: RecordingStarted 3.5 ms after the request
RECORDING_FINISH_DELAY = 0.0005  # M45: RecordingFinished 0.5 ms after the last channel left


@dataclass(eq=False)
class LiveRecording:
    name: str
    format: str
    bridge: object
    state: str = "queued"
    recorder: str = ""
    chunks: list = field(default_factory=list)

    @property
    def target_uri(self) -> str:
        return f"bridge:{self.bridge.id}"

    def snapshot(self) -> dict:
        return {"name": self.name, "format": self.format, "state": self.state, "target_uri": self.target_uri}


def recording_event(etype: str, rec: LiveRecording, **extra) -> dict:
    return {"type": etype, "timestamp": ari_timestamp(), "recording": {**rec.snapshot(), **extra}}


class RecordingMixin:
    def _recordings_root(self) -> str:
        """``recordings_dir``, else ``<sounds_dir>/../recording``, else a temporary folder (never
        the host's own /var/spool/asterisk)."""
        if not self.recordings_dir:
            if self.sounds_dir:
                self.recordings_dir = os.path.join(os.path.dirname(os.path.abspath(self.sounds_dir)), "recording")
            else:
                self.recordings_dir = tempfile.mkdtemp(prefix="asterisk-emulator-recording-")
        return self.recordings_dir

    def record_bridge(self, bridge, name: str | None, fmt: str | None, if_exists: str | None) -> LiveRecording:
        from .pbx import AriError
        if not name:
            raise AriError(400, "Recording name is required")
        if fmt != "wav":
            raise AriError(422, "The format specified is unknown on this system")
        if name in self.live_recordings:
            raise AriError(409, "A recording with the same name already exists on the system")
        rec = LiveRecording(name=name, format=fmt, bridge=bridge)
        self.live_recordings[name] = rec
        self.later(RECORDING_START_DELAY, self._recording_started, rec)
        return rec

    def _recording_started(self, rec: LiveRecording) -> None:
        bridge = rec.bridge
        if not bridge.alive or not bridge.members:
            self.live_recordings.pop(rec.name, None)
            return
        rec.state = "recording"
        rec.recorder = f"Recorder/ARI-{self.next_seq()};2"
        bridge.recording = rec
        self.update_bridge_peers(bridge)
        self.emit_bridge(recording_event("RecordingStarted", rec), bridge)

    def tick_recording(self, bridge, ann) -> None:
        """One 20 ms tick of the bridge mix into its recording (nothing when nobody sends)."""
        rec = bridge.recording
        parts = [m.tx for m in bridge.members if m.tx is not None]
        if ann is not None:
            parts.append(ann)
        if rec is not None and parts:
            rec.chunks.append(mix(parts) if len(parts) > 1 else parts[0].copy())

    def bridge_emptied(self, bridge) -> None:
        """The last real channel left: the recording ends (M45)."""
        rec = bridge.recording
        if rec is None:
            return
        bridge.recording = None
        subscribed = self.bridge_subscribed(bridge)
        self.later(RECORDING_FINISH_DELAY, self._recording_finished, rec, subscribed)

    def _recording_finished(self, rec: LiveRecording, subscribed: bool) -> None:
        samples = np.concatenate(rec.chunks) if rec.chunks else np.zeros(0, np.int16)
        root = self._recordings_root()
        os.makedirs(root, exist_ok=True)
        with wave.open(os.path.join(root, f"{rec.name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(samples.astype("<i2").tobytes())
        rec.state = "done"
        self.live_recordings.pop(rec.name, None)
        duration = len(samples) // (SAMPLES_PER_TICK * 50)
        self.hub.publish(recording_event("RecordingFinished", rec, duration=duration), app_level=subscribed)

    def stored_recordings(self) -> list[dict]:
        root = self._recordings_root()
        if not os.path.isdir(root):
            return []
        return [{"name": f[:-4], "format": "wav"} for f in sorted(os.listdir(root)) if f.endswith(".wav")]

    def delete_stored(self, name: str) -> bool:
        path = os.path.join(self._recordings_root(), f"{name}.wav")
        if os.path.dirname(os.path.abspath(path)) != os.path.abspath(self._recordings_root()):
            return False
        try:
            os.remove(path)
            return True
        except FileNotFoundError:
            return False
