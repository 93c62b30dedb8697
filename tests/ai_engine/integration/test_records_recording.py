"""Recording through the emulator (personas.<name>.record): the call bridge is recorded through
ARI (`POST /bridges/{id}/record`, asterisk_facts more/ M43-M46) after the announcement, the file
is linked from the record and served by GET /calls/{id}/recording, and retention deletes the
record and the file."""
from __future__ import annotations

import datetime as dt
import io
import wave

import numpy as np
import pytest
from sqlalchemy import update

from ai_engine.records.tables import calls
from engine_harness import eventually, peak_tone_level, running_rig, tone
from records_kit import TOKEN, api, saved_record

pytestmark = pytest.mark.anyio

ANNOUNCEMENT_HZ = 1000


def write_announcement(sounds):
    (sounds / "announce").mkdir(parents=True, exist_ok=True)
    with wave.open(str(sounds / "announce" / "recorded.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(tone(ANNOUNCEMENT_HZ, 800))


async def test_a_recorded_call_is_announced_recorded_served_and_removed_by_retention(tmp_path):
    write_announcement(tmp_path / "sounds")
    personas = {"default": {"greeting": "Hello", "record": True, "record_announcement": "sound:announce/recorded"}}
    records = {"data_dir": str(tmp_path / "data"), "recordings_dir": str(tmp_path / "recording"),
               "retention_days": 30, "retention_interval_s": 0.1}
    async with running_rig(tmp_path, api={"token": TOKEN}, personas=personas, records=records) as rig, api(rig) as http:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), ANNOUNCEMENT_HZ) > 2000, 8, "announcement heard")
        await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting after it")
        await call.say(tone(600, 600) + b"\x00" * 320 * 40)
        await eventually(lambda: peak_tone_level(call.heard_pcm()[-8000 * 3:], 600) > 2000, 8, "reply heard")
        await call.hangup()

        record = await saved_record(http)
        asked = [r for r in rig.emu.rest_log if r["method"] == "POST" and r["path"].endswith(("/record", "/play"))]
        assert asked[0]["path"].endswith("-call/record")  # the caller's bridge, recorded first ...
        announcement = asked[1]  # ... then the caller is told
        assert announcement["path"].endswith("-call/play") and announcement["query"]["media"] == "sound:announce/recorded"
        # The agent's first words are asked for only once the announcement has finished.
        finished = next(e["t"] for e in rig.emu.event_log if e["event"]["type"] == "PlaybackFinished")
        assert len(asked) > 2 and all(r["t"] > finished for r in asked[2:])
        assert record["recording"] == f"/calls/{record['id']}/recording"
        path = tmp_path / "recording" / f"ai-agent-{record['id']}.wav"
        await eventually(path.exists, 5, "RecordingFinished: the file is written")  # when the bridge is destroyed (M45)

        served = await http.get(record["recording"])
        assert served.status_code == 200 and served.headers["content-type"] == "audio/wav"
        with wave.open(io.BytesIO(served.content)) as w:
            assert (w.getframerate(), w.getnchannels()) == (8000, 1)
            audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").tobytes()
        for hz in (ANNOUNCEMENT_HZ, 440, 600):  # announcement, agent and caller, mixed
            assert peak_tone_level(audio, hz) > 2000, hz
        assert (await http.get(record["recording"], headers={"Authorization": "Bearer wrong"})).status_code == 401

        # Retention: once the call is older than retention_days, the periodic task removes both.
        store = rig.engine.records.store
        with store.engine.begin() as conn:
            conn.execute(update(calls).values(started_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=31)))
        await eventually(lambda: not path.exists(), 5, "recording deleted by retention")
        assert (await http.get(f"/calls/{record['id']}")).status_code == 404
        assert (await http.get(record["recording"])).status_code == 404
        assert (await http.get("/calls")).json()["total"] == 0


async def test_a_call_not_recorded_has_no_recording(tmp_path):
    async with running_rig(tmp_path, api={"token": TOKEN}) as rig, api(rig) as http:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: len(rig.emu.bridges) == 2, 5, "media path built")
        await call.hangup()
        record = await saved_record(http)
        assert record["recording"] is None
        assert not [r for r in rig.emu.rest_log if r["path"].endswith("/record")]
        assert (await http.get(f"/calls/{record['id']}/recording")).status_code == 404


async def test_a_spoken_announcement_comes_before_the_greeting_and_redaction_masks_digits(tmp_path):
    personas = {"default": {"greeting": "Hello", "record": True, "record_announcement": "This call is recorded."}}
    records = {"data_dir": str(tmp_path / "data"), "redact_digits": True, "redact_keep": 2}
    async with running_rig(tmp_path, api={"token": TOKEN}, personas=personas, records=records) as rig, api(rig) as http:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"], caller_id=("Eve", "+4930123456"))
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
        live = (await http.get("/calls")).json()["calls"]
        assert live[0]["caller"] == "+********56"
        await call.hangup()
        record = await saved_record(http)
    assert record["transcript"][0]["text"] == "This call is recorded. Hello"
    assert record["caller_number"] == "+********56"
    assert "4930123456" not in str(record)
