"""A session's conversation (items in order) and the short chat prompt built from it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Item:
    id: str
    role: str  # "user" | "assistant" | "system"
    text: str
    from_audio: bool = False
    spoken: bool = True  # assistant text added by the client is unspoken until a response speaks it


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
        if self.items and self.items[-1].role == "assistant" and not self.items[-1].spoken:
            return self.items[-1]
        return None

    def chat_messages(self, instructions: str, style_hint: str, history_turns: int,
                      max_item_chars: int = 0, upcoming: bool = False) -> list[dict]:
        """System prompt (instructions, style hint, client system items), the recent dialogue
        (each past message cut to `max_item_chars`, 0 = whole), and the newest message.

        With `upcoming`, every item counts as past: the prompt the next message will extend
        (what a prefill evaluates ahead of time)."""
        system_parts = [instructions.strip()] if instructions.strip() else []
        if style_hint.strip():
            system_parts.append(style_hint.strip())
        system_parts += [i.text for i in self.items if i.role == "system"]
        dialogue = [i for i in self.items if i.role in ("user", "assistant") and i.text.strip()]
        if upcoming:
            past = dialogue[history_start(len(dialogue), history_turns):]
            dialogue = [(i.role, shorten(i.text, max_item_chars)) for i in past]
        elif dialogue:
            past, newest = dialogue[:-1], dialogue[-1]
            past = past[history_start(len(past), history_turns):]
            dialogue = [(i.role, shorten(i.text, max_item_chars)) for i in past] + [(newest.role, newest.text)]
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
