"""The admin page's door (web/routes.py), over HTTP against the engine on the emulator: nothing
of a call without a session, a login sets a Secure, HttpOnly, SameSite=Strict cookie and never
echoes the token, POSTs need the session's CSRF token, no token configured = the page is off."""
from __future__ import annotations

import io

import anyio
import httpx
import pytest

from admin_kit import csrf_of, login, saved, session_cookie
from engine_harness import API_TOKEN, eventually, running_rig

pytestmark = pytest.mark.anyio

PAGES = ("/admin/", "/admin/history", "/admin/health", "/admin/calls/abc123")
API = ("/admin/api/live", "/admin/api/calls", "/admin/api/calls/abc123", "/admin/api/calls/abc123/recording", "/admin/api/health")


async def test_without_a_session_pages_send_to_the_login_form_and_the_api_answers_401(tmp_path):
    async with running_rig(tmp_path) as rig, httpx.AsyncClient(base_url=rig.http_url) as http:
        for path in PAGES:
            r = await http.get(path)
            assert (r.status_code, r.headers["location"]) == (303, "/admin/login"), path
        bearer = {"Authorization": f"Bearer {API_TOKEN}"}  # the API's token is not a session
        forged = {"Cookie": "ai_admin_session=eyJlIjogOTk5OTk5OTk5OSwgImMiOiAieCJ9.AAAA"}
        for path in API:
            for headers in ({}, bearer, forged):
                assert (await http.get(path, headers=headers)).status_code == 401, (path, headers)
        assert (await http.post("/admin/api/calls/abc123/end", headers=bearer)).status_code == 401
        form = await http.get("/admin/login")
        assert form.status_code == 200 and 'type="password"' in form.text and '<label for="token">' in form.text


async def test_a_wrong_token_is_refused_and_the_right_one_opens_a_session_cookie_without_the_token(tmp_path):
    async with running_rig(tmp_path) as rig, httpx.AsyncClient(base_url=rig.http_url) as http:
        wrong = await login(http, "not-the-token")
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers and "not the API token" in wrong.text
        right = await login(http)
        assert right.status_code == 303 and right.headers["location"] == "/admin/"
        cookie = right.headers["set-cookie"]
        attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite", "path", "max-age"} <= attrs
        assert "samesite=strict" in cookie.lower() and "path=/admin" in cookie.lower()
        assert API_TOKEN not in cookie
        value = await session_cookie(http)
        page = await http.get("/admin/", headers={"Cookie": f"ai_admin_session={value}"})
        assert page.status_code == 200 and API_TOKEN not in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        live = await http.get("/admin/api/health", headers={"Cookie": f"ai_admin_session={value}"})
        assert live.status_code == 200 and live.json()["ari"]["connected"] is True and API_TOKEN not in live.text


async def test_ending_a_call_needs_the_csrf_token_and_hangs_the_caller_up(tmp_path):
    async with running_rig(tmp_path) as rig, httpx.AsyncClient(base_url=rig.http_url) as http:
        jar = {"Cookie": f"ai_admin_session={await session_cookie(http)}"}
        csrf = csrf_of((await http.get("/admin/", headers=jar)).text)
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: rig.engine.registry.calls, 5, "call live")
        call_id = next(iter(rig.engine.registry.calls))
        url = f"/admin/api/calls/{call_id}/end"
        assert (await http.post(url, headers=jar)).status_code == 403  # no CSRF token
        assert (await http.post(url, headers={**jar, "X-CSRF-Token": "forged"})).status_code == 403
        other_site = {**jar, "X-CSRF-Token": csrf, "Origin": "http://evil.example"}
        assert (await http.post(url, headers=other_site)).status_code == 403
        assert call_id in rig.engine.registry.calls
        assert (await http.post(url, headers={**jar, "X-CSRF-Token": csrf})).status_code == 202
        await eventually(lambda: not rig.engine.registry.calls, 8, "call ended")
        await call.wait_ended(5)  # the caller is hung up, not sent on
        record = await saved(http, jar, call_id)
        assert (record["outcome"], record["end_reason"]) == ("ended_by_admin", "ended by an admin")
        assert (await http.post(url, headers={**jar, "X-CSRF-Token": csrf})).status_code == 404


async def test_with_no_api_token_the_admin_page_is_off(tmp_path):
    async with running_rig(tmp_path, api={"token": None}) as rig, httpx.AsyncClient(base_url=rig.http_url) as http:
        for path in ("/admin/login", *PAGES):
            r = await http.get(path)
            assert r.status_code == 403 and "AI_ENGINE_API__TOKEN" in r.text, path
        assert (await login(http, "")).status_code == 403
        for path in API:
            assert (await http.get(path)).status_code == 401


async def test_live_views_closed_by_the_browser_free_their_place(tmp_path):
    """At most 16 live views at once; one the browser closed (a reload, a closed tab) no longer counts."""
    async with running_rig(tmp_path) as rig, httpx.AsyncClient(base_url=rig.http_url, timeout=5) as http:
        jar = {"Cookie": f"ai_admin_session={await session_cookie(http)}"}
        for _ in range(40):  # more than the limit, one after another
            async with http.stream("GET", "/admin/api/live", headers=jar) as r:
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
                first = await r.aiter_lines().__anext__()
                assert first.startswith("data: ") and '"calls": []' in first
        async with anyio.create_task_group() as tg:
            opened = []

            async def hold():
                async with http.stream("GET", "/admin/api/live", headers=jar) as r:
                    opened.append(r.status_code)
                    await anyio.sleep_forever()

            for _ in range(16):
                tg.start_soon(hold)
            await eventually(lambda: len(opened) == 16, 5, "16 views open")
            assert opened == [200] * 16
            assert (await http.get("/admin/api/live", headers=jar)).status_code == 429
            tg.cancel_scope.cancel()


async def test_a_doctor_run_is_shown_on_the_health_api(tmp_path, monkeypatch):
    from ai_engine.admin.doctor import doctor

    async with running_rig(tmp_path) as rig, httpx.AsyncClient(base_url=rig.http_url) as http:
        monkeypatch.chdir(tmp_path)  # no config/ai-engine.yaml here: environment only
        monkeypatch.setenv("AI_ENGINE_ARI__URL", rig.engine.settings.ari.url)
        monkeypatch.setenv("AI_ENGINE_ARI__PASSWORD", "not-the-password")
        monkeypatch.setenv("AI_ENGINE_HTTP__PORT", str(rig.engine.http_port))
        monkeypatch.setenv("AI_ENGINE_RECORDS__DATA_DIR", str(tmp_path / "data"))  # the engine's
        assert await doctor(io.StringIO()) == 1
        jar = {"Cookie": f"ai_admin_session={await session_cookie(http)}"}
        shown = (await http.get("/admin/api/health", headers=jar)).json()["doctor"]
        failures = [c["name"] for c in shown["checks"] if c["status"] == "FAIL"]
        assert "ARI credentials" in failures and shown["at"]
