"""The caller's key presses (ARI ChannelDtmfReceived on the caller: the snoop path carries no
DTMF, facts more/ M41-M42) matched against a persona's key map, sans-IO.

Rules: digits gather into an entry. An entry that is a key of the map and no longer key starts
with it fires at once (`0` -> `transfer operator`). An entry that begins a longer key waits for
the next digit up to the inter-digit timeout (`timeout()`), then fires what it matches, if
anything. Digits that match nothing gather until a pause of the inter-digit timeout or a `#`
(when `#` is not itself a key), then go to the model as text: "The caller pressed 1 2 3."
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_ENTRY = 32  # digits in one entry, at most (a longer run is sent on as it is)


@dataclass(frozen=True, slots=True)
class Mapped:
    """A key of the map: `action` is its value (`transfer <target>`, `hangup`, `say <text>`)."""

    digits: str
    action: str


@dataclass(frozen=True, slots=True)
class Unmapped:
    """Digits the map does not know: for the model."""

    digits: str

    def text(self) -> str:
        return f"(The caller pressed {' '.join(self.digits)} on the phone keypad.)"


KeyEvent = Mapped | Unmapped


class KeyMap:
    def __init__(self, keys: dict[str, str]):
        self.keys = dict(keys)
        self.entry = ""

    @property
    def waiting(self) -> bool:
        """An entry is open: call `timeout()` if no digit comes within the inter-digit time."""
        return bool(self.entry)

    def press(self, digit: str) -> list[KeyEvent]:
        if len(digit) != 1 or digit not in "0123456789*#ABCD":
            return []
        entry = self.entry + digit
        if entry in self.keys and not self._longer(entry):
            self.entry = ""
            return [Mapped(entry, self.keys[entry])]
        if self._longer(entry) or entry in self.keys:
            self.entry = entry
            return []
        if self.entry and self._is_mapped_prefix(self.entry):
            # A mapped entry was open and this digit does not continue it: settle it first.
            events = self.timeout()
            return events + self.press(digit)
        if digit == "#" and "#" not in self.keys:
            self.entry = ""
            return [Unmapped(entry.removesuffix("#"))] if entry != "#" else [Unmapped("#")]
        self.entry = entry
        if len(entry) >= MAX_ENTRY:
            self.entry = ""
            return [Unmapped(entry)]
        return []

    def timeout(self) -> list[KeyEvent]:
        """No digit within the inter-digit time: settle the open entry."""
        entry, self.entry = self.entry, ""
        if not entry:
            return []
        if entry in self.keys:
            return [Mapped(entry, self.keys[entry])]
        return [Unmapped(entry)]

    def _longer(self, entry: str) -> bool:
        return any(k != entry and k.startswith(entry) for k in self.keys)

    def _is_mapped_prefix(self, entry: str) -> bool:
        return entry in self.keys or self._longer(entry)
