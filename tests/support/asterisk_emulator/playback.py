"""Playbacks on bridges and channels (FACTS 19-23, 25-26, 51, 56, 57).

* ``play`` answers 201 with ``state: queued`` (FACT 19); the PlaybackStarted (``playing``) follows
  about 1 ms later; a bridge playback first adds an ``Announcer/ARI-xxxxxxxx;2`` party to the
  bridge (BRIDGEPEER updates, softmix: FACT 23);
* ``media=sound:<path>``: ``<path>.wav`` if absolute, ``<sounds_dir>/<path>.wav`` if relative; the
  file is read when the playback starts and must be 8 kHz mono 16-bit, else PlaybackFinished
  ``failed`` right after PlaybackStarted (FACT 51); otherwise PlaybackFinished ``done`` after
  the file's duration, counted in 20 ms ticks (FACT 20);
* an unknown media scheme gets PlaybackStarted and never a PlaybackFinished (FACT 51);
* ``DELETE /playbacks/{id}`` stops the one playing: PlaybackFinished ``done`` at once (FACT 21);
  a second playback with the same id is queued behind the first (FACT 56);
* playback objects have only ``id, media_uri, target_uri, language, state`` (FACT 22).
"""
from __future__ import annotations

import uuid

from . import events as ev
from .media import read_wav_8k, resolve_sound
from .model import Bridge, Playback

UNPLAYABLE_SCHEMES = {"tone", "digits", "number", "characters", "recording"}


class PlaybackMixin:
    def play(self, target, media: str, lang: str | None, playback_id: str | None) -> Playback:
        is_bridge = isinstance(target, Bridge)
        pb = Playback(id=playback_id or str(uuid.uuid4()), media_uri=media,
                      target_uri=("bridge:" if is_bridge else "channel:") + target.id,
                      target=target, language=lang or "en")
        self.playbacks.setdefault(pb.id, []).append(pb)
        target.playbacks.append(pb)
        if len(target.playbacks) == 1:
            self.later(0.001, self.start_next_playback, target)
        return pb

    def start_next_playback(self, target) -> None:
        is_bridge = isinstance(target, Bridge)
        while target.alive and target.playbacks:
            pb = target.playbacks[0]
            if pb.state != "queued":
                return
            announcer_joined = False
            if is_bridge and not target.announcer:
                target.announcer = f"Announcer/ARI-{self.next_seq()};2"
                self.update_bridge_peers(target)
                announcer_joined = True
            pb.state = "playing"
            pb.started_at = self.loop.time()
            self._emit_pb(ev.playback_event("PlaybackStarted", pb), target)
            if announcer_joined and target.participants == 2:
                self.exchange_connected_line(target)
            scheme, _, rest = pb.media_uri.partition(":")
            if scheme == "sound" and rest:
                pb.pcm = read_wav_8k(resolve_sound(rest, self.sounds_dir))
                if pb.pcm is not None:
                    return  # the mixer plays it, one frame per tick
                self.finish_playback(pb, "failed", start_next=False)
            elif scheme in UNPLAYABLE_SCHEMES:
                self.finish_playback(pb, "failed", start_next=False)
            else:
                # unknown scheme: "playing" forever, no PlaybackFinished (FACT 51)
                target.playbacks.popleft()
        if is_bridge and target.announcer and not target.playbacks:
            target.announcer = None
            self.update_bridge_peers(target)

    def finish_playback(self, pb: Playback, state: str, start_next: bool = True) -> None:
        target = pb.target
        pb.state = state
        if target.playbacks and target.playbacks[0] is pb:
            target.playbacks.popleft()
        self._unregister(pb)
        self._emit_pb(ev.playback_event("PlaybackFinished", pb), target)
        if start_next:
            self.start_next_playback(target)

    def _emit_pb(self, event: dict, target) -> None:
        if isinstance(target, Bridge):
            self.emit_bridge(event, target)
        else:
            self.emit(event, target)

    def drop_playback(self, pb: Playback) -> None:
        """Remove without an event (a queued playback that never started)."""
        try:
            pb.target.playbacks.remove(pb)
        except ValueError:
            pass
        self._unregister(pb)

    def _unregister(self, pb: Playback) -> None:
        lst = self.playbacks.get(pb.id, [])
        if pb in lst:
            lst.remove(pb)
        if not lst:
            self.playbacks.pop(pb.id, None)

    def get_playback(self, playback_id: str) -> Playback | None:
        lst = self.playbacks.get(playback_id) or []
        for pb in lst:
            if pb.state == "playing":
                return pb
        return lst[0] if lst else None

    def stop_playback(self, playback_id: str) -> bool:
        lst = list(self.playbacks.get(playback_id) or [])
        if not lst:
            return False
        for pb in lst:
            if pb.state == "playing":
                if pb.target.playbacks and pb.target.playbacks[0] is pb:
                    self.finish_playback(pb, "done")
                else:   # unknown scheme: nothing is really playing, nothing is reported
                    self._unregister(pb)
                return True
        self.drop_playback(lst[0])
        return True

    def tick_playback(self, target):
        """The next frame of the target's current playback; finishes it when exhausted."""
        pb = target.playing
        if pb is None:
            return None
        frame = pb.next_frame()
        if frame is None:
            self.finish_playback(pb, "done")
            pb = target.playing
            return pb.next_frame() if pb is not None else None
        return frame
