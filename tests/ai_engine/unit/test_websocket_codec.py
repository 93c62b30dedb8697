"""chan_websocket control messages: every text message of the recordings (plain text, server mode;
JSON, client mode) reads as its event, and our commands are spelled as recorded (more/ M17-M31)."""
import json
from pathlib import Path

import pytest

from ai_engine.transports.websocket import codec

MORE = Path(__file__).resolve().parents[2] / "asterisk_facts" / "more"


def texts(name, direction):
    lines = [json.loads(l) for l in (MORE / name).read_text().splitlines() if l.strip()]
    return [l["text"] for l in lines if l.get("type") == "text" and l["dir"] == direction]


@pytest.mark.parametrize("name", ["wsmedia-ws-slin16.jsonl", "wsmedia-ws-slin16-client.jsonl"])
def test_every_recorded_message_from_asterisk_reads_as_its_event(name):
    events = [codec.parse(t) for t in texts(name, "in")]
    assert not [e for e in events if isinstance(e, codec.Unknown)]
    start = events[0]
    assert isinstance(start, codec.MediaStart)
    assert (start.format, start.optimal_frame_size, start.ptime) == ("slin16", 640, 20)
    status = next(e for e in events if isinstance(e, codec.Status))
    assert (status.queue_length, status.xon_level, status.xoff_level, status.queue_full) == (0, 800, 900, False)
    assert [e.digit for e in events if isinstance(e, codec.DtmfEnd)] == ["1", "#"]
    if name == "wsmedia-ws-slin16.jsonl":
        kinds = [type(e).__name__ for e in events]
        assert {"QueueDrained", "MarkProcessed", "BufferingCompleted", "Xoff", "Xon", "Error"} <= set(kinds)
        assert next(e for e in events if isinstance(e, codec.Status) and e.queue_full).queue_length == 926
        assert next(e for e in events if isinstance(e, codec.Error)).text == "SET_MEDIA_DIRECTION only supports JSON format."
        assert next(e for e in events if isinstance(e, codec.MarkProcessed)).mark == "m1"
    else:
        assert next(e for e in events if isinstance(e, codec.MarkProcessed)).mark == "m1"
        assert next(e for e in events if isinstance(e, codec.Error)).text == "Unable to parse JSON command"


def test_our_commands_are_spelled_as_recorded():
    recorded = set(texts("wsmedia-ws-slin16.jsonl", "out"))
    for name, arg in [("GET_STATUS", None), ("REPORT_QUEUE_DRAINED", None), ("MARK_MEDIA", "m1"), ("FLUSH_MEDIA", None),
                      ("PAUSE_MEDIA", None), ("CONTINUE_MEDIA", None), ("START_MEDIA_BUFFERING", None),
                      ("STOP_MEDIA_BUFFERING", "b1")]:
        assert codec.command(name, arg) in recorded
    with pytest.raises(ValueError):
        codec.command("NO_SUCH_COMMAND")
    with pytest.raises(ValueError):
        codec.command("MARK_MEDIA", "two words")


@pytest.mark.parametrize("text", ["{not json", '{"no_event": 1}', "STATUS queue_length:x", "MEDIA_START format:slin16", "X" * 5000])
def test_unreadable_messages_are_refused(text):
    with pytest.raises(codec.ProtocolError):
        codec.parse(text)


def test_an_unknown_message_is_reported_not_fatal():
    assert codec.parse("SOMETHING_NEW a:b") == codec.Unknown("SOMETHING_NEW")
