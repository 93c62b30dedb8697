"""Builds a call's media path, as docs/architecture.md §2 and the snoop facts' recommendation say:

  answer → call bridge B1 + caller → snoop(spy=in) → capture bridge B2 + snoop →
  capture leg (Local/<uuid>@ai-agent-media-fork/n with formats, or externalMedia) → B2 →
  its AudioSocket connection bound by UUID.

`calls.audio_transport` picks what carries the legs: AudioSocket (Local fork or externalMedia),
externalMedia RTP (`externalmedia_rtp`: one UDP port of ours per leg, `transports/rtp/`) or
chan_websocket (`websocket`: the engine connects to Asterisk's /media/<id>, `transports/websocket/`).
The call only asks `open_leg(role)` for a capture or a playback leg; each is a `MediaLeg`.

Every id is chosen before its request, and every wait (StasisStart before addChannel, FACT 6 /
422 otherwise; the AudioSocket connection) is bounded. What was created is recorded on the
call as it is created, so teardown removes exactly that, whatever step failed.
"""

from __future__ import annotations

import anyio

from ..observability.logs import get_logger
from ..transports.websocket import leg as websocket_leg
from .call import Call, Leg
from .deps import CallDeps

log = get_logger(__name__)


class SetupFailed(Exception):
    pass


async def build(call: Call, deps: CallDeps) -> Leg:
    """Returns the bound capture leg."""
    s, rest = deps.settings, deps.rest
    await rest.answer(call.caller_id)
    call.recorder.answered()
    await _create_bridge(call, deps, call.bridge_id, "call")
    await rest.add_channel(call.bridge_id, call.caller_id)

    transport = s.calls.audio_transport
    if transport == "bridge_fork":
        capture_bridge = call.bridge_id  # echo-prone (FACT 24): only for providers that cancel echo
    else:
        started = call.expect_stasis(call.snoop_id)
        call.channels_created.append(call.snoop_id)  # it leaves with the caller, not when the caller is sent on
        await rest.snoop(call.caller_id, call.snoop_id, s.ari.app, f"leg,snoop,{call.id}", spy="in")
        await _wait(started, "StasisStart of the snoop", s.calls.setup_timeout_s)
        await _create_bridge(call, deps, call.capture_bridge_id, "capture")
        await rest.add_channel(call.capture_bridge_id, call.snoop_id)
        capture_bridge = call.capture_bridge_id

    leg = await open_leg(call, deps, "capture", external_media=not s.calls.capture_by_local_fork,
                         fmt=s.calls.capture_format)
    await rest.add_channel(capture_bridge, leg.channel_id)
    await _wait(leg.bound, "the capture media connection", s.calls.setup_timeout_s)
    return leg


async def open_playback_leg(call: Call, deps: CallDeps) -> Leg:
    """Stream mode: an externalMedia AudioSocket leg in the call bridge (snoop facts, C-twoem;
    a Local fork must not be the playback leg: it dies on a 2 s gap, snoop F23)."""
    s = deps.settings
    leg = await open_leg(call, deps, "playback", external_media=True, fmt=s.playback.stream_format)
    await deps.rest.add_channel(call.bridge_id, leg.channel_id)
    await _wait(leg.bound, "the playback media connection", s.calls.setup_timeout_s)
    return leg


async def open_leg(call: Call, deps: CallDeps, role: str, external_media: bool, fmt: str = "slin") -> Leg:
    """Create a media leg of the configured transport in Stasis (not yet bridged)."""
    s, rest = deps.settings, deps.rest
    if s.calls.audio_transport == "externalmedia_rtp":
        return await _open_rtp_leg(call, deps, role)
    if s.calls.audio_transport == "websocket":
        return await _open_websocket_leg(call, deps, role)
    leg = call.new_leg(role, local=not external_media)
    deps.registry.add_leg(call, leg)
    started = call.expect_stasis(leg.channel_id)
    call.channels_created.append(leg.channel_id)
    if external_media:
        host = f"{s.audiosocket.advertise_host}:{deps.audiosocket_port}"
        await rest.external_media(leg.channel_id, s.ari.app, host, fmt, str(leg.uuid))
    else:
        await rest.originate(
            endpoint=f"Local/{leg.uuid}@{s.calls.media_fork_context}/n",
            channel_id=leg.channel_id,
            other_channel_id=leg.other_channel_id or "",
            app=s.ari.app,
            app_args=f"leg,{role},{call.id}",
            formats=s.calls.media_fork_formats,
        )
    await _wait(started, f"StasisStart of the {role} leg", s.calls.setup_timeout_s)
    return leg


async def _open_rtp_leg(call: Call, deps: CallDeps, role: str) -> Leg:
    """An externalMedia RTP leg: our UDP port first (external_host), then the channel; Asterisk's
    source address comes in the answer (more/ M1-M3). Bound at once: the socket is ours."""
    s = deps.settings
    leg = call.new_leg(role, local=False)
    deps.registry.add_leg(call, leg)
    if deps.rtp_ports is None:
        raise SetupFailed("no RTP port range configured")
    try:
        rtp = await deps.rtp_ports.open_leg(s.rtp.format)
    except OSError as exc:
        raise SetupFailed(str(exc)) from None
    leg.connection = rtp  # recorded at once: teardown releases the port whatever fails next
    started = call.expect_stasis(leg.channel_id)
    call.channels_created.append(leg.channel_id)
    answer = await deps.rest.external_media_rtp(
        leg.channel_id, s.ari.app, f"{s.rtp.advertise_host}:{rtp.port}", s.rtp.format
    )
    rtp.expect_peer((answer or {}).get("channelvars"))
    await _wait(started, f"StasisStart of the {role} leg", s.calls.setup_timeout_s)
    log.info("rtp.leg_open", role=role, port=rtp.port, peer=rtp.peer, format=s.rtp.format)
    leg.bound.set()
    return leg


async def _open_websocket_leg(call: Call, deps: CallDeps, role: str) -> Leg:
    """A chan_websocket leg (connection_type=server): the channel waits until we connect to
    /media/<MEDIA_WEBSOCKET_CONNECTION_ID>; then StasisStart and MEDIA_START come (more/ M15-M17)."""
    s = deps.settings
    leg = call.new_leg(role, local=False)
    deps.registry.add_leg(call, leg)
    started = call.expect_stasis(leg.channel_id)
    call.channels_created.append(leg.channel_id)
    answer = await deps.rest.external_media_websocket(leg.channel_id, s.ari.app, s.websocket.format)
    connection_id = ((answer or {}).get("channelvars") or {}).get("MEDIA_WEBSOCKET_CONNECTION_ID")
    if not connection_id:
        raise SetupFailed("externalMedia answer without MEDIA_WEBSOCKET_CONNECTION_ID")
    url = websocket_leg.media_url(s.ari.url, s.websocket.media_url)
    try:
        leg.connection = await websocket_leg.connect(
            url,
            connection_id,
            s.websocket.format,
            timeout_s=s.websocket.connect_timeout_s,
            max_message=s.websocket.max_message_bytes,
        )
    except (OSError, TimeoutError) as exc:
        raise SetupFailed(f"media WebSocket {url}{connection_id}: {exc!r}") from None
    await _wait(started, f"StasisStart of the {role} leg", s.calls.setup_timeout_s)
    log.info("websocket_media.leg_open", role=role, connection_id=connection_id, format=s.websocket.format)
    leg.bound.set()
    return leg


async def _create_bridge(call: Call, deps: CallDeps, bridge_id: str, role: str) -> None:
    call.bridges_created.append(bridge_id)
    await deps.rest.create_bridge(bridge_id, call.bridge_name(role))


async def _wait(event: anyio.Event, what: str, timeout_s: float) -> None:
    with anyio.move_on_after(timeout_s) as scope:
        await event.wait()
    if scope.cancelled_caught:
        raise SetupFailed(f"no {what} within {timeout_s} s")
