"""The HTTP API's access rules: /calls (caller numbers) needs the bearer token, /health shows
details only with it, /metrics stays open (issue 13 item 13)."""
import httpx
import pytest
from pydantic import SecretStr

from ai_engine.api.http import create_app

pytestmark = pytest.mark.anyio
TOKEN = "s3cret-api-token"


class Provider:
    async def ready(self) -> bool:
        return True


class Engine:
    ari_connected = True
    audiosocket_listening = True
    media_writable = True
    providers = {"local": Provider()}

    def active_calls(self):
        return [{"id": "c1", "caller": "+4930123456", "persona": "default", "channel_id": "ch1"}]

    records = None  # no call records kept (records.enabled false)

    def live_record(self, call_id):
        return None


def client(token: str | None) -> httpx.AsyncClient:
    app = create_app(Engine(), SecretStr(token) if token else None)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://engine")


async def test_calls_need_the_bearer_token():
    async with client(TOKEN) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            answer = await http.get("/calls", headers=headers)
            assert answer.status_code == 401 and "+4930123456" not in answer.text
            assert answer.headers["www-authenticate"] == "Bearer"
        answer = await http.get("/calls", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200 and answer.json()["calls"][0]["caller"] == "+4930123456"


async def test_without_a_configured_token_calls_are_disabled_with_a_clear_answer():
    async with client(None) as http:
        answer = await http.get("/calls", headers={"Authorization": "Bearer anything"})
        assert answer.status_code == 403 and "AI_ENGINE_API__TOKEN" in answer.json()["error"]


async def test_health_shows_details_only_with_the_token_and_metrics_stay_open():
    async with client(TOKEN) as http:
        open_health = await http.get("/health")
        assert open_health.status_code == 200 and open_health.json() == {"status": "ok"}
        full = (await http.get("/health", headers={"Authorization": f"Bearer {TOKEN}"})).json()
        assert full["status"] == "ok" and full["providers"] == {"local": {"ready": True}} and full["active_calls"] == 1
        assert (await http.get("/metrics")).status_code == 200
        for answer in (open_health, await http.get("/calls")):
            assert TOKEN not in answer.text
