"""Checks of Asterisk itself: ARI reachable with our credentials, its version, the modules the
configured transport needs, and who holds our Stasis app."""

from __future__ import annotations

import re

from ..config import Settings
from .ari_probe import AriUnreachable
from .checks_media import uses_externalmedia_audiosocket
from .context import Context
from .report import Result, failed, passed, skipped

MIN_MAJOR = 20
# AudioSocket frame kinds 0x11-0x18 (slin12 ... slin192) came with "res_audiosocket: add message
# types for all slin sample rates" (asterisk/asterisk PR #1492). Read in the ChangeLogs of 21.12.0
# and 23.1.0; 20.17.0 and 22.7.0 are the releases of the same batch (inferred, ChangeLogs not
# read); our recordings show 0x12 for slin16 on 22.10.1 (FACT 43). Before these, Asterisk sent
# every audio frame as 0x10 whatever its rate.
SLIN_KINDS_SINCE = {20: (20, 17, 0), 21: (21, 12, 0), 22: (22, 7, 0), 23: (23, 1, 0)}

HTTP_FIX = (
    "Asterisk's HTTP server must listen where ari.url points (AI_ENGINE_ARI__URL). FreePBX: Settings > "
    "Advanced Settings > 'HTTP Bind Address' 127.0.0.1, 'HTTP Bind Port' 8088, Submit, Apply Config; plain "
    "Asterisk: http.conf [general] enabled=yes, bindaddr=127.0.0.1, bindport=8088. "
    "Verify: asterisk -rx 'http show status'"
)


async def check_ari(ctx: Context) -> Result:
    s = ctx.settings.ari
    try:
        answer = await ctx.probe.get("/asterisk/info")
    except AriUnreachable as exc:
        return failed("ARI reachable", f"no answer from {s.url}: {exc}", HTTP_FIX)
    if answer.status == 401:
        return failed(
            "ARI credentials",
            f"Asterisk refused user '{s.username}' (401)",
            "AI_ENGINE_ARI__PASSWORD must equal the ARI user's password. FreePBX: Settings > Asterisk REST "
            "Interface Users (preferred) or /etc/asterisk/ari_additional_custom.conf; then "
            "asterisk -rx 'module reload res_ari.so'. Verify: asterisk -rx 'ari show users'",
        )
    if answer.status == 404:
        return failed(
            "ARI reachable",
            f"{s.url}ari answers 404: ARI is not enabled",
            "enable ARI: enabled = yes in the [general] section of ari.conf (FreePBX: its Advanced Settings, or "
            "asterisk-conf/ari_general_custom.conf) and asterisk -rx 'module load res_ari.so'",
        )
    if not answer.ok or not isinstance(answer.body, dict):
        return failed("ARI reachable", f"GET /ari/asterisk/info answered {answer.status} {answer.message}", HTTP_FIX)
    version = str((answer.body.get("system") or {}).get("version") or "")
    ctx.asterisk_version = version or None
    return passed("ARI reachable", f"{s.url} as '{s.username}': Asterisk {version or '(version not reported)'}")


def _parse(version: str) -> tuple[int, int, int] | None:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    return (int(m[1]), int(m[2]), int(m[3] or 0)) if m else None


def needs_slin_kinds(settings: Settings) -> str | None:
    """The setting that makes Asterisk send or take AudioSocket kinds above 0x10, if any."""
    calls, playback = settings.calls, settings.playback
    if calls.media_over_audiosocket and not calls.capture_by_local_fork and calls.capture_format != "slin":
        return f"calls.capture_format={calls.capture_format}"
    streams_over_audiosocket = calls.media_over_audiosocket and playback.downstream_mode == "stream"
    if streams_over_audiosocket and playback.stream_format != "slin":
        return f"playback.stream_format={playback.stream_format}"
    return None


def check_version(ctx: Context) -> Result:
    version = ctx.asterisk_version
    if version is None:
        return skipped("Asterisk version", "not known (ARI did not answer)")
    parsed = _parse(version)
    if parsed is None:
        return skipped("Asterisk version", f"'{version}' is not a release number: not checked")
    if parsed[0] < MIN_MAJOR:
        return failed("Asterisk version", f"{version} is older than {MIN_MAJOR}", f"upgrade to Asterisk {MIN_MAJOR} or newer (FreePBX 17 ships 20+)")
    reason = needs_slin_kinds(ctx.settings)
    if reason:
        floor = SLIN_KINDS_SINCE.get(parsed[0])
        if floor is not None and parsed < floor:
            return failed(
                "Asterisk version",
                f"{version}: {reason} needs AudioSocket frame kinds 0x11-0x18, added in {'.'.join(map(str, floor))}",
                f"upgrade Asterisk to {'.'.join(map(str, floor))} or newer, or set {reason.split('=')[0]}: slin",
            )
    return passed("Asterisk version", f"{version}" + (f" (new enough for {reason})" if reason else ""))


def required_modules(settings: Settings) -> list[str]:
    mods = ["res_ari.so", "res_stasis.so", "app_stasis.so", "res_http_websocket.so", "res_ari_channels.so", "res_ari_bridges.so"]
    transport = settings.calls.audio_transport
    if transport.startswith("snoop"):
        mods.append("res_stasis_snoop.so")
    if settings.calls.capture_by_local_fork:
        mods += ["app_audiosocket.so", "res_audiosocket.so"]
    if uses_externalmedia_audiosocket(settings):
        mods += ["chan_audiosocket.so", "res_audiosocket.so"]
    if transport == "externalmedia_rtp":
        mods += ["chan_rtp.so", "res_rtp_asterisk.so"]
    if transport == "websocket":
        mods.append("chan_websocket.so")
    if settings.playback.downstream_mode == "file":
        mods.append("res_stasis_playback.so")
    return sorted(set(mods))


async def check_modules(ctx: Context) -> Result:
    needed = required_modules(ctx.settings)
    hint = "asterisk -rx 'module show like audiosocket'"
    try:
        answer = await ctx.probe.get("/asterisk/modules")
    except AriUnreachable:
        return skipped("Asterisk modules", "not checked (ARI did not answer)")
    if not answer.ok or not isinstance(answer.body, list):
        return skipped(
            "Asterisk modules",
            f"not checked: GET /ari/asterisk/modules answered {answer.status}; check by hand: {hint} "
            f"(needed: {', '.join(needed)}); the dialplan check below exercises AudioSocket anyway",
        )
    running = {str(m.get("name")) for m in answer.body if isinstance(m, dict) and m.get("status") == "Running"}
    missing = [m for m in needed if m not in running]
    if missing:
        return failed(
            "Asterisk modules",
            f"not running: {', '.join(missing)}",
            f"load them: asterisk -rx 'module load <name>' for each (and remove any noload line in modules.conf); verify: {hint}",
        )
    return passed("Asterisk modules", f"{len(needed)} needed, all running")


async def check_app(ctx: Context) -> Result:
    app = ctx.settings.ari.app
    health = ctx.engine_health
    if health is None:
        return skipped(
            "ARI app owner",
            f"the engine is not running (no answer on {ctx.engine_url}/health), so whether another client holds "
            f"app '{app}' cannot be told: Asterisk keeps an app listed after its client left (FACT 36). Start the "
            "engine and run the doctor again",
        )
    if health.get("ari_connected"):
        return passed("ARI app owner", f"the engine on this host holds app '{app}'")
    return failed(
        "ARI app owner",
        f"the engine runs but is not connected to ARI as app '{app}'",
        "read the engine log: 'ari.application_replaced' means another program (a second engine?) uses the same "
        "app name; stop it or give each engine its own AI_ENGINE_ARI__APP (and Stasis() in the dialplan). "
        "'ari.connect_failed' means ARI itself: see the ARI lines above. Verify: asterisk -rx 'ari show apps'",
    )
