"""Client messages in: `realtime_protocol.parse_client_event`, with a fast path for the message
that is 50 of every second of a call, `input_audio_buffer.append` in the compact form clients send
(`realtime_protocol.append_message`: no event_id, no spaces).

The fast path skips json.loads and the event's field readers, but not a check: the size bound, strict
base64 and whole pcm samples still hold. Anything else (an event_id, other spacing, a JSON escape
inside the audio) takes the general path, which gives the same event or the same error.
"""

from __future__ import annotations

import base64
import binascii

from realtime_protocol import AudioFormat, ClientEvent, InputAudioBufferAppend, append_message, parse_client_event

_PREFIX = append_message(b"")[:-2]  # '{"type":"input_audio_buffer.append","audio":' + '"'
_SUFFIX = '"}'


def parse(message: str | bytes, *, max_bytes: int, input_format: AudioFormat) -> ClientEvent:
    """One client message -> a client event; raises `ProtocolError` as the package does."""
    if (type(message) is str and message.startswith(_PREFIX) and message.endswith(_SUFFIX)
            and len(message) <= max_bytes):
        try:
            audio = base64.b64decode(message[len(_PREFIX):-2], validate=True)
        except (binascii.Error, ValueError):
            pass  # the general path reports it (or reads a JSON escape it may hold)
        else:
            if input_format.encoding != "pcm" or not len(audio) % 2:
                return InputAudioBufferAppend(audio)
    return parse_client_event(message, max_bytes=max_bytes, input_format=input_format)
