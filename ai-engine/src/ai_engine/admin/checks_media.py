"""Checks that make Asterisk do the real thing: the media-fork context connects an AudioSocket
leg carrying our UUID; externalMedia reaches the advertised host; a file the engine writes into
its media folder plays on a Local channel.

Every channel is originated into the doctor's own app (never the engine's) with an id chosen
before the request, and hung up at the end whatever happened."""

from __future__ import annotations

import os
import uuid as uuidlib
from pathlib import Path

import anyio
import numpy as np
from voice_common.pcm import wav_bytes

from .ari_probe import AriUnreachable
from .context import DOCTOR_CONTEXT, Context
from .report import Result, failed, passed, skipped

REFUSED = ("ai_engine_audiosocket_connections_total", "outcome=refused")


def uses_externalmedia_audiosocket(s) -> bool:
    """An externalMedia AudioSocket leg: the capture of every AudioSocket transport but the Local
    fork (snoop_fork), and stream mode's playback leg. RTP and WebSocket carry media themselves."""
    calls = s.calls
    return calls.media_over_audiosocket and (not calls.capture_by_local_fork or s.playback.downstream_mode == "stream")


def _gone(channel_id: str):
    return lambda ev: ev.get("type") in ("ChannelDestroyed", "StasisEnd") and (ev.get("channel") or {}).get("id") == channel_id



async def _leg_arrived(ctx: Context, leg: uuidlib.UUID, channel_id: str, start) -> tuple[bool, str]:
    """Run `start()` (the request that makes Asterisk connect) and tell whether an AudioSocket
    connection with `leg` reached the engine's address. Returns (arrived, how we know)."""
    timeout = ctx.settings.calls.setup_timeout_s
    if ctx.listener is not None:
        arrived = ctx.listener.expect(leg)
        answer = await start()
        if not answer.ok:
            return False, f"Asterisk answered {answer.status} {answer.message}"
        with anyio.move_on_after(timeout):
            await arrived.wait()
        return arrived.is_set(), "our listener"
    # The engine holds the port: it refuses a UUID it does not know, and counts it. We read the
    # counter again once our channel is gone (so we need our events).
    if ctx.events is None:
        return False, "not checkable: the engine holds the port and our events WebSocket was refused"
    before = await ctx.engine_counter(*REFUSED)
    if before is None:
        return False, "the AudioSocket port is taken and no engine answers on its API"
    since = len(ctx.events.events)
    answer = await start()
    if not answer.ok:
        return False, f"Asterisk answered {answer.status} {answer.message}"
    await ctx.events.wait_for(_gone(channel_id), timeout, since)
    after = await ctx.engine_counter(*REFUSED)
    return (after or 0) > before, "the engine's refused-connection counter"


async def check_media_fork(ctx: Context) -> Result:
    s = ctx.settings
    name = "dialplan media fork"
    if not s.calls.capture_by_local_fork:
        return skipped(name, f"not used (calls.audio_transport={s.calls.audio_transport})")
    leg = uuidlib.uuid4()
    channel_id = f"doctor-fork-{leg}"
    target = f"{s.audiosocket.host}:{s.audiosocket.port}"

    async def start():
        return await ctx.probe.post(
            "/channels", endpoint=f"Local/{leg}@{s.calls.media_fork_context}/n", app=ctx.app, appArgs="fork",
            channelId=channel_id, formats=s.calls.media_fork_formats,
        )

    try:
        ok, how = await _leg_arrived(ctx, leg, channel_id, start)
    except AriUnreachable as exc:
        return skipped(name, f"not checked ({exc})")
    finally:
        await ctx.probe.hang_up(channel_id)
    if ok:
        return passed(name, f"[{s.calls.media_fork_context}] connected an AudioSocket leg with our UUID to {target} (seen by {how})")
    return failed(
        name,
        f"no AudioSocket leg with our UUID reached {target} from [{s.calls.media_fork_context}] ({how})",
        f"copy the [{s.calls.media_fork_context}] context of asterisk-conf/extensions_custom.conf into "
        f"extensions_custom.conf; its AudioSocket(${{EXTEN}},host:port) must name {target} "
        "(audiosocket.host/port); then asterisk -rx 'dialplan reload'. Verify: "
        f"asterisk -rx 'dialplan show {s.calls.media_fork_context}' and 'module show like audiosocket'",
    )


async def check_external_media(ctx: Context) -> Result:
    s = ctx.settings
    name = "advertise host"
    if not uses_externalmedia_audiosocket(s):
        return skipped(name, "not used (no externalMedia AudioSocket leg in this configuration)")
    leg = uuidlib.uuid4()
    channel_id = f"doctor-em-{leg}"
    target = f"{s.audiosocket.advertise_host}:{s.audiosocket.port}"
    fmt = s.playback.stream_format if s.playback.downstream_mode == "stream" else "slin"

    async def start():
        return await ctx.probe.post(
            "/channels/externalMedia", app=ctx.app, channelId=channel_id, external_host=target, format=fmt,
            encapsulation="audiosocket", transport="tcp", data=str(leg),
        )

    try:
        ok, how = await _leg_arrived(ctx, leg, channel_id, start)
    except AriUnreachable as exc:
        return skipped(name, f"not checked ({exc})")
    finally:
        await ctx.probe.hang_up(channel_id)
    if ok:
        return passed(name, f"Asterisk reached {target} over externalMedia (seen by {how})")
    return failed(
        name,
        f"Asterisk could not open an externalMedia leg to {target} ({how})",
        "audiosocket.advertise_host must be an address of this host that Asterisk can reach (127.0.0.1 when "
        "Asterisk runs here, with network_mode: host) and audiosocket.host must listen on it",
    )


def _tone(ms: int = 300, rate: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (3000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


async def check_media_folder(ctx: Context, play: bool = True) -> Result:
    s = ctx.settings.playback
    folder = Path(s.media_dir)
    stem = f"doctor-{uuidlib.uuid4()}"
    path = folder / f"{stem}.wav"
    try:
        await anyio.to_thread.run_sync(path.write_bytes, wav_bytes(_tone(), 8000))
    except OSError as exc:
        if not folder.is_dir():
            return failed(
                "media folder",
                f"{folder} does not exist (or is not a folder)",
                "create it: sudo scripts/init-host.sh (compose: AI_MEDIA_HOST_DIR, default "
                "/var/lib/asterisk/sounds/ai-generated); make run creates playback.media_dir itself",
            )
        return failed(
            "media folder",
            f"the engine (uid {os.getuid()}) cannot write into {folder}: {exc.strerror or exc}",
            "give the folder to the engine's user: sudo scripts/init-host.sh (or chown -R $MEDIA_UID:$MEDIA_GID "
            "on AI_MEDIA_HOST_DIR); keep it outside /root (Asterisk cannot read there)",
        )
    try:
        if not play:
            return skipped("media folder", f"{folder} is writable; playback by Asterisk not checked (ARI not reachable)")
        return await _play(ctx, stem, folder)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))


async def _play(ctx: Context, stem: str, folder: Path) -> Result:
    name = "media folder"
    if ctx.events is None:
        return skipped(name, f"{folder} is writable; playback by Asterisk not checked (no events WebSocket)")
    media = f"sound:{ctx.settings.playback.sound_prefix}/{stem}"
    channel_id = f"doctor-play-{uuidlib.uuid4()}"
    playback_id = f"doctor-pb-{uuidlib.uuid4()}"
    timeout = ctx.settings.calls.setup_timeout_s
    since = len(ctx.events.events)
    try:
        answer = await ctx.probe.post(
            "/channels", endpoint=f"Local/s@{DOCTOR_CONTEXT}/n", app=ctx.app, appArgs="play", channelId=channel_id, formats="slin"
        )
        if not answer.ok:
            return failed(name, f"originate into [{DOCTOR_CONTEXT}] answered {answer.status} {answer.message}", _context_fix())
        started = await ctx.events.wait_for(
            lambda ev: (ev.get("channel") or {}).get("id") == channel_id and ev.get("type") in ("StasisStart", "ChannelDestroyed"),
            timeout,
            since,
        )
        if started is None or started["type"] != "StasisStart":
            return failed(name, f"the Local channel into [{DOCTOR_CONTEXT}] never answered", _context_fix())
        since = len(ctx.events.events)
        answer = await ctx.probe.post(f"/channels/{channel_id}/play", media=media, playbackId=playback_id)
        if not answer.ok:
            return failed(name, f"play {media} answered {answer.status} {answer.message}", _readable_fix(ctx))
        finished = await ctx.events.wait_for(
            lambda ev: ev.get("type") == "PlaybackFinished" and (ev.get("playback") or {}).get("id") == playback_id,
            timeout + 1.0,
            since,
        )
    except AriUnreachable as exc:
        return skipped(name, f"{folder} is writable; playback not checked ({exc})")
    finally:
        await ctx.probe.hang_up(channel_id)
    if finished is None:
        return failed(name, f"no PlaybackFinished for {media} within {timeout + 1.0:.0f} s", _readable_fix(ctx))
    state = (finished.get("playback") or {}).get("state")
    if state != "done":
        return failed(name, f"Asterisk could not play {media} (PlaybackFinished state '{state}')", _readable_fix(ctx))
    return passed(name, f"wrote {folder}/{stem}.wav and Asterisk played it as {media}")


def _context_fix() -> str:
    return (
        f"copy the [{DOCTOR_CONTEXT}] context of asterisk-conf/extensions_custom.conf into extensions_custom.conf, "
        f"then asterisk -rx 'dialplan reload'. Verify: asterisk -rx 'dialplan show {DOCTOR_CONTEXT}'"
    )


def _readable_fix(ctx: Context) -> str:
    prefix = ctx.settings.playback.sound_prefix
    return (
        f"Asterisk must find the engine's folder as /var/lib/asterisk/sounds/{prefix} and read it as the asterisk "
        "user: bind-mount AI_MEDIA_HOST_DIR there (default /var/lib/asterisk/sounds/ai-generated, created by "
        "sudo scripts/init-host.sh), never a folder under /root (mode 700). Verify: "
        f"sudo -u asterisk ls /var/lib/asterisk/sounds/{prefix}/"
    )
