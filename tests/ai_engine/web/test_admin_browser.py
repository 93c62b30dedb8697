"""The admin page in a real headless browser (Debian's Chromium driven by Selenium) against the
engine on the Asterisk emulator: login required, a live call appears and disappears, the end-call
button ends a call after a confirmation, a finished call's transcript and recording are shown,
health; screenshots of each page into docs/screenshots/."""
from __future__ import annotations

import re

import pytest

from ai_engine.admin.report import failed, passed
from ai_engine.web import doctor_result
from browser_kit import EC, By, Keys, browser
from engine_harness import API_TOKEN, eventually, running_rig, tone

pytestmark = pytest.mark.anyio

LIVE_ROW = "#live-calls tbody tr"


async def call_says(call) -> None:
    await call.say(tone(600, 600) + b"\x00" * 320 * 40)


async def test_every_page_needs_a_login_with_the_token_and_logout_ends_the_session(tmp_path):
    async with running_rig(tmp_path) as rig:
        with browser(rig.http_url) as b:
            for path in ("/admin/", "/admin/history", "/admin/health", "/admin/calls/abc"):
                await b.get(path)
                assert await b.path() == "/admin/login", path
            await b.js("document.activeElement.blur()")
            await b.run(lambda: b.driver.find_element(By.TAG_NAME, "body").send_keys("\ue004"))  # Tab
            assert await b.js("return document.activeElement.id") == "token"  # keyboard reaches the form first
            await b.screenshot("login")
            assert await b.accessibility_problems() == []
            await b.login("not-the-token")
            assert "not the API token" in await b.text(".message")
            await b.login(API_TOKEN)
            await b.wait(EC.url_to_be(rig.http_url + "/admin/"), "live page after login")
            cookies = await b.run(b.driver.get_cookies)
            assert [(c["name"], c["httpOnly"], c["secure"], c["sameSite"]) for c in cookies] == [
                ("ai_admin_session", True, True, "Strict")
            ]
            assert all(API_TOKEN not in c["value"] for c in cookies)
            assert await b.js("return document.cookie") == ""  # HttpOnly: the page's scripts cannot read it
            logout = await b.find(".logout button")
            await b.run(logout.click)
            await b.wait(EC.url_to_be(rig.http_url + "/admin/login"), "login form after logout")
            await b.get("/admin/history")
            assert await b.path() == "/admin/login"


async def test_a_live_call_appears_with_its_state_disappears_and_the_end_call_button_ends_one(tmp_path):
    async with running_rig(tmp_path) as rig:
        with browser(rig.http_url) as b:
            await b.login(API_TOKEN)
            await b.wait(EC.url_to_be(rig.http_url + "/admin/"), "live page")
            await b.wait(EC.text_to_be_present_in_element((By.ID, "live-status"), "0 calls"), "stream open")
            call = await rig.emu.place_call(exten="5551234", stasis_args=["default"], caller_id=("Alice Example", "+4930123456"))
            await call.wait_answered(5)
            await b.wait(EC.presence_of_element_located((By.CSS_SELECTOR, LIVE_ROW)), "the call appears")
            row = await b.text(LIVE_ROW)
            assert "+4930123456" in row and "default" in row and "local" in row and "snoop_externalmedia" in row
            await call_says(call)
            await b.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, LIVE_ROW), " ms"), "last turn latency shown")
            states = await b.text(f"{LIVE_ROW} .state")
            assert states in ("greeting", "listening", "thinking", "speaking")
            await b.screenshot("live-calls")
            assert await b.accessibility_problems() == []
            await b.size(390, 844)  # a phone
            assert await b.js("return document.documentElement.scrollWidth <= window.innerWidth")
            await b.screenshot("live-calls-phone")
            await b.size(1280, 900)
            await call.hangup()
            await b.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, LIVE_ROW)), "the call disappears")

            second = await rig.emu.place_call(exten="5551234", stasis_args=["default"], caller_id=("Bob", "+4930999"))
            await second.wait_answered(5)
            button = await b.wait(EC.element_to_be_clickable((By.CSS_SELECTOR, f"{LIVE_ROW} button.danger")), "End call button")
            # By keyboard: Tab from the top reaches the button, and it keeps the focus while the row updates.
            await b.js("document.activeElement.blur()")
            for _ in range(20):
                await b.run(lambda: b.driver.switch_to.active_element.send_keys(Keys.TAB))
                if await b.js("return document.activeElement === arguments[0]", button):
                    break
            assert await b.js("return document.activeElement === arguments[0]", button), "End call not reachable by Tab"
            await call_says(second)
            await b.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, LIVE_ROW), " ms"), "the row updated")
            assert await b.js("return document.activeElement === arguments[0]", button)
            await b.run(lambda: b.driver.switch_to.active_element.send_keys(Keys.ENTER))
            await b.wait(EC.alert_is_present(), "confirmation asked")
            await b.run(lambda: b.driver.switch_to.alert.dismiss())  # the admin thinks again
            assert rig.engine.registry.calls and not second.ended
            await b.run(button.click)
            await b.wait(EC.alert_is_present(), "confirmation asked")
            await b.run(lambda: b.driver.switch_to.alert.accept())
            await second.wait_ended(8)
            await b.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, LIVE_ROW)), "ended call disappears")
            await eventually(lambda: not rig.engine.registry.calls, 5, "call gone")


async def test_a_finished_calls_transcript_latency_and_recording_are_shown_and_health_is_at_a_glance(tmp_path):
    data = tmp_path / "data"
    doctor_result.save(data, [passed("configuration", "settings load"), failed("ARI", "unreachable", "start Asterisk")])
    personas = {"default": {"greeting": "Hello", "record": True}}
    records = {"data_dir": str(data), "recordings_dir": str(tmp_path / "recording")}
    async with running_rig(tmp_path, personas=personas, records=records) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"], caller_id=("Alice Example", "+4930123456"))
        await call.wait_answered(5)
        await eventually(lambda: rig.emu.playbacks or any(c.recorder.transcript for c in rig.engine.registry.calls.values()), 8, "greeting")
        await call.say(tone(600, 600) + b"\x00" * 320 * 40)
        await eventually(lambda: any(c.recorder.latencies for c in rig.engine.registry.calls.values()), 8, "a reply")
        call_id = next(iter(rig.engine.registry.calls))
        await call.hangup()
        await eventually(lambda: not rig.engine.registry.calls, 8, "call ended")
        await eventually(lambda: any((tmp_path / "recording").glob("*.wav")), 8, "recording written")
        with browser(rig.http_url) as b:
            await b.login(API_TOKEN)
            await b.wait(EC.url_to_be(rig.http_url + "/admin/"), "logged in")
            await b.get("/admin/history")
            row = f'#history tbody tr[data-call="{call_id}"]'
            await b.wait(EC.presence_of_element_located((By.CSS_SELECTOR, row)), "the call in the history")
            assert "+4930123456" in await b.text(row) and "completed" in await b.text(row)
            await b.screenshot("history")
            assert await b.accessibility_problems() == []
            filt = await b.find("#f-text")
            await b.run(filt.send_keys, "no such words")
            await b.run(filt.submit)
            await b.wait(EC.text_to_be_present_in_element((By.ID, "history-status"), "No calls match"), "filtered out")
            await b.get("/admin/history")
            await b.wait(EC.presence_of_element_located((By.CSS_SELECTOR, row)), "history again")
            link = await b.find(f"{row} a")
            await b.run(link.click)
            await b.wait(EC.text_to_be_present_in_element((By.ID, "timeline"), "ms of speech"), "the transcript")
            timeline = await b.text("#timeline")
            assert "Agent" in timeline and "Hello" in timeline and "Caller" in timeline and "Ended: completed" in timeline
            assert "ms" in await b.text("#latency tbody")
            audio = await b.js_async(
                "const a = document.getElementById('recording'), done = arguments[0];"
                "if (a.readyState >= 1) done([a.duration, a.currentSrc]);"
                "else { a.addEventListener('loadedmetadata', () => done([a.duration, a.currentSrc])); "
                "a.addEventListener('error', () => done(['error', a.error && a.error.code])); a.load(); }"
            )
            assert audio[0] != "error" and audio[0] > 0.5, audio  # the browser decoded the WAV, sent with the cookie
            assert audio[1].endswith(f"/admin/api/calls/{call_id}/recording")
            await b.screenshot("call")
            assert await b.accessibility_problems() == []
            await b.size(390, 844)
            assert await b.js("return document.documentElement.scrollWidth <= window.innerWidth")
            await b.screenshot("call-phone")
            await b.size(1280, 900)
            await b.get("/admin/health")
            await b.wait(EC.text_to_be_present_in_element((By.ID, "last-hour"), "Turn latency p95"), "health loaded")
            connections = await b.text("#connections")
            assert "OK ARI" in connections and "OK AudioSocket" in connections
            assert "OK local" in await b.text("#providers")
            hour = await b.text("#last-hour")
            assert "Calls\n1" in hour and "completed: 1" in hour
            doctor = await b.text("#doctor")
            assert "PASS configuration" in doctor and "FAIL ARI" in doctor and "start Asterisk" in doctor
            await b.screenshot("health")
            assert await b.accessibility_problems() == []


async def test_the_timeline_shows_tool_calls_with_arguments_and_results_barge_ins_dtmf_and_the_transfer(tmp_path):
    import datetime as dt

    from ai_engine.records.record import CallRecord

    t0 = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    at = lambda s: (t0 + dt.timedelta(seconds=s)).isoformat(timespec="milliseconds")  # noqa: E731
    record = CallRecord(
        id="tooltransfer01", caller_number="+4930555", caller_name="Carol", extension="200", persona="support",
        provider="local", started_at=t0, answered_at=t0, ended_at=t0 + dt.timedelta(seconds=40), duration_s=40.0,
        outcome="transferred", end_reason="transferred", transfer_target="PJSIP/sales",
        transcript=[
            {"role": "agent", "text": "Hello, how can I help?", "at": at(1), "offset_s": 1.0},
            {"role": "caller", "text": "Is my order shipped?", "at": at(5), "offset_s": 5.0},
            {"role": "agent", "text": "Let me check that for", "at": at(9), "offset_s": 9.0, "interrupted": True},
            {"role": "caller", "text": "Just put me through to sales", "at": at(10), "offset_s": 10.0},
            {"role": "dtmf", "text": "0", "at": at(11), "offset_s": 11.0},
        ],
        tool_calls=[{"name": "order_status", "arguments": {"order": "A-17"}, "result": {"status": "shipped"}, "at": at(7)}],
        turn_latency=[{"total_ms": 812.0, "response_ms": 300.0}], recording=None,
    )
    async with running_rig(tmp_path) as rig:
        rig.engine.records.submit(record)
        await eventually(lambda: rig.engine.records.store.engine is not None, 5, "store open")
        with browser(rig.http_url) as b:
            await b.login(API_TOKEN)
            await b.wait(EC.url_to_be(rig.http_url + "/admin/"), "logged in")
            await b.get("/admin/calls/tooltransfer01")
            await b.wait(EC.text_to_be_present_in_element((By.ID, "timeline"), "Transferred to PJSIP/sales"), "timeline")
            items = [i.text for i in await b.find_all("#timeline li")]
            assert [re.sub(r"^\+[\d:]+", "", i.split("\n")[0]) for i in items[:5]] == ["Agent", "Caller", "Tool order_status", "Agent", "Caller"]
            assert '"order":"A-17"' in items[2] and '"status":"shipped"' in items[2]
            assert "interrupted by the caller (barge-in)" in items[3]
            assert re.sub(r"^\+[\d:]+", "", items[5]) == "Caller pressed 0"  # DTMF in the timeline
            assert items[6] == "Transferred to PJSIP/sales" and "Ended: transferred" in items[7]
            assert "812 ms" in await b.text("#latency tbody")
            assert await b.js("return document.getElementById('recording-section').hidden")  # no recording: no player
            await b.screenshot("call-tools-transfer")
            assert await b.accessibility_problems() == []
