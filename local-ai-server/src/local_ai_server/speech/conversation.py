"""A session's conversation (items in order) and the short chat prompt built from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .tools import TOOL_ROLE, render_call, render_output, render_said


@dataclass(slots=True)
class Item:
    """A message, or a function call (role assistant, `text` = its JSON arguments) or a
    function's output (role tool, `text` = the output), both tied by `call_id`."""

    id: str
    role: str  # "user" | "assistant" | "system" | "tool"
    text: str
    from_audio: bool = False
    spoken: bool = True  # assistant text added by the client is unspoken until a response speaks it
    kind: str = "message"  # "message" | "function_call" | "function_call_output"
    call_id: str | None = None
    name: str | None = None  # the function's name (calls and outputs)

    def prompt_text(self, tools_active: bool, tool_output_chars: int) -> str:
        """The item as the model reads it (see speech/tools.py for the form)."""
        if self.kind == "function_call":
            return render_call(self.name or "", self.text)
        if self.kind == "function_call_output":
            return render_output(self.name, self.text, tool_output_chars)
        if tools_active and self.role == "assistant":
            return render_said(self.text)
        return self.text


@dataclass
class Conversation:
    """Bounded: beyond `max_items` items or `max_chars` characters of text the oldest items are
    forgotten (the prompt only uses the last few dialogue items anyway)."""

    items: list[Item] = field(default_factory=list)
    max_items: int = 200
    max_chars: int = 32000
    _chars: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._chars = sum(len(i.text) for i in self.items)

    def add(self, item: Item) -> None:
        self.items.append(item)
        self._chars += len(item.text)
        drop = 0
        while len(self.items) - drop > 1 and (len(self.items) - drop > self.max_items or self._chars > self.max_chars):
            self._chars -= len(self.items[drop].text)
            drop += 1
        del self.items[:drop]

    @property
    def chars(self) -> int:
        return self._chars

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def unspoken_assistant_item(self) -> Item | None:
        """The last item, if it is assistant text the client added and nobody has spoken yet."""
        last = self.items[-1] if self.items else None
        if last is not None and last.role == "assistant" and last.kind == "message" and not last.spoken:
            return last
        return None

    def call(self, call_id: str) -> Item | None:
        """The function call item with this call id, if the conversation still holds it."""
        return next((i for i in self.items if i.kind == "function_call" and i.call_id == call_id), None)

    def calls_in_a_row(self) -> int:
        """Function calls made since the last message of the caller or of the assistant."""
        count = 0
        for item in reversed(self.items):
            if item.kind == "function_call":
                count += 1
            elif item.kind == "message" and item.role in ("user", "assistant"):
                break
        return count

    def chat_messages(self, instructions: str, style_hint: str, history_turns: int,
                      max_item_chars: int = 0, upcoming: bool = False, tools_prompt: str = "",
                      tool_output_chars: int = 0) -> list[dict]:
        """System prompt (instructions, style hint, the tools, client system items), the recent
        dialogue (each past message cut to `max_item_chars`, 0 = whole), and the newest message.

        With `tools_prompt` (the session has tools) assistant messages are written in the reply
        form of speech/tools.py; function calls and outputs are dialogue items either way.
        With `upcoming`, every item counts as past: the prompt the next message will extend
        (what a prefill evaluates ahead of time)."""
        system_parts = [instructions.strip()] if instructions.strip() else []
        if style_hint.strip():
            system_parts.append(style_hint.strip())
        if tools_prompt.strip():
            system_parts.append(tools_prompt.strip())
        system_parts += [i.text for i in self.items if i.role == "system"]
        dialogue = [i for i in self.items if i.role in ("user", "assistant", TOOL_ROLE) and i.text.strip()]
        tools_active = bool(tools_prompt.strip())

        def past_text(item: Item) -> str:
            text = item.prompt_text(tools_active, tool_output_chars)
            return text if item.kind != "message" else shorten(text, max_item_chars)

        if upcoming:
            past = dialogue[history_start(len(dialogue), history_turns):]
            dialogue = [(i.role, past_text(i)) for i in past]
        elif dialogue:
            past, newest = dialogue[:-1], dialogue[-1]
            past = past[history_start(len(past), history_turns):]
            dialogue = [(i.role, past_text(i)) for i in past] + [
                (newest.role, newest.prompt_text(tools_active, tool_output_chars))]
        messages = [{"role": "system", "content": "\n".join(system_parts)}] if system_parts else []
        for role, text in dialogue:
            if messages and messages[-1]["role"] == role:
                messages[-1]["content"] += " " + text
            else:
                messages.append({"role": role, "content": text})
        return messages


def fit_prompt(messages: list[dict], max_chars: int) -> list[dict]:
    """The prompt cut to at most `max_chars` characters of content. The system message (whose start
    is the instructions; the client's system items come after) is cut to half the bound first, then
    the oldest dialogue messages go, then the system message is cut further, and last the newest
    message itself (its start is kept)."""
    if sum(len(m["content"]) for m in messages) <= max_chars:
        return messages
    out = [dict(m) for m in messages]
    system = out.pop(0) if out and out[0]["role"] == "system" else None

    def total() -> int:
        return sum(len(m["content"]) for m in out) + (len(system["content"]) if system else 0)

    if system is not None:
        system["content"] = system["content"][: max_chars // 2]
    while total() > max_chars and len(out) > 1:
        out.pop(0)
    if system is not None and total() > max_chars:
        system["content"] = system["content"][: max(0, len(system["content"]) - (total() - max_chars))]
    if out and total() > max_chars:
        out[-1]["content"] = out[-1]["content"][: max(0, len(out[-1]["content"]) - (total() - max_chars))]
    return ([system] if system is not None and system["content"] else []) + out


def shorten(text: str, max_chars: int) -> str:
    """At most `max_chars`, cut after a sentence if one fits, else after a word."""
    if max_chars <= 0 or len(text) <= max_chars:
        return text
    head = text[:max_chars]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if end >= max_chars // 3:
        return head[: end + 1]
    space = head.rfind(" ")
    return (head[:space] if space > 0 else head).rstrip(",;: ") + "..."


def history_start(past_items: int, history_turns: int) -> int:
    """Index of the first past item kept in the prompt.

    Between `history_turns` and 2x `history_turns` exchanges (two items each) are kept, and the
    start moves `history_turns` exchanges at a time: between two moves every prompt extends the
    previous one, so llama.cpp reuses its cached evaluation and only reads the new messages."""
    if history_turns <= 0:
        return past_items
    step = 2 * history_turns
    if past_items <= 2 * step:
        return 0
    kept = step + (past_items - step) % step
    return past_items - kept
