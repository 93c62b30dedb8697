"""Builds the tool registry of a persona from its settings (once per persona at start: the
knowledge base is indexed then, not per call)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Tool, ToolRegistry
from .call_control import HangupTool, TransferTool
from .knowledge_base import KnowledgeBaseTool
from .lookup import LookupTool

if TYPE_CHECKING:
    from ..config import PersonaSettings


def build_registry(persona: PersonaSettings) -> ToolRegistry:
    tools: list[Tool] = []
    for name in dict.fromkeys(persona.tools):
        if name == "transfer":
            if not persona.transfer_targets:
                raise ValueError("the transfer tool needs transfer_targets")
            tools.append(TransferTool(persona.transfer_targets))
        elif name == "hangup":
            tools.append(HangupTool(persona.farewell))
        elif name == "lookup":
            tools.append(LookupTool(persona.lookup))
        elif name == "knowledge_base":
            tools.append(KnowledgeBaseTool(persona.knowledge_base))
    return ToolRegistry(tools, persona.tool_timeout_s)


def build_registries(personas: dict[str, PersonaSettings]) -> dict[str, ToolRegistry]:
    registries = {}
    for name, persona in personas.items():
        try:
            registries[name] = build_registry(persona)
        except ValueError as exc:
            raise ValueError(f"personas.{name}: {exc}") from None
    return registries
