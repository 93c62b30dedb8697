"""Admin sessions (web/session.py): the cookie proves a login without holding the token; a
changed, foreign or expired cookie is no session; failed logins are rate limited."""
from __future__ import annotations

from ai_engine.web.session import LoginLimiter, Sessions


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_new_session_reads_back_with_its_csrf_token_and_holds_no_secret():
    sessions = Sessions()
    session, cookie = sessions.new()
    assert sessions.read(cookie) == session
    assert session.csrf_ok(session.csrf) and not session.csrf_ok("other") and not session.csrf_ok(None)


def test_a_tampered_foreign_or_garbage_cookie_is_no_session():
    sessions, other = Sessions(), Sessions()
    _, cookie = sessions.new()
    body, _, mac = cookie.partition(".")
    assert sessions.read(other.new()[1]) is None  # signed by another engine process
    assert sessions.read(body[:-2] + "AA." + mac) is None
    assert sessions.read(body + "." + mac[:-1]) is None
    for junk in ("", ".", "x" * 600, "a.b", None):
        assert sessions.read(junk) is None


def test_a_session_expires():
    clock = Clock()
    sessions = Sessions(lifetime_s=60, clock=clock)
    _, cookie = sessions.new()
    clock.t += 59
    assert sessions.read(cookie) is not None
    clock.t += 2
    assert sessions.read(cookie) is None


def test_failed_logins_are_limited_per_window():
    clock = Clock()
    limiter = LoginLimiter(limit=3, window_s=60, clock=clock)
    for _ in range(3):
        assert not limiter.blocked()
        limiter.failed()
    assert limiter.blocked()
    clock.t += 61
    assert not limiter.blocked()
