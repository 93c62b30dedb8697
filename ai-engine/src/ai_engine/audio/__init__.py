"""Audio formats: WAV files for Asterisk, resampling, frame sizes."""
