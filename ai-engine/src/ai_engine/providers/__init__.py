"""AI providers behind one small interface (`base.py`): caller audio in; transcripts, agent
audio and speech-start events out; cancel. `realtime.py` speaks the OpenAI Realtime subset of
docs/architecture.md §4, which serves both local-ai-server (the `local` provider) and OpenAI."""
