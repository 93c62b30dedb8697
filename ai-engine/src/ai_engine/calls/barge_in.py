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

    def should_interrupt(self, output: AgentOutput, now: float | None = None, *, still_speaking: bool = False) -> bool:
        """Speech onset (or, with `still_speaking`, speech that began earlier and goes on) while
        the agent talks: interrupt past the protection window; speech that goes on must also
        outlast it by the minimum speech length."""
        if not self.settings.enabled or not output.talking:
            return False
        since = output.talking_since
        if since is None:
            # Queued but not heard yet: a new onset means the caller is ahead of it; speech that
            # was already going on is heard by the provider too, which answers it.
            return not still_speaking
        window_ms = self.settings.protection_ms + (self.settings.min_speech_ms if still_speaking else 0)
        now = anyio.current_time() if now is None else now
        return (now - since) * 1000 >= window_ms
