"""ARI REST requests the engine makes, each bounded by a timeout, through asyncari's Swagger
operations (nicknames and parameter names as in Asterisk's api-docs)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx

from ...observability import metrics
from .errors import AriError, AriUnavailable


class AriRest:
    def __init__(self, timeout_s: float):
        self._timeout_s = timeout_s
        self._swagger: Any = None  # asyncswagger11 SwaggerClient of the live connection

    def attach(self, swagger: Any) -> None:
        self._swagger = swagger

    def detach(self, swagger: Any) -> None:
        if self._swagger is swagger:
            self._swagger = None

    @property
    def available(self) -> bool:
        return self._swagger is not None

    async def _call(self, resource: str, operation: str, **params: Any) -> Any:
        swagger = self._swagger
        name = f"{resource}.{operation}"
        if swagger is None:
            raise AriUnavailable(f"{name}: not connected to ARI")
        params = {k: v for k, v in params.items() if v is not None}
        op = getattr(getattr(swagger, resource), operation)
        try:
            with anyio.fail_after(self._timeout_s):
                response = await op(**params)
        except TimeoutError:
            metrics.ARI_ERRORS.labels("timeout").inc()
            raise AriUnavailable(f"{name}: no answer within {self._timeout_s} s") from None
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            metrics.ARI_ERRORS.labels(str(status)).inc()
            raise AriError(status, _error_message(exc.response), name) from None
        except (httpx.TransportError, OSError) as exc:
            metrics.ARI_ERRORS.labels("unavailable").inc()
            raise AriUnavailable(f"{name}: {exc!r}") from None
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # channels
    async def answer(self, channel_id: str) -> None:
        await self._call("channels", "answer", channelId=channel_id)

    async def hangup(self, channel_id: str, reason: str | None = None) -> bool:
        """Hang a channel up; False when it was already gone."""
        try:
            await self._call("channels", "hangup", channelId=channel_id, reason=reason)
        except AriError as exc:
            if exc.not_found:
                return False
            raise
        return True

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str = "s", priority: int = 1) -> None:
        await self._call(
            "channels", "continueInDialplan", channelId=channel_id, context=context, extension=extension, priority=priority
        )

    async def snoop(self, channel_id: str, snoop_id: str, app: str, app_args: str, spy: str = "in") -> dict:
        return await self._call(
            "channels", "snoopChannel", channelId=channel_id, snoopId=snoop_id, app=app, appArgs=app_args, spy=spy
        )

    async def originate(
        self, endpoint: str, channel_id: str, other_channel_id: str, app: str, app_args: str, formats: str
    ) -> dict:
        return await self._call(
            "channels",
            "originate",
            endpoint=endpoint,
            channelId=channel_id,
            otherChannelId=other_channel_id,
            app=app,
            appArgs=app_args,
            formats=formats,
        )

    async def external_media(self, channel_id: str, app: str, external_host: str, fmt: str, data: str) -> dict:
        return await self._call(
            "channels",
            "externalMedia",
            channelId=channel_id,
            app=app,
            external_host=external_host,
            format=fmt,
            encapsulation="audiosocket",
            transport="tcp",
            data=data,
        )

    async def external_media_rtp(self, channel_id: str, app: str, external_host: str, fmt: str) -> dict:
        """The answer carries channelvars UNICASTRTP_LOCAL_ADDRESS/_PORT (more/ M1)."""
        return await self._call(
            "channels",
            "externalMedia",
            channelId=channel_id,
            app=app,
            external_host=external_host,
            format=fmt,
            encapsulation="rtp",
            transport="udp",
        )

    async def external_media_websocket(self, channel_id: str, app: str, fmt: str) -> dict:
        """connection_type=server: the answer carries MEDIA_WEBSOCKET_CONNECTION_ID (more/ M15)."""
        return await self._call(
            "channels",
            "externalMedia",
            channelId=channel_id,
            app=app,
            format=fmt,
            encapsulation="none",
            transport="websocket",
            connection_type="server",
        )

    async def get_channel(self, channel_id: str) -> dict | None:
        try:
            return await self._call("channels", "get", channelId=channel_id)
        except AriError as exc:
            if exc.not_found:
                return None
            raise

    async def list_channels(self) -> list[dict]:
        return await self._call("channels", "list") or []

    # bridges
    async def create_bridge(self, bridge_id: str, name: str) -> dict:
        return await self._call("bridges", "create", bridgeId=bridge_id, type="mixing", name=name)

    async def add_channel(self, bridge_id: str, channel_id: str) -> None:
        await self._call("bridges", "addChannel", bridgeId=bridge_id, channel=channel_id)

    async def destroy_bridge(self, bridge_id: str) -> bool:
        try:
            await self._call("bridges", "destroy", bridgeId=bridge_id)
        except AriError as exc:
            if exc.not_found:
                return False
            raise
        return True

    async def list_bridges(self) -> list[dict]:
        return await self._call("bridges", "list") or []

    async def play_on_bridge(self, bridge_id: str, media: str, playback_id: str) -> dict:
        return await self._call("bridges", "play", bridgeId=bridge_id, playbackId=playback_id, media=media)

    async def record_bridge(self, bridge_id: str, name: str, fmt: str) -> dict:
        """201 {"name","format","state":"queued","target_uri"}; ends when the bridge empties (more/ M43-M46)."""
        return await self._call("bridges", "record", bridgeId=bridge_id, name=name, format=fmt, ifExists="overwrite")

    # playbacks
    async def stop_playback(self, playback_id: str) -> bool:
        try:
            await self._call("playbacks", "stop", playbackId=playback_id)
        except AriError as exc:
            if exc.not_found:
                return False
            raise
        return True

    async def get_playback(self, playback_id: str) -> dict | None:
        try:
            return await self._call("playbacks", "get", playbackId=playback_id)
        except AriError as exc:
            if exc.not_found:
                return None
            raise


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:200]
    return str(body)[:200]
