"""What both services need once (audio arithmetic, resampling, VAD gate, logging, settings)."""
