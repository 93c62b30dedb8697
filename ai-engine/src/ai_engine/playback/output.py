"""Where the agent's audio goes: the interface both downstream modes implement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class AgentOutput(Protocol):
    mode: str
    # Called when agent audio first reaches the caller, with the mode that carried it.
    on_first_audio: Callable[[str], None] | None

    @property
    def talking(self) -> bool:
        """Agent audio is being played or is queued."""

    @property
    def talking_since(self) -> float | None:
        """When the current stretch of agent audio started reaching the caller (anyio time)."""

    def audio(self, response_id: str, pcm: bytes, rate: int) -> None: ...

    def text_boundary(self, response_id: str) -> None: ...

    def response_done(self, response_id: str) -> None: ...

    async def stop(self, response_id: str | None) -> bool:
        """Barge-in: drop what is queued and stop what plays; True if audio was cut."""

    async def run(self) -> None: ...

    async def close(self) -> None: ...
