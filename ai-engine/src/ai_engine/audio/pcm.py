"""The engine's own audio constants. Frame arithmetic, WAV bytes and resampling live in
`voice_common` (shared with local-ai-server)."""

from __future__ import annotations

ASTERISK_FILE_RATE = 8000  # .wav files Asterisk plays must be 8 kHz mono 16-bit (docs/architecture.md)
