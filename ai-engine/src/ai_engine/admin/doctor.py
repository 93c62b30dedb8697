"""`ai-agent doctor`: every check in order, one line each; exit 1 when any failed.

Works whether the engine runs or not: with the engine down the doctor listens on the AudioSocket
port itself for a moment; with the engine up it leaves the port alone and reads the engine's
/health and /metrics instead."""

from __future__ import annotations

import contextlib
import sys
from typing import TextIO

import anyio
from pydantic import ValidationError

from ..config import Settings, load_settings
from ..web import doctor_result
from . import checks_asterisk, checks_host, checks_media, checks_transport
from .ari_probe import AriProbe, AriUnreachable
from .context import Context
from .listener import UuidListener, open_listener, port_free
from .report import Result, Status, failed, passed, print_report, skipped

ARI_DEPENDENT = ("ARI app owner", "dialplan media fork", "advertise host", checks_transport.RTP, checks_transport.WEBSOCKET)


def load_checked_settings() -> tuple[Settings | None, Result]:
    try:
        settings = load_settings()
        settings.check_ready_to_run()
    except (ValidationError, ValueError, FileNotFoundError) as exc:
        return None, failed(
            "configuration", str(exc).splitlines()[0][:200], "fix .env / config/ai-engine.yaml (every key is in the README)"
        )
    return settings, passed("configuration", "settings load, ARI password set, every persona has a provider")


async def run_checks(settings: Settings) -> list[Result]:
    results: list[Result] = []
    probe = AriProbe(settings.ari)
    ctx = Context(settings, probe)
    try:
        response = await ctx.engine_get("/health")
        if response is not None and response.headers.get("content-type", "").startswith("application/json"):
            ctx.engine_health = response.json()
        ari = await checks_asterisk.check_ari(ctx)
        results.append(ari)
        if ari.status is Status.PASS:
            results.append(checks_asterisk.check_version(ctx))
            results.append(await checks_asterisk.check_modules(ctx))
        audiosocket_free = port_free(settings.audiosocket.host, settings.audiosocket.port)
        async with contextlib.AsyncExitStack() as stack:
            if audiosocket_free and ari.status is Status.PASS:
                ctx.listener = UuidListener()
                listener = await open_listener(settings.audiosocket.host, settings.audiosocket.port)
                tg = await stack.enter_async_context(anyio.create_task_group())
                stack.callback(tg.cancel_scope.cancel)
                await tg.start(ctx.listener.serve, listener)
            if ari.status is Status.PASS:
                try:
                    ctx.events = await stack.enter_async_context(probe.events(ctx.app))
                except AriUnreachable as exc:
                    results.append(skipped("ARI events", f"events WebSocket for '{ctx.app}' not opened: {exc}"))
                results.append(await checks_asterisk.check_app(ctx))
                results.append(await checks_media.check_media_fork(ctx))
                results.append(await checks_media.check_external_media(ctx))
                results.append(await checks_transport.check_rtp(ctx))
                results.append(await checks_transport.check_websocket(ctx))
                results.append(await checks_media.check_media_folder(ctx))
            else:
                results += [skipped(name, "not checked: ARI is not reachable") for name in ARI_DEPENDENT]
                results.append(await checks_media.check_media_folder(ctx, play=False))
        results.append(checks_host.check_ports(ctx, audiosocket_free))
        results += await checks_host.check_providers(ctx)
    finally:
        with anyio.CancelScope(shield=True):
            await probe.aclose()
    return results


async def doctor(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    settings, config = load_checked_settings()
    if settings is None:
        return print_report([config], out)
    results = [config] + await run_checks(settings)
    doctor_result.save(settings.records.data_dir, results)  # for the admin page (web/doctor_result.py)
    return print_report(results, out)
