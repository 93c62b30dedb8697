"""Sans-IO OpenAI Realtime protocol: see docs/protocol.md and docs/architecture.md."""
