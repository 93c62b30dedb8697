"""One Realtime session, by role, in the order a caller turn flows through them:

    session (socket messages -> client events) -> listening (audio -> VAD -> turns)
    -> turns (STT, transcript, user item) -> responses (LLM -> TTS, via speaking) -> outbox (the writer)

Each role only calls the ones after it; `state` (the session settings and their wire view) and
`units` (the plain state of a turn and a response) are read by all. Event names and shapes come
from `realtime_protocol`; `inbound` parses client messages (with the append fast path).
"""
