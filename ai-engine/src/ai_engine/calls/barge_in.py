"""Barge-in policy: caller speech while the agent talks interrupts the agent, except during a
short protection window at the start of the agent's audio (line noise, a cough, the caller's
own "hm" as the agent starts must not cut it off). Speech the window held back (or that began
before the agent did) still interrupts if the caller is still talking `min_speech_ms` after the
window: a caller who keeps talking is never talked over for a whole reply."""

from __future__ import annotations

import anyio

from ..config import BargeInSettings
from ..playback.output import AgentOutput


class BargeInPolicy:
    def __init__(self, settings: BargeInSettings):
        self.settings = settings

    def should_interrupt(self, output: AgentOutput, now: float | None = None) -> bool:
        if not self.settings.enabled or not output.talking:
            return False
        since = output.talking_since
        if since is None:
            return True  # queued but not heard yet: the caller is ahead of it
        now = anyio.current_time() if now is None else now
        return (now - since) * 1000 >= self.settings.protection_ms

    def still_speaking_interrupts(self, output: AgentOutput, now: float | None = None) -> bool:
        """The caller is still talking (speech began earlier): interrupt once the agent has been
        talking for the protection window plus the minimum speech length."""
        if not self.settings.enabled or not output.talking:
            return False
        since = output.talking_since
        if since is None:
            return False  # not heard yet: the provider hears the caller too and will answer them
        now = anyio.current_time() if now is None else now
        return (now - since) * 1000 >= self.settings.protection_ms + self.settings.min_speech_ms
