"""One logging setup: JSON lines with the call id, tracebacks as text, any level spelling."""
import io
import json
import logging

import pytest

from voice_common.logs import bind_call, configure_logging, get_logger, level_number


@pytest.fixture
def out():
    stream = io.StringIO()
    yield stream
    logging.getLogger().handlers[:] = []


def lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_structlog_and_stdlib_lines_carry_the_call_id(out):
    configure_logging("info", stream=out)
    with bind_call("c-1", session_id="s-9"):
        get_logger("svc").info("call.started", caller="100")
        logging.getLogger("lib").warning("library says %s", "hi")
    first, second = lines(out)
    assert first["event"] == "call.started" and first["call_id"] == "c-1" and first["session_id"] == "s-9"
    assert second["event"] == "library says hi" and second["call_id"] == "c-1" and second["level"] == "warning"


def test_tracebacks_render_as_text(out):
    configure_logging("INFO", stream=out)
    for log in (get_logger("svc"), logging.getLogger("lib")):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("it.failed")
    for line in lines(out):
        assert "Traceback (most recent call last)" in line["exception"]
        assert "RuntimeError: boom" in line["exception"]
        assert "<traceback object" not in json.dumps(line)


def test_level_is_case_insensitive_and_filters(out):
    assert level_number("debug") == level_number("DEBUG") == logging.DEBUG
    with pytest.raises(ValueError):
        level_number("loud")
    configure_logging("warning", stream=out)
    get_logger("svc").info("hidden")
    get_logger("svc").warning("shown")
    assert [line["event"] for line in lines(out)] == ["shown"]


def test_noisy_libraries_stay_quiet(out):
    configure_logging("debug", stream=out)
    logging.getLogger("httpx").info("GET http://user:pw@host/")
    assert out.getvalue() == ""
