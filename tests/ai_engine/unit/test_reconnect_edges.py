"""Edges of an ARI reconnect (issue 13 item 14): the file player's resync never finishes the
wrong segment, and the password never reaches a log line in any URL-encoded form."""
import anyio
import pytest
from pydantic import SecretStr

from ai_engine.config import AriSettings
from ai_engine.playback.file_player import FilePlayer
from ai_engine.playback.media_store import MediaStore
from ai_engine.playback.segmenter import Segment
from ai_engine.transports.ari.supervisor import _safe_error


class SlowRest:
    """ARI whose GET /playbacks/{id} answers only when the test says so."""

    def __init__(self):
        self.played: list[str] = []
        self.answer_get = anyio.Event()
        self.asked = anyio.Event()

    async def play_on_bridge(self, bridge_id, media, playback_id):
        self.played.append(playback_id)

    async def get_playback(self, playback_id):
        self.asked.set()
        await self.answer_get.wait()
        return None  # gone: its PlaybackFinished was lost while disconnected

    async def stop_playback(self, playback_id):
        pass


@pytest.mark.anyio
async def test_resync_does_not_finish_the_segment_that_started_while_it_asked(tmp_path):
    rest = SlowRest()
    player = FilePlayer(rest, MediaStore(tmp_path, "x"), "ai-agent", "0123456789abcdef", "b1", finish_margin_s=30.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(player.run)
        player.enqueue(Segment("r1", b"\x00\x00" * 8000, 0))
        player.enqueue(Segment("r1", b"\x00\x00" * 8000, 1))
        with anyio.fail_after(5):
            while len(rest.played) < 1:
                await anyio.sleep(0.01)
        first = rest.played[0]
        tg.start_soon(player.resync)  # asks about the first playback...
        await rest.asked.wait()
        player.on_event({"type": "PlaybackFinished", "playback": {"id": first, "state": "done"}})
        with anyio.fail_after(5):  # ...which finishes meanwhile; the second starts
            while len(rest.played) < 2:
                await anyio.sleep(0.01)
        rest.answer_get.set()  # "the first is gone": must not touch the second
        await anyio.sleep(0.05)
        assert player.playing and player._current == rest.played[1]
        second_files = sorted(p.name for p in tmp_path.iterdir())
        assert len(second_files) == 1, "the playing segment's file is still there"
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_playback_that_fails_during_the_hang_up_is_no_failure(tmp_path):
    """Fact C7: a segment queued just before the hang-up ends `failed` once the teardown deleted
    its file. That is the hang-up, not a fault: logged at info level, not counted as a failure."""
    from ai_engine.observability import metrics
    from structlog.testing import capture_logs

    rest = SlowRest()
    player = FilePlayer(rest, MediaStore(tmp_path, "x"), "ai-agent", "0123456789abcdef", "b1", finish_margin_s=30.0)
    failures = metrics.PLAYBACK_FAILURES.labels("failed")
    before = failures._value.get()
    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            tg.start_soon(player.run)
            player.enqueue(Segment("r1", b"\x00\x00" * 8000, 0))
            with anyio.fail_after(5):
                while not rest.played:
                    await anyio.sleep(0.01)
            await player.close()
            player.on_event({"type": "PlaybackFinished", "playback": {"id": rest.played[0], "state": "failed"}})
            player.enqueue(Segment("r2", b"\x00\x00" * 8000, 0))  # too late: the call is going
            await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
    assert failures._value.get() == before
    assert [e["event"] for e in logs if e["log_level"] == "error"] == []
    assert any(e["event"] == "playback.ended_by_hangup" for e in logs)
    assert rest.played == rest.played[:1]


@pytest.mark.parametrize("password", ["p@ss word/+&=", "simple-secret-123"])
def test_the_ari_password_is_scrubbed_in_every_encoded_form(password):
    import urllib.parse

    settings = AriSettings(password=SecretStr(password))
    url = "ws://pbx/ari/events?" + urllib.parse.urlencode({"app": "ai-agent", "api_key": f"ai-agent:{password}"})
    for text in (url, urllib.parse.quote(password, safe=""), password):
        scrubbed = _safe_error(OSError(f"handshake failed for {text}"), settings)
        assert password not in scrubbed
        assert urllib.parse.quote_plus(password) not in scrubbed and urllib.parse.quote(password, safe="") not in scrubbed
