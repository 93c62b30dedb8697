"""bench/asterisk_cost.py only (on the engine's PYTHONPATH there): the echo provider's audio cut into
one reply per second, so that file mode plays files. The echo sends the caller's audio back frame by
frame in real time, so the file segmenter's cue (a 40 ms pause in the reply's audio, or the reply's
end) never comes on a steady capture leg and file mode would play nothing; a real provider
synthesises faster than real time and ends its replies."""

from ai_engine.providers import base, echo

REPLY_S = 1.0


def _push_audio(self, pcm: bytes) -> None:
    deliver = self._deliver
    if deliver is None:
        return
    rid = getattr(self, "_bench_rid", echo.RESPONSE_ID)
    deliver(base.AgentAudio(rid, pcm, self.input_rate))
    self._bench_bytes = getattr(self, "_bench_bytes", 0) + len(pcm)
    if self._bench_bytes >= self.input_rate * 2 * REPLY_S:
        self._bench_bytes = 0
        self._bench_n = getattr(self, "_bench_n", 0) + 1
        deliver(base.ResponseDone(rid, "completed"))
        self._bench_rid = f"{echo.RESPONSE_ID}-{self._bench_n}"
        deliver(base.ResponseStarted(self._bench_rid))


echo.EchoSession.push_audio = _push_audio
