"""AI providers behind one small interface (`base.py`): caller audio in; transcripts, agent
audio and speech-start events out; cancel. `registry.py` maps a provider entry's `kind` to its
class. `realtime.py` is the local-ai-server client (the `local` provider), `echo.py` the line
test; one folder per cloud vendor (`openai_realtime/`, `deepgram/`, `gemini/`), each a sans-IO
`protocol.py` and a WebSocket `session.py`, sharing `ws_edge.py`. See docs/providers.md."""
