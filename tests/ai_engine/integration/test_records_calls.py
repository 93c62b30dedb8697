"""Call records through the emulator: a real call leaves one record with its caller, persona,
transcript turns, outcome and latency; /calls and its filters, the JSONL export and the
recording are behind the bearer token; the post-call webhook is delivered, retried, and never
holds the call up."""
from __future__ import annotations

import json

import anyio
import httpx
import pytest

from engine_harness import eventually, peak_tone_level, running_rig, tone
from records_kit import AUTH, TOKEN, WebhookReceiver, api, saved_record

pytestmark = pytest.mark.anyio


async def a_conversation(rig, exten="5551234", persona="default", caller=("Alice Example", "+4930123456")):
    call = await rig.emu.place_call(exten=exten, stasis_args=[persona], caller_id=caller)
    await call.wait_answered(5)
    await eventually(lambda: rig.emu.playbacks, 8, "greeting playing")
    await eventually(lambda: not rig.emu.playbacks, 8, "greeting finished")
    await call.say(tone(600, 600) + b"\x00" * 320 * 40)
    await eventually(lambda: any(t["role"] == "agent" for c in rig.engine.registry.calls.values()
                                 for t in c.recorder.transcript[1:]), 8, "the reply")
    await eventually(lambda: not rig.emu.playbacks, 8, "reply finished")
    await call.hangup()
    await eventually(lambda: not rig.engine.registry.calls, 8, "call ended")
    return call


async def test_a_call_leaves_one_record_with_caller_persona_transcript_outcome_and_latency(tmp_path):
    async with running_rig(tmp_path, api={"token": TOKEN}) as rig, api(rig) as http:
        await a_conversation(rig)
        record = await saved_record(http)
    assert record["caller_number"] == "+4930123456" and record["caller_name"] == "Alice Example"
    assert record["extension"] == "5551234"
    assert (record["persona"], record["provider"], record["outcome"]) == ("default", "local", "completed")
    assert record["end_reason"] == "caller hung up"
    assert record["started_at"] <= record["answered_at"] <= record["ended_at"]
    assert record["duration_s"] > 0
    turns = [(t["role"], t["text"]) for t in record["transcript"]]
    # The fake provider: greeting "Hello", a transcript "<n> ms of speech", a reply in pieces.
    assert turns[0] == ("agent", "Hello")
    assert turns[1][0] == "caller" and turns[1][1].endswith("ms of speech")
    assert turns[2][0] == "agent" and turns[2][1].startswith("piece 0")
    offsets = [t["offset_s"] for t in record["transcript"]]
    assert offsets == sorted(offsets) and all("at" in t for t in record["transcript"])
    assert len(record["turn_latency"]) == 1 and record["turn_latency"][0]["total_ms"] > 0
    assert record["tool_calls"] == [] and record["transfer_target"] is None and record["recording"] is None
    assert (tmp_path / "data" / "calls.db").exists()


async def test_calls_api_answers_401_without_or_with_a_wrong_token(tmp_path):
    async with running_rig(tmp_path, api={"token": TOKEN}) as rig:
        async with httpx.AsyncClient(base_url=rig.http_url) as anon:
            for path in ("/calls", "/calls/export.jsonl", "/calls/abc", "/calls/abc/recording"):
                assert (await anon.get(path)).status_code == 401, path
                wrong = await anon.get(path, headers={"Authorization": "Bearer not-the-token"})
                assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer", path
                assert TOKEN not in wrong.text
            assert (await anon.get("/health")).status_code in (200, 503)  # health stays open
            ok = await anon.get("/calls", headers=AUTH)
            assert ok.status_code == 200 and ok.json()["history"] == []


async def test_without_a_configured_token_nobody_reads_calls(tmp_path):
    async with running_rig(tmp_path, api={"token": None}) as rig, httpx.AsyncClient(base_url=rig.http_url) as anon:
        for path in ("/calls", "/calls/export.jsonl", "/calls/abc/recording"):
            answer = await anon.get(path, headers={"Authorization": "Bearer x"})
            assert answer.status_code == 403 and "AI_ENGINE_API__TOKEN" in answer.json()["error"], path


async def test_live_calls_filters_paging_and_the_jsonl_export(tmp_path):
    personas = {"default": {"greeting": "Hello"}, "techstore": {"greeting": "Tech store, hello"}}
    async with running_rig(tmp_path, api={"token": TOKEN}, personas=personas) as rig, api(rig) as http:
        live_call = await rig.emu.place_call(exten="5550001", stasis_args=["techstore"], caller_id=("Bob", "+4940999888"))
        await live_call.wait_answered(5)
        # Its greeting is under way, so its record has a transcript turn (the export test below).
        await eventually(lambda: rig.emu.playbacks, 8, "greeting playing")
        page = (await http.get("/calls")).json()
        assert [c["persona"] for c in page["calls"]] == ["techstore"] and page["history"] == []
        live_id = page["calls"][0]["id"]
        live = (await http.get(f"/calls/{live_id}")).json()
        assert live["live"] is True and live["caller_number"] == "+4940999888"
        await live_call.hangup()
        await eventually(lambda: not rig.engine.registry.calls, 8, "call ended")
        await saved_record(http, persona="techstore")
        await a_conversation(rig, exten="5550002", caller=("Alice", "+4930123456"))
        with anyio.fail_after(8):
            while (await http.get("/calls")).json()["total"] < 2:
                await anyio.sleep(0.05)

        async def ids(**params):
            return [c["persona"] for c in (await http.get("/calls", params=params)).json()["history"]]

        assert await ids() == ["default", "techstore"]  # newest first
        assert await ids(persona="techstore") == ["techstore"]
        assert await ids(caller="999888") == ["techstore"]
        assert await ids(outcome="completed") == ["default", "techstore"]
        assert await ids(outcome="provider_failed") == []
        assert await ids(text="MS OF SPEECH") == ["default"]  # words in the transcript, any case
        assert await ids(since="2000-01-01T00:00:00Z", until="2999-01-01T00:00:00+02:00") == ["default", "techstore"]
        assert await ids(until="2000-01-01T00:00:00Z") == []
        first = (await http.get("/calls", params={"limit": 1})).json()
        assert (len(first["history"]), first["total"], first["next_offset"]) == (1, 2, 1)
        second = (await http.get("/calls", params={"limit": 1, "offset": 1})).json()
        assert second["history"][0]["persona"] == "techstore" and second["next_offset"] is None
        assert (await http.get("/calls", params={"limit": 100000})).status_code == 422  # bounded

        export = await http.get("/calls/export.jsonl")
        assert export.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in export.text.splitlines()]
        assert [r["persona"] for r in lines] == ["techstore", "default"]  # oldest first
        assert all(r["transcript"] for r in lines)
        only = await http.get("/calls/export.jsonl", params={"persona": "default"})
        assert [json.loads(line)["persona"] for line in only.text.splitlines()] == ["default"]
        assert (await http.get("/calls/no-such-call")).status_code == 404
        assert (await http.get("/calls/bad id!")).status_code in (404, 422)


async def test_webhook_is_retried_until_delivered(tmp_path):
    hook = WebhookReceiver(statuses=[500, 503])
    async with anyio.create_task_group() as tg:
        await tg.start(hook.serve)
        personas = {"default": {"greeting": "Hello", "webhook_url": hook.url}}
        records = {"data_dir": str(tmp_path / "data"), "webhook_backoff_s": 0.05, "webhook_attempts": 3}
        async with running_rig(tmp_path, api={"token": TOKEN}, personas=personas, records=records) as rig:
            await a_conversation(rig)
            await eventually(lambda: len(hook.bodies) == 3, 8, "three webhook POSTs")
        tg.cancel_scope.cancel()
    body = json.loads(hook.bodies[-1])
    assert body["caller_number"] == "+4930123456" and body["persona"] == "default" and body["outcome"] == "completed"
    assert [t["role"] for t in body["transcript"]][:2] == ["agent", "caller"]
    assert hook.bodies[0] == hook.bodies[-1]  # the same record each time


async def test_a_webhook_that_never_answers_holds_up_neither_the_call_nor_the_next_one(tmp_path):
    hook = WebhookReceiver(hang=True)
    async with anyio.create_task_group() as tg:
        await tg.start(hook.serve)
        personas = {"default": {"greeting": "Hello", "webhook_url": hook.url}}
        records = {"data_dir": str(tmp_path / "data"), "webhook_timeout_s": 30, "webhook_attempts": 1}
        async with running_rig(tmp_path, api={"token": TOKEN}, personas=personas, records=records) as rig, api(rig) as http:
            first = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
            await first.wait_answered(5)
            await first.hangup()
            await hook.received.wait()  # the POST is in flight and will not be answered
            await eventually(lambda: not rig.engine.registry.calls and not rig.emu.bridges, 8, "first call torn down")
            assert (await http.get("/calls")).json()["total"] == 1  # saved before the webhook
            await a_conversation(rig)  # the next call is served as usual
        tg.cancel_scope.cancel()


async def test_a_call_refused_over_capacity_leaves_a_refused_record(tmp_path):
    async with running_rig(tmp_path, api={"token": TOKEN}, calls={"max_concurrent_calls": 1}) as rig, api(rig) as http:
        first = await rig.emu.place_call(exten="5551001", stasis_args=["default"])
        await first.wait_answered(5)
        await rig.emu.place_call(exten="5551002", stasis_args=["default"], caller_id=("Carol", "+4989555000"))
        refused = await saved_record(http, outcome="refused")
        assert (refused["caller_number"], refused["caller_name"], refused["extension"]) == ("+4989555000", "Carol", "5551002")
        assert refused["answered_at"] is None and refused["end_reason"] == "max_concurrent_calls reached"
        assert [c["caller"] for c in (await http.get("/calls")).json()["calls"]] == ["+4930123456"]
        await first.hangup()


async def test_records_of_calls_ended_by_a_shutdown_are_written_before_the_engine_stops(tmp_path):
    from ai_engine.records.store import CallFilter, RecordStore

    async with running_rig(tmp_path, api={"token": TOKEN}) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: len(rig.emu.bridges) == 2, 5, "media path built")
        await rig.engine.shutdown()  # SIGTERM
    store = RecordStore(f"sqlite:///{tmp_path / 'data' / 'calls.db'}")
    try:
        rows, total = await store.list(CallFilter(), 10, 0)
    finally:
        store.close()
    assert total == 1 and rows[0].end_reason == "engine shutting down"


async def test_an_unreachable_database_costs_records_never_calls(tmp_path):
    records = {"data_dir": str(tmp_path / "data"), "database_url": "postgresql://ai@127.0.0.1:1/calls",
               "database_timeout_s": 1}
    async with running_rig(tmp_path, api={"token": TOKEN}, records=records) as rig, api(rig) as http:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: peak_tone_level(call.heard_pcm(), 440) > 2000, 8, "greeting heard")
        page = await http.get("/calls")
        assert page.status_code == 503 and len(page.json()["calls"]) == 1  # live calls still shown
        await call.hangup()
        await eventually(lambda: not rig.engine.registry.calls and not rig.emu.bridges, 8, "torn down as usual")
        await a_conversation(rig)  # the next call too
        assert (await http.get("/calls/whatever")).status_code == 503


async def test_records_disabled_keep_nothing(tmp_path):
    records = {"data_dir": str(tmp_path / "data"), "enabled": False}
    async with running_rig(tmp_path, api={"token": TOKEN}, records=records) as rig, api(rig) as http:
        await a_conversation(rig)
        page = (await http.get("/calls")).json()
        assert page["history"] == [] and page["total"] == 0
    assert not (tmp_path / "data").exists()
