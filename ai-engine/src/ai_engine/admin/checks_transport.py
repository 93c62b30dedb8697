"""Checks for the two transports that need no dialplan: externalMedia over RTP (`externalmedia_rtp`)
and chan_websocket (`websocket`). Each makes Asterisk open the same kind of leg a call would, into
the doctor's own app, and hangs it up whatever happened.

- RTP: a UDP port of ours from `rtp.port_start..port_end` on `rtp.host`, then externalMedia to
  `rtp.advertise_host:<port>`; Asterisk answers with the address it sends from (more/ M1-M3). That
  proves chan_rtp, the format and the port range; whether the packets cross the network between
  the hosts only a call shows (`ai-agent test-call`).
- WebSocket: externalMedia `transport=websocket` (M15), then the engine's own client connects to
  `<media_url><connection id>` and waits for MEDIA_START (M16-M17), as a call does."""

from __future__ import annotations

import uuid as uuidlib

from ..transports.rtp.ports import NoPortFree, RtpPorts
from ..transports.websocket import leg as websocket_leg
from .ari_probe import AriUnreachable
from .context import Context
from .report import Result, failed, passed, skipped

RTP, WEBSOCKET = "RTP media", "WebSocket media"



async def check_rtp(ctx: Context) -> Result:
    s = ctx.settings
    if s.calls.audio_transport != "externalmedia_rtp":
        return skipped(RTP, f"not used (calls.audio_transport={s.calls.audio_transport})")
    try:
        leg = await RtpPorts(s.rtp).open_leg(s.rtp.format)
    except NoPortFree as exc:
        return failed(
            RTP, str(exc),
            "rtp.host must be an address of this host (0.0.0.0 for all); while the engine runs it holds some of "
            "rtp.port_start..port_end: widen the range or stop what else binds those UDP ports",
        )
    channel_id = f"doctor-rtp-{uuidlib.uuid4()}"
    target = f"{s.rtp.advertise_host}:{leg.port}"
    try:
        answer = await ctx.probe.post(
            "/channels/externalMedia", app=ctx.app, channelId=channel_id, external_host=target,
            format=s.rtp.format, encapsulation="rtp", transport="udp",
        )
    except AriUnreachable as exc:
        return skipped(RTP, f"not checked ({exc})")
    finally:
        await ctx.probe.hang_up(channel_id)
        leg.release()
    if not answer.ok:
        return failed(
            RTP, f"externalMedia over RTP to {target} answered {answer.status} {answer.message}",
            "load chan_rtp.so and res_rtp_asterisk.so (asterisk -rx 'module show like rtp'); rtp.format must be "
            "slin16, slin or ulaw",
        )
    address, port = answer.channelvars.get("UNICASTRTP_LOCAL_ADDRESS"), answer.channelvars.get("UNICASTRTP_LOCAL_PORT")
    if address is None or port is None:
        return failed(
            RTP, "Asterisk opened the leg but did not say which address it sends from (UNICASTRTP_LOCAL_*)",
            "use Asterisk 16.6 or later, where externalMedia answers with channelvars",
        )
    return passed(
        RTP,
        f"Asterisk opened an RTP leg ({s.rtp.format}) to {target}, sending from {address}:{port}; packets between the "
        "hosts are checked by `ai-agent test-call`",
    )


async def check_websocket(ctx: Context) -> Result:
    s = ctx.settings
    if s.calls.audio_transport != "websocket":
        return skipped(WEBSOCKET, f"not used (calls.audio_transport={s.calls.audio_transport})")
    channel_id = f"doctor-ws-{uuidlib.uuid4()}"
    base = websocket_leg.media_url(s.ari.url, s.websocket.media_url)
    try:
        answer = await ctx.probe.post(
            "/channels/externalMedia", app=ctx.app, channelId=channel_id, format=s.websocket.format,
            encapsulation="none", transport="websocket", connection_type="server",
        )
        if not answer.ok:
            return failed(
                WEBSOCKET, f"externalMedia over WebSocket answered {answer.status} {answer.message}",
                "load chan_websocket.so (asterisk -rx 'module show like websocket'; it ships with Asterisk 20.15, "
                "21.10, 22.5 and later)",
            )
        connection_id = answer.channelvars.get("MEDIA_WEBSOCKET_CONNECTION_ID")
        if not connection_id:
            return failed(WEBSOCKET, "the answer carries no MEDIA_WEBSOCKET_CONNECTION_ID", "update Asterisk")
        try:
            leg = await websocket_leg.connect(
                base, connection_id, s.websocket.format,
                timeout_s=s.websocket.connect_timeout_s, max_message=s.websocket.max_message_bytes,
            )
        except (OSError, TimeoutError) as exc:
            return failed(
                WEBSOCKET, f"no MEDIA_START from {base}<connection id>: {exc or type(exc).__name__}",
                "websocket.media_url (or ari.url) must reach Asterisk's HTTP server from this host: http.conf "
                "bindaddr/bindport, a firewall, or a proxy that drops the WebSocket upgrade",
            )
        start = await leg.started
        leg.release()
    except AriUnreachable as exc:
        return skipped(WEBSOCKET, f"not checked ({exc})")
    finally:
        await ctx.probe.hang_up(channel_id)
    return passed(WEBSOCKET, f"{base}<connection id> answered MEDIA_START ({start.format}, {start.optimal_frame_size}-byte frames)")
