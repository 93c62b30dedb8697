"""Post-call webhook (`personas.<name>.webhook_url`): one JSON POST of the call's record.

Bounded: each attempt has `records.webhook_timeout_s`, at most `records.webhook_attempts`
attempts with doubling back-off from `records.webhook_backoff_s`; a 2xx answer is success, any
other answer or a network error is retried, then logged as `records.webhook_failed`. It runs in
the records service's task group, after the call is over: never in the call's way.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx

from . import metrics
from ..observability.logs import get_logger

log = get_logger(__name__)


async def deliver(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], *, attempts: int, timeout_s: float, backoff_s: float
) -> bool:
    call_id = body.get("id")
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            with anyio.fail_after(timeout_s):
                # The answer's status is all we need: its body is never read (any size).
                async with client.stream("POST", url, json=body, timeout=timeout_s) as response:
                    status = response.status_code
            if 200 <= status < 300:
                metrics.WEBHOOKS.labels("delivered").inc()
                log.info("records.webhook_delivered", call_id=call_id, attempt=attempt, status=status)
                return True
            error = f"HTTP {status}"
        except TimeoutError:
            error = f"no answer within {timeout_s} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        log.warning("records.webhook_attempt_failed", call_id=call_id, attempt=attempt, error=error)
        if attempt < attempts:
            await anyio.sleep(backoff_s * 2 ** (attempt - 1))
    metrics.WEBHOOKS.labels("failed").inc()
    log.error("records.webhook_failed", call_id=call_id, attempts=attempts, error=error, url=_safe(url))
    return False


def _safe(url: str) -> str:
    """The URL without credentials or query (either may hold a secret)."""
    u = httpx.URL(url)
    return str(u.copy_with(userinfo=b"", query=None, fragment=None))
