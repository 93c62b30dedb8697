"""Admin sessions: after a login with the API token the browser holds only a signed, expiring
cookie (HMAC-SHA256 over an expiry and a random CSRF token), never the token itself.

The signing key is random per engine process: a restart logs every admin out, and no key is
ever configured, stored or logged. The cookie is Secure, HttpOnly and SameSite=Strict, scoped
to /admin; every POST must also carry the session's CSRF token (X-CSRF-Token header or form field).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass

COOKIE = "ai_admin_session"
SESSION_S = 8 * 3600  # a working day; then log in again
MAX_COOKIE = 512  # anything longer is not ours


@dataclass(frozen=True, slots=True)
class Session:
    expires: int
    csrf: str

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and secrets.compare_digest(given.encode(), self.csrf.encode())


class Sessions:
    def __init__(self, lifetime_s: int = SESSION_S, clock=time.time):
        self._key = secrets.token_bytes(32)
        self.lifetime_s = lifetime_s
        self._clock = clock

    def new(self) -> tuple[Session, str]:
        session = Session(int(self._clock()) + self.lifetime_s, secrets.token_urlsafe(24))
        body = base64.urlsafe_b64encode(json.dumps({"e": session.expires, "c": session.csrf}).encode()).decode()
        return session, f"{body}.{self._sign(body)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session in `cookie` when it is ours, untampered and not expired; else None."""
        if not cookie or len(cookie) > MAX_COOKIE:
            return None
        body, _, mac = cookie.partition(".")
        if not secrets.compare_digest(mac.encode(), self._sign(body).encode()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
            session = Session(int(data["e"]), str(data["c"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > self._clock() else None

    def _sign(self, body: str) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body.encode(), hashlib.sha256).digest()).decode().rstrip("=")


class LoginLimiter:
    """At most `limit` failed logins per `window_s` across all clients (guessing the token is slow)."""

    def __init__(self, limit: int = 10, window_s: float = 60.0, clock=time.monotonic):
        self._failures: deque[float] = deque()
        self._limit, self._window_s, self._clock = limit, window_s, clock

    def blocked(self) -> bool:
        now = self._clock()
        while self._failures and self._failures[0] < now - self._window_s:
            self._failures.popleft()
        return len(self._failures) >= self._limit

    def failed(self) -> None:
        self._failures.append(self._clock())
