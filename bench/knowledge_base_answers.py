"""The knowledge base end to end with the real local LLM (`python -m bench knowledge_base --answers`):
a documents-first persona (only `knowledge_base`, tool_choice `required`, as docs/tools.md has it)
asked the 30 questions of bench/knowledge_base.py as text, one fresh local-ai-server session each,
the way the engine drives it: the model calls the tool, the engine's KnowledgeBaseTool searches
the 6 FAQ documents, its output goes back (`function_call_output` + `response.create` with
tool_choice auto), and the model speaks.

Reported per question and in total: the tool called (well-formed arguments; a call the model
wrote past `llm.tool_arguments_max_tokens` fails its response and counts as not called), the answering
passage found by the search, and the reply containing the fact (one of the question's FACTS words,
whole words, case-insensitive; a coarse check: a reply can name the fact and still be muddled).
`--search model` searches with the model's query alone (as before knowledge_base.search_caller_words),
`merged` (default) with the caller's words too. Run it against another local-ai-server source by
its PYTHONPATH to compare prompt versions.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import anyio
from local_ai_server.client import RealtimeClient

from ai_engine.tools.knowledge_base import KnowledgeBaseTool
from ai_engine.tools.settings import KnowledgeBaseSettings
from bench.local_ai_server import free_port, start_server

INSTRUCTIONS = ("You are the phone agent of a small shop. The knowledge_base query is what the caller just asked, "
                "in their words; then answer from the passages in one short sentence.")
GREETING = "Hello, how can I help you?"

# per question of bench/knowledge_base.py: words of which a right answer contains one
FACTS: dict[str, tuple[str, ...]] = {
    "What time do you open on Saturday?": ("10",),
    "Are you open on Sunday?": ("closed", "no"),
    "Until when can I reach someone by phone?": ("20", "8 pm", "eight"),
    "Can I still bring something back after two weeks?": ("30", "thirty", "yes"),
    "When do I get my money back?": ("five", "5"),
    "I lost the return sticker, what do I do?": ("account", "print"),
    "I opened the game, can I return it?": ("cannot", "can't", "not", "no"),
    "How much is shipping?": ("4.90", "4,90"),
    "Is delivery free?": ("50", "fifty"),
    "How long until my package arrives?": ("two", "2", "three", "3"),
    "If I order now, can I have it tomorrow?": ("express", "next working day", "yes"),
    "Do you deliver to Italy?": ("no", "germany", "austria", "france"),
    "Where is my parcel right now?": ("tracking", "email"),
    "How long is the guarantee on a laptop?": ("two", "2"),
    "My phone stopped working, will you fix it?": ("repair", "repaired", "replace", "replaced", "free"),
    "I dropped my phone and the screen broke, is that covered?": ("not", "insurance", "no"),
    "What does the insurance cost per month?": ("5", "five"),
    "Is theft covered?": ("yes", "insurance"),
    "Can I pay with PayPal?": ("yes", "accept"),
    "Can I pay in monthly rates?": ("instalments", "installments", "200", "6", "12"),
    "Where do I find my bill?": ("email", "account", "invoice"),
    "My card was declined, what now?": ("48",),
    "I forgot my password": ("forgot password", "link", "login page", "reset"),
    "I cannot log in anymore": ("reset", "forgot password", "link"),
    "I moved, how do I update where you send my order?": ("account",),
    "Please remove all my personal data": ("privacy", "write"),
    "How do I stop getting your marketing emails?": ("unsubscribe", "link"),
    "Do you take bank transfers?": ("yes", "accept"),
    "What happens if my device breaks after a year?": ("warranty", "repair", "repaired", "replace", "replaced"),
    "Are you closed on Christmas?": ("holiday", "holidays", "yes"),
}


def says_fact(reply: str, facts: tuple[str, ...]) -> bool:
    text = re.sub(r"[^a-z0-9.,' ]", " ", reply.lower())
    return any(re.search(r"(?<![a-z0-9])" + re.escape(f) + r"(?![a-z0-9])", text) for f in facts)


class Heard:
    """What a call gives the tool: the caller's last transcribed words."""

    def __init__(self, words: str):
        self.caller_words = words


async def one_question(url: str, tool: KnowledgeBaseTool, question: str, key: str, search: str) -> dict:
    spec = tool.spec
    async with RealtimeClient.connect(url) as client:
        await client.update_session(rate=8000, instructions=INSTRUCTIONS)
        mark = len(client.events)
        await client.send({"type": "session.update", "session": {"type": "realtime", "tool_choice": "required", "tools": [
            {"type": "function", "name": spec.name, "description": spec.description, "parameters": spec.parameters}]}})
        await client.wait_for("session.updated", after=mark)
        for role, kind, text in (("assistant", "output_text", GREETING), ("user", "input_text", question)):
            await client.send({"type": "conversation.item.create", "item": {
                "type": "message", "role": role, "content": [{"type": kind, "text": text}]}})
        mark = len(client.events)
        await client.send({"type": "response.create"})
        done = await client.wait_for("response.done", after=mark, timeout=120)
        call = next((o for o in done["response"].get("output", []) if o.get("type") == "function_call"), None)
        try:  # a call cut by llm.tool_arguments_max_tokens fails its response: the engine gets no call
            arguments = json.loads(call["arguments"]) if done["response"]["status"] == "completed" and call else None
        except ValueError:
            arguments = None
        row: dict = {"question": question, "called": isinstance(arguments, dict)}
        if not isinstance(arguments, dict):
            return {**row, "found": False, "reply": "", "right": False}
        outcome = await tool.run(arguments, Heard(question) if search == "merged" else None)
        mark = len(client.events)
        await client.send({"type": "conversation.item.create", "item": {
            "type": "function_call_output", "call_id": call["call_id"], "output": outcome.text()}})
        await client.send({"type": "response.create", "response": {"tool_choice": "auto"}})
        done = await client.wait_for("response.done", after=mark, timeout=120)
        reply = " ".join(c.get("transcript", "") for o in done["response"].get("output", [])
                         for c in o.get("content", []) if isinstance(c, dict))
        found = any(key in r["text"] for r in outcome.output.get("results", []))
        return {**row, "query": arguments.get("query"), "found": found, "reply": reply.strip(),
                "right": says_fact(reply, FACTS[question])}


async def run(url: str, tool: KnowledgeBaseTool, questions: list[tuple[str, str]], search: str) -> list[dict]:
    rows = []
    for question, key in questions:
        row = await one_question(url, tool, question, key, search)
        print(f"  {'+' if row['found'] else '-'}found {'+' if row['right'] else '-'}fact {question!r} "
              f"query={row.get('query')!r} -> {row['reply'][:100]!r}", flush=True)
        rows.append(row)
    return rows


def answers(documents: dict[str, str], questions: list[tuple[str, str]], search: str, log_path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in documents.items():
            (Path(tmp) / name).write_text(text)
        tool = KnowledgeBaseTool(KnowledgeBaseSettings(folder=Path(tmp)))
        tool.base  # indexed before the first question
        port = free_port()
        env = {"LOCAL_AI_LLM__TEMPERATURE": "0", "LOCAL_AI_LLM__MAX_TOOL_CALLS_IN_A_ROW": "1"}
        proc = start_server(port, log_path, env)
        try:
            rows = anyio.run(run, f"ws://127.0.0.1:{port}/v1/realtime", tool, questions, search)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    n = len(rows)
    return {"search": search, "questions": n, "tool_called": sum(r["called"] for r in rows) / n,
            "passage_found": sum(r["found"] for r in rows) / n, "answer_has_fact": sum(r["right"] for r in rows) / n,
            "rows": rows}
