"""Helpers of the admin page tests: log in over HTTP and carry the session by hand (the cookie is
Secure, so a cookie jar keeps it for https only; the browser tests use Chromium's own)."""
from __future__ import annotations

import re

import anyio

import httpx

from engine_harness import API_TOKEN


async def login(http: httpx.AsyncClient, token: str = API_TOKEN) -> httpx.Response:
    return await http.post("/admin/login", data={"token": token}, follow_redirects=False)


async def session_cookie(http: httpx.AsyncClient) -> str:
    response = await login(http)
    assert response.status_code == 303, response.text
    match = re.match(r"ai_admin_session=([^;]+)", response.headers["set-cookie"])
    assert match
    return match.group(1)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


async def saved(http: httpx.AsyncClient, jar: dict, call_id: str, timeout: float = 8.0) -> dict:
    """The call's record once it is written (the records writer runs after the call)."""
    with anyio.fail_after(timeout):
        while True:
            r = await http.get(f"/admin/api/calls/{call_id}", headers=jar)
            if r.status_code == 200 and not r.json().get("live"):
                return r.json()
            await anyio.sleep(0.05)
