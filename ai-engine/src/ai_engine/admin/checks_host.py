"""Checks of this host: the engine's ports, and each persona's AI provider."""

from __future__ import annotations

import anyio
import httpx

from ..providers.base import ProviderRejected, ProviderUnavailable, SessionOptions
from ..providers.registry import build_provider
from .context import Context
from .listener import port_free
from .report import Result, failed, passed


def check_ports(ctx: Context, audiosocket_was_free: bool) -> Result:
    s = ctx.settings
    target = f"{s.audiosocket.host}:{s.audiosocket.port}"
    health = ctx.engine_health
    if audiosocket_was_free:
        http_free = port_free(s.http.host, s.http.port)
        if not http_free and health is None:
            return failed(
                "ports",
                f"{s.http.host}:{s.http.port} (engine API) is taken by another program",
                "free that port or set AI_ENGINE_HTTP__PORT",
            )
        return passed("ports", f"AudioSocket {target} and API {s.http.host}:{s.http.port} free for the engine")
    if health is not None and health.get("audiosocket_listening"):
        return passed("ports", f"the engine listens on AudioSocket {target} and answers on {ctx.engine_url}")
    return failed(
        "ports",
        f"AudioSocket {target} is taken, and not by a running engine",
        f"find the program: sudo ss -ltnp 'sport = :{s.audiosocket.port}'; stop it or change audiosocket.port "
        "and the AudioSocket() line of the dialplan together",
    )


async def check_providers(ctx: Context) -> list[Result]:
    used: dict[str, list[str]] = {}
    for persona, p in ctx.settings.personas.items():
        used.setdefault(p.provider, []).append(persona)
    results = []
    for name, personas in sorted(used.items()):
        results.append(await _check_provider(ctx, name, personas))
    return results


async def _check_provider(ctx: Context, name: str, personas: list[str]) -> Result:
    settings = ctx.settings.providers[name]
    label = f"provider {name}"
    who = f"persona {', '.join(personas)}"
    if settings.kind == "echo":
        return passed(label, f"echo (plays the caller back, no AI) for {who}")
    key_fix = _key_fix(name, settings.kind)
    if settings.kind != "realtime" and not settings.key():
        return failed(label, f"no API key for {settings.kind}", key_fix)
    health_url = getattr(settings, "health_url", None)
    if health_url:
        token = getattr(settings, "auth_token", None)
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token is not None else {}
        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                response = await client.get(health_url, headers=headers)
        except httpx.HTTPError as exc:
            return failed(label, f"{health_url} does not answer ({type(exc).__name__})", _down_fix(name))
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            state = body.get("status", response.status_code) if isinstance(body, dict) else response.status_code
            error = f": {str(body.get('error'))[:160]}" if isinstance(body, dict) and body.get("error") else ""
            return failed(
                label,
                f"{health_url} says not ready ({state}){error}",
                "the models are still loading (give it a minute) or failed to load: docker compose logs local-ai-server",
            )
    try:
        provider = build_provider(name, settings)
        with anyio.fail_after(settings.connect_timeout_s + 1):
            async with provider.session(SessionOptions(instructions="doctor", voice=None, call_id="doctor")):
                pass
    except (ProviderUnavailable, TimeoutError, OSError) as exc:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, ProviderRejected) or "401" in text or "403" in text:
            return failed(label, f"{settings.url} refused our credentials: {text[:120]}", key_fix)
        return failed(label, f"no session at {settings.url}: {text[:160]}", _down_fix(name))
    return passed(label, f"session opened at {settings.url} for {who}")


def _key_fix(name: str, kind: str) -> str:
    if kind == "realtime":
        return (
            f"AI_ENGINE_PROVIDERS__{name.upper()}__AUTH_TOKEN (ai-engine.env) must equal the server's token "
            "(LOCAL_AI_AUTH_TOKEN in local-ai-server.env; scripts/init-host.sh writes both)"
        )
    return f"set the vendor's API key as AI_ENGINE_PROVIDERS__{name.upper()}__API_KEY in ai-engine.env (or the variable named by api_key_env)"


def _down_fix(name: str) -> str:
    if name == "local":
        return "start it (docker compose up -d local-ai-server) and check providers.local.url / health_url"
    return f"check providers.{name}.url and its token (AI_ENGINE_PROVIDERS__{name.upper()}__AUTH_TOKEN)"
