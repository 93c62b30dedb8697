"""What every check needs: the settings, the ARI probe, the doctor's own events, and what the
engine (if it runs on this host) says about itself on its HTTP API."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ..config import Settings
from .ari_probe import AriProbe, EventLog
from .listener import UuidListener

DOCTOR_CONTEXT = "ai-agent-doctor"  # asterisk-conf/extensions_custom.conf: Answer, Wait, Hangup


@dataclass
class Context:
    settings: Settings
    probe: AriProbe
    events: EventLog | None = None  # the doctor app's events (None: WebSocket refused)
    listener: UuidListener | None = None  # ours when the engine's AudioSocket port was free
    engine_health: dict | None = None  # the engine's /health body; None: no engine answering
    asterisk_version: str | None = None
    notes: dict = field(default_factory=dict)

    @property
    def app(self) -> str:
        return doctor_app(self.settings)

    @property
    def engine_url(self) -> str:
        host = self.settings.http.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
        return f"http://{host}:{self.settings.http.port}"

    async def engine_get(self, path: str) -> httpx.Response | None:
        """GET from the engine's API; None when nothing answers."""
        token = self.settings.api.token
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token is not None else {}
        try:  # /health shows its details (ari_connected, ...) only with the API token
            async with httpx.AsyncClient(timeout=3.0, headers=headers) as client:
                return await client.get(self.engine_url + path)
        except httpx.HTTPError:
            return None

    async def engine_counter(self, name: str, labels: str) -> float | None:
        """A counter from the engine's /metrics (e.g. AudioSocket connections refused)."""
        response = await self.engine_get("/metrics")
        if response is None or response.status_code != 200:
            return None
        total = 0.0
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in _pairs(labels)):
                    total += sample.value
        return total


def doctor_app(settings: Settings) -> str:
    return f"{settings.ari.app}-doctor"


def _pairs(labels: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in labels.split(",") if p]  # type: ignore[misc]
