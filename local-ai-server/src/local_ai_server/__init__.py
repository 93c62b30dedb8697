"""local-ai-server: local speech-to-speech over a subset of the OpenAI Realtime protocol."""

__version__ = "0.1.0"
