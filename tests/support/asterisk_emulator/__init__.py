"""asterisk_emulator: a test double of Asterisk 22.10.1 for the AI voice agent's engine.

It speaks the protocols over real loopback sockets: ARI REST and the ARI events WebSocket on one
HTTP port, and the client side of AudioSocket (it connects to the engine's AudioSocket server,
as ``AudioSocket()`` in a Local media fork or an externalMedia channel does). Its behaviour is
taken from the recordings of a real Asterisk 22.10.1 in ``tests/asterisk_facts/`` (FACT numbers
in the docstrings of each module; ``snoop F<n>`` = ``tests/asterisk_facts/snoop/README.md``).

Usage::

    from asterisk_emulator import AsteriskEmulator

    async with AsteriskEmulator(app="ai-agent", username="ai-agent", password="secret",
                                audiosocket_address=("127.0.0.1", engine_port),
                                sounds_dir=media_root,
                                fork_context="ai-agent-media-fork") as emu:
        emu.ari_url                     # "http://127.0.0.1:<port>/" (REST + events WS)
        call = await emu.place_call(exten="5551234", stasis_args=["support"],
                                    caller_id=("Test Caller", "+4930123456"))
        call.channel_id; call.stasis_status     # "SUCCESS" (in Stasis) / "FAILED" (FACT 39)
        await call.wait_answered(timeout=5)
        await call.say(pcm8k)           # 8 kHz s16le, real-time 20 ms frames; zeros otherwise
        await call.send_dtmf("1")
        call.heard_pcm()                # what the caller heard since answer (8 kHz s16le)
        call.heard_segments()           # [(t_start, t_end)] of non-silent heard audio
        await call.hangup()             # caller hangs up (FACT 28 / snoop F25)
        await call.wait_ended(timeout=5)
        emu.channels, emu.bridges, emu.playbacks     # live objects by id (leak checks)
        emu.rest_log, emu.event_log, emu.audiosocket_log
        await emu.drop_events_ws()      # Asterisk closes the events WebSocket
        emu.set_ws_refused(True)        # new WS upgrades get 503 until set back
        await emu.stop_http(); await emu.start_http()   # HTTP server away and back, same port
        emu.inject_rest_error("POST", r"/addChannel$", 500, {"message": "boom"}, count=1)
        await emu.wait_for_event(lambda ev: ev["type"] == "StasisEnd", timeout=5)

Public API (exact signatures):

``AsteriskEmulator(app="ai-agent", username="ai-agent", password="secret",
audiosocket_address=("127.0.0.1", 8090), sounds_dir=None, fork_context="ai-agent-media-fork",
stasis_context="ai-agent-stasis", host="127.0.0.1", port=0, extra_contexts=None,
stasis_delay=0.0005, recordings_dir=None)`` — an async context manager (or ``await start()`` /
``await aclose(raise_errors=True)``). Leaving it hangs nothing up politely: every task is
cancelled, AudioSocket connections are closed (plain close), WebSockets and the port are closed,
and pending ``Call`` waits return. If the emulator hit an internal error (a bug: kept in
``errors``, logged on the ``asterisk_emulator`` logger, answered 500 for REST) leaving raises
``RuntimeError`` so no test passes over it.

* ``ari_url`` (str), ``port`` (int), ``app`` (str)
* bridge recordings (``POST /bridges/{id}/record``, ``/recordings/live|stored``: recording.py)
  are written to ``recordings_dir`` (default ``<sounds_dir>/../recording``, else a temporary
  folder) as ``<name>.wav``;
  ``pbx.live_recordings`` holds the running ones.
* ``async place_call(exten="5551234", stasis_args=None, caller_id=("Test Caller",
  "+4930123456"), silence="zeros", timeout=5.0) -> Call`` — ``silence="none"``: the caller sends
  no frames while not speaking (silence suppression), which opens FACT 15's gaps.
* ``channels``, ``bridges``, ``playbacks`` (dicts by id), ``calls`` (list of Call)
* ``rest_log``: ``[{"t", "method", "path", "query", "body", "status", "response",
  "t_response"}]``; ``event_log``: ``[{"t", "app", "event", "delivered"}]``;
  ``audiosocket_log``: ``[ConnLog]`` (``uuid``, ``channel_id``, ``t_connect``, ``t_close``,
  ``closed_by``, ``end_reason``, ``frames`` = ``[{"t", "dir", "kind", "len", "payload"}]`` with
  ``dir`` ``in`` = Asterisk → engine, ``out`` = engine → Asterisk, as in the recordings);
  ``audiosocket(uuid) -> ConnLog | None``. All times are ``loop.time()``.
* ``async drop_events_ws(graceful=False, code=1000)``, ``set_ws_refused(refused)``,
  ``async stop_http()``, ``async start_http()``, ``app_active(app=None) -> bool``
* ``inject_rest_error(method, path_regex, status, body=None, count=1)`` (count None = always)
* ``async wait_for_event(predicate, timeout=5.0, since=0, delivered_only=True) -> dict``
  (``since`` is an index into ``event_log``; None = only events after the call)
* ``async wait_for_rest(predicate, timeout=5.0, since=0) -> dict``
* ``errors`` (list of internal exceptions), ``pbx`` (the internals: ``pbx.hub.apps`` etc.)

Live objects (``model.py``, attributes safe to read in tests): ``Channel`` ``id``, ``name``,
``kind`` (``phone`` = the caller's own ;1 half, ``caller`` = the ;2 half in Stasis, ``local1`` /
``local2`` = halves of an originated Local channel such as the media fork, ``snoop``,
``extmedia``, ``audiosocket``), ``state``, ``in_stasis``, ``subscribed``, ``bridge``, ``vars``,
``caller``, ``connected``, ``leg`` (the AudioSocketLeg: ``uuid``, ``log``, ``dropped_samples``);
``Bridge`` ``id``, ``name``, ``members``, ``technology``, ``announcer``, ``playbacks``;
``Playback`` ``id``, ``state``, ``media_uri``, ``target_uri``, ``target``.

``Call``: ``channel_id``, ``channel`` (the ;2 Stasis channel), ``phone`` (the ;1 half),
``stasis_status``, ``answered``, ``ended``, ``hangup_cause``, ``t_answered``;
``async wait_answered(timeout=5.0)``, ``async wait_ended(timeout=5.0)``,
``async wait_stasis(timeout=5.0) -> str``, ``async say(pcm8k, wait=True)``,
``async send_dtmf(digits, duration_ms=100, gap_ms=250)``, ``heard_pcm() -> bytes``,
``heard_segments(threshold=0, min_gap=0.0) -> list[tuple[float, float]]``,
``async hangup(timeout=5.0)``.

Fidelity notes. Reproduced and checked against the recordings by ``tests/emulator``: event
shapes and sequences of every recorded flow (replays of 14 recordings and of
``rest-errors.jsonl``), REST errors byte for byte, AudioSocket framing/cadence/levels, echo and
snoop isolation, the 2 s timeout, slin192 half amplitude, WebSocket loss (events dropped,
Stasis() failing), ApplicationReplaced. Not reproduced: partial 276/552-byte frames (FACT 16),
the ~120 ms frame gap while DTMF crosses a softmix bridge (FACT 18), the stalled fork when DTMF
overlaps a channel playback (FACT 27), the one-off burst (FACT 46), whisper audio (snoop
F9-F15: ``whisper`` is accepted, its audio is not mixed), and
subscribeAll only partly (ChannelCreated/BridgeCreated/ChannelDestroyed for every channel, but
no DeviceStateChanged and no dialplan events of the caller's own ;1 half, FACT 29). The caller is
a Local pair as in the recordings, not a SIP channel.

externalMedia over RTP (``encapsulation=rtp``, formats slin16/ulaw/slin) is emulated from
``tests/asterisk_facts/more/`` (M1-M14: ``externalmedia_rtp.py``, ``rtp_leg.py``; legs in
``emu.rtp_legs``); PCMA (PT 8) is not, and ChannelConnectedLine after the leg joins is not sent.
externalMedia over chan_websocket in server mode (``transport=websocket connection_type=server``,
slin16/slin, plain-text control messages) is emulated from the same pack (M15-M32:
``externalmedia_websocket.py``, ``websocket_media.py``; the engine connects to ``/media/<id>`` on
the ARI port; legs in ``emu.websocket_legs``); client mode and JSON control messages are not (501).

``extra_contexts`` adds dialplan contexts ``{name: [(app, data), ...]}`` (apps NoOp, Answer,
Wait, Set, Stasis, AudioSocket, Hangup), e.g. the recordings' ``test-wait``.
``stasis_delay`` is how long after the originate/snoop/externalMedia response the channel
enters Stasis (FACT 6: 0.4-1.2 ms); an ``addChannel`` before that is answered 422.
"""
from .audiosocket_client import ConnLog
from .caller import Call
from .emulator import AsteriskEmulator

__all__ = ["AsteriskEmulator", "Call", "ConnLog"]
