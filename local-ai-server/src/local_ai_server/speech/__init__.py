"""Speech processing without I/O: audio formats and conversion, end-of-turn detection, text pieces for
synthesis, and the chat history a prompt is built from."""
