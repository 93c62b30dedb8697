"""Cutting streamed LLM text into pieces for speech synthesis (sans-IO).

`PieceSplitter.feed(token)` returns the pieces completed by that token; `flush()` returns the rest.
The first piece is cut at the first clause or sentence boundary once it holds `first_min_chars`,
or after `first_max_words` words when no boundary comes (so the first audio can start early: Piper
takes ~40 ms per second of speech it makes), moved on by up to `EXTRA_WORDS` words while the last
one cannot end a phrase ("The capital of the" | "world is London." would be read as two broken
sentences; "The capital of the world" | "is London." is a pause a speaker makes); later pieces at
sentence boundaries, or at a clause boundary once they grow past half of `max_chars`, or at a space
past `max_chars`.
Text is cleaned for speech: markdown marks, emojis and repeated whitespace are removed.
"""

from __future__ import annotations

import re

from .unfinished import goes_on

_SENTENCE_END = ".!?;:\n"
_CLAUSE_END = ",\u2014"  # comma, em dash
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "prof", "sr", "jr", "no", "approx"}
_MARKDOWN = re.compile(r"[*_#`~|>\[\]]+")
_NON_SPEECH = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\ufe0f\u200d]+"
)
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,!?;:])")
EXTRA_WORDS = 3  # words the first piece may run past first_max_words to end on a word that ends a phrase


def clean_for_speech(text: str) -> str:
    text = _MARKDOWN.sub(" ", text)
    text = _NON_SPEECH.sub(" ", text)
    text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


class PieceSplitter:
    def __init__(self, first_min_chars: int = 8, max_chars: int = 220, first_max_words: int = 0) -> None:
        self.first_min_chars = first_min_chars
        self.max_chars = max_chars
        self.first_max_words = first_max_words
        self._buffer = ""
        self.pieces_out = 0

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        pieces = []
        while True:
            cut = self._find_cut()
            if cut is None:
                break
            piece = clean_for_speech(self._buffer[:cut])
            self._buffer = self._buffer[cut:]
            if has_words(piece):
                pieces.append(piece)
                self.pieces_out += 1
        return pieces

    def flush(self) -> list[str]:
        piece = clean_for_speech(self._buffer)
        self._buffer = ""
        if has_words(piece):
            self.pieces_out += 1
            return [piece]
        return []

    def _find_cut(self) -> int | None:
        """Index just after a boundary (followed by whitespace, so "3.5" and "e.g." stay whole)."""
        buf = self._buffer
        first = self.pieces_out == 0
        min_chars = self.first_min_chars if first else 1
        for i in range(len(buf) - 1):
            ch = buf[i]
            if not buf[i + 1].isspace() and ch != "\n":
                continue
            if ch in _SENTENCE_END:
                if ch == "." and (self._is_abbreviation(buf, i) or self._is_list_number(buf, i)):
                    continue
                if len(buf[: i + 1].strip()) >= min_chars or (not first and has_words(buf[: i + 1])):
                    return i + 1
            elif ch in _CLAUSE_END and (first or i >= self.max_chars // 2):
                if len(buf[: i + 1].strip()) >= min_chars:
                    return i + 1
        if first and self.first_max_words:
            # No boundary yet: the first piece stops after `first_max_words` complete words, or
            # a few more if the last of them cannot end a phrase.
            words = 0
            for i in range(1, len(buf)):
                if buf[i].isspace() and not buf[i - 1].isspace():
                    words += 1
                    if words >= self.first_max_words and (
                            words >= self.first_max_words + EXTRA_WORDS or not goes_on(buf[:i].rsplit(None, 1)[-1])):
                        return i + 1
        if len(buf) > self.max_chars:
            space = buf.rfind(" ", 0, self.max_chars)
            return space + 1 if space > 0 else self.max_chars
        return None

    @staticmethod
    def _is_list_number(buf: str, dot: int) -> bool:
        """'2.' opening a list item ("2. Tap login") is not the end of a sentence."""
        start = dot
        while start > 0 and buf[start - 1].isdigit():
            start -= 1
        return start < dot and (start == 0 or buf[start - 1] in " \n")

    @staticmethod
    def _is_abbreviation(buf: str, dot: int) -> bool:
        start = dot
        while start > 0 and (buf[start - 1].isalpha() or buf[start - 1] == "."):
            start -= 1
        word = buf[start:dot]
        return word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper())


def split_text(text: str, first_min_chars: int = 8, max_chars: int = 220, first_max_words: int = 0) -> list[str]:
    """All pieces of a complete text (greetings spoken verbatim)."""
    splitter = PieceSplitter(first_min_chars, max_chars, first_max_words)
    return splitter.feed(text + " ") + splitter.flush()
