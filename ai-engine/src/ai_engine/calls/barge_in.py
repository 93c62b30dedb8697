"""Barge-in policy: caller speech while the agent talks interrupts the agent, except during a
short protection window at the start of the agent's audio (line noise, a cough, the caller's
own "hm" as the agent starts must not cut it off)."""

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
