"""Hang-up sequences, event for event as recorded.

* caller hangs up (FACT 28, snoop F25): ChannelHangupRequest(caller, 16), [BRIDGEPEER="",
  ChannelLeftBridge], StasisEnd; nothing more for the caller (no ChannelDestroyed without
  subscribeAll); a few ms later each snoop on it: [BRIDGEPEER="", ChannelLeftBridge], StasisEnd,
  and nothing more (snoop F25, F26). A snoop stays while its channel lives, also after that
  channel left Stasis (continueInDialplan); it leaves when the channel is gone;
* agent ``DELETE`` of the caller (FACT 33): the same with cause 32 and ``soft``;
* agent ``DELETE`` of a Local fork ;1 (FACT 30): HangupRequest(;1, 32, soft), BRIDGEPEER="",
  ChannelLeftBridge, StasisEnd(;1), STASISSTATUS=SUCCESS, HangupRequest(;2, 16),
  ChannelDestroyed(;1, 16), HangupRequest(;2, 16, soft), ChannelDestroyed(;2, 16), TCP close;
* the engine closes the AudioSocket (FACT 35): ChannelDialplan NoOp "AudioSocket returned",
  ChannelDialplan Hangup, HangupRequest(;2, 16, soft), HangupRequest(;1, 16), BRIDGEPEER="",
  ChannelLeftBridge(;1), StasisEnd(;1), STASISSTATUS=SUCCESS, ChannelDestroyed(;1), (;2);
* AudioSocket inactivity timeout or error (FACT 34, snoop F27): HangupRequest(;2, 16, soft),
  HangupRequest(;1, 0), ChannelDestroyed(;2, 0 "Unknown"), BRIDGEPEER="",
  ChannelLeftBridge(;1), StasisEnd(;1), STASISSTATUS=SUCCESS, ChannelDestroyed(;1, 16);
* ``DELETE`` of an externalMedia channel (FACT 45, snoop F28): HangupRequest(32, soft),
  BRIDGEPEER="", ChannelLeftBridge, StasisEnd, STASISSTATUS=SUCCESS, ChannelDestroyed(16), close.
"""
from __future__ import annotations

from . import events as ev

SNOOP_LEAVE_DELAY = 0.003   # snoop F25: 0.5-7.4 ms after the caller's StasisEnd

REASON_CAUSES = {"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 19,
                 "rejected": 21, "unallocated": 1, "normal_unspecified": 31,
                 "number_incomplete": 28, "codec_mismatch": 58, "interworking": 127,
                 "failed": 38, "answered_elsewhere": 26}


class TeardownMixin:
    # ---- entry point for DELETE /channels/{id}
    def hangup_channel(self, ch, cause: int = 32) -> None:
        if not ch.alive:
            return
        if ch.kind == "caller":
            self.caller_hangup(ch.call, cause=cause, soft=True)
        elif ch.kind == "phone":
            self.caller_hangup(ch.call, cause=16, soft=False)
        elif ch.kind == "local1":
            self.local1_deleted(ch, cause)
        elif ch.kind == "local2":
            self.local2_failed(ch, first_cause=cause)
        elif ch.kind == "snoop":
            self.emit(ev.hangup_request(ch, cause, True), ch)
            self.snoop_leave(ch)
        elif ch.kind in ("extmedia", "audiosocket"):
            self.extmedia_end(ch, cause, soft=True)
        else:
            self.destroy(ch, cause)

    # ---- the inbound call
    def caller_hangup(self, call, cause: int = 16, soft: bool = False) -> None:
        ch, phone = call.channel, call.phone
        if not ch.alive:
            return
        for pb in list(ch.playbacks):
            if pb.state == "playing" and pb.pcm is not None:
                self.finish_playback(pb, "done", start_next=False)
            else:
                self.drop_playback(pb)
        self.emit(ev.hangup_request(ch, cause, soft), ch)
        if ch.bridge is not None:
            self.bridge_remove(ch, hangup=True)
        self.leave_stasis(ch)
        call._mark_ended(cause)
        self.destroy(ch, 16)
        if phone is not None:
            self.destroy(phone, 16)

    def snoop_leave(self, s) -> None:
        if not s.alive:
            return
        if s.bridge is not None:
            self.bridge_remove(s, hangup=True)
        self.leave_stasis(s)
        s.subscribed = False          # never a HangupRequest or ChannelDestroyed (snoop F26)
        self.destroy(s, 16)

    # ---- Local channels (the media fork)
    def local1_deleted(self, ch1, cause: int) -> None:
        ch2 = ch1.peer
        self.emit(ev.hangup_request(ch1, cause, True), ch1)
        if ch1.bridge is not None:
            self.bridge_remove(ch1, hangup=True)
        self.leave_stasis(ch1)
        if ch2 is not None and ch2.alive:
            self.emit(ev.hangup_request(ch2, 16, False), ch2)
        self.destroy(ch1, 16)
        if ch2 is not None and ch2.alive:
            self.emit(ev.hangup_request(ch2, 16, True), ch2)
            ch2.set_app("", "")
            self.destroy(ch2, 16)
        self._pair_call_ended(ch1, 16)

    def local2_hangup_app(self, ch2) -> None:
        """``Hangup()`` in the ;2 half's dialplan, e.g. after AudioSocket() returned (FACT 35)."""
        ch1 = ch2.peer
        self.emit(ev.hangup_request(ch2, 16, True), ch2)
        if ch1 is not None and ch1.alive:
            self.emit(ev.hangup_request(ch1, 16, False), ch1)
            if ch1.bridge is not None:
                self.bridge_remove(ch1, hangup=True)
            self.leave_stasis(ch1)
            self.destroy(ch1, 16)
        ch2.set_app("", "")
        self.destroy(ch2, 16)
        self._pair_call_ended(ch2, 16)

    def local2_failed(self, ch2, first_cause: int = 16) -> None:
        """``AudioSocket()`` failed: timeout, bad frame, no server (FACT 34, snoop F23/F27)."""
        ch1 = ch2.peer
        if ch2.leg is not None:
            ch2.leg.close(ch2.leg.log.end_reason or "error")
        self.emit(ev.hangup_request(ch2, first_cause, True), ch2)
        if ch1 is not None and ch1.alive:
            self.emit(ev.hangup_request(ch1, 0, False), ch1)
        ch2.set_app("", "")
        self.destroy(ch2, 0)
        if ch1 is not None and ch1.alive:
            if ch1.bridge is not None:
                self.bridge_remove(ch1, hangup=True)
            self.leave_stasis(ch1)
            self.destroy(ch1, 16)
        self._pair_call_ended(ch2, 16)

    def dialplan_hangup(self, ch) -> None:
        """The dialplan of ``ch`` ran ``Hangup()`` or ran out of priorities."""
        if not ch.alive:
            return
        if ch.kind == "local2":
            self.local2_hangup_app(ch)
        elif ch.kind == "caller":
            self.destroy(ch, 16)
            if ch.peer is not None:
                self.destroy(ch.peer, 16)
        else:
            peer = ch.peer
            self.destroy(ch, 16)
            if peer is not None:
                self.destroy(peer, 16)

    def local_pair_gone(self, ch1, cause: int) -> None:
        for c in (ch1.peer, ch1):
            if c is not None:
                self.destroy(c, cause)
        self._pair_call_ended(ch1, cause)

    def _pair_call_ended(self, ch, cause: int) -> None:
        if ch.call is not None:
            ch.call._mark_ended(cause)

    # ---- externalMedia / AudioSocket channels
    def extmedia_end(self, ch, cause: int, soft: bool) -> None:
        if not ch.alive:
            return
        self.emit(ev.hangup_request(ch, cause, soft), ch)
        if ch.bridge is not None:
            self.bridge_remove(ch, hangup=True)
        self.leave_stasis(ch)
        self.destroy(ch, 16)
