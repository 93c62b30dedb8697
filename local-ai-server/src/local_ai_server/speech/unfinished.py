"""A cheap, text-only end-of-turn guess: does a (speculative) transcript sound unfinished, or
clearly finished?

No PyPI package ships a semantic end-of-turn model with its weights that fits our 2-core budget,
so this looks at how the words end, the way a listener hears a sentence still going:

- a trailing comma, dash, colon or an ellipsis ("my order number is 4, 7,");
- a filler ("um", "uh", "er", "like", "you know");
- a word that cannot end an English sentence: a conjunction ("and", "but", "or", "because"),
  an article or determiner ("the", "a", "my"), a preposition ("to", "of", "for", "with"; not
  at the end of a wh-question Whisper closed with "?": "Where are you calling from?"), an
  auxiliary or "is"/"are" with nothing after it;
- a number read out that is still going: the last word is a digit or a number word and the words
  before it are digits too ("four seven two", "1 2 3") — callers read numbers in groups;
- only an opener so far ("Well.", "Okay", "Actually", "Sorry") or a look-up phrase at the end
  ("hold on", "one moment", "let me see", "let me find it"): the question is still to come.

Clearly finished (`sounds_finished`): a question ("...?") of 5+ words that is not unfinished, holds
no look-up phrase ("Hold on. Is it there?"), does not open with a subordinate clause, end on a
number or on a short list item without "and"/"or". Statements never count: Whisper closes any
fragment with a full stop ("I need bread." before ", milk and eggs"), and on bench/turn_taking
counting 5+ word statements as finished cut 8-10 of 44 callers off instead of 2.

A whole statement (`sounds_whole_statement`: "I would like to book a table for two.") is in
between: it ends the turn after the normal silence plus a short hold of its own
(`vad.statement_hold_ms`) rather than the unclear one; the list-item, number and look-up checks
keep the fragments Whisper closes with a full stop ("I need bread. Milk.") out of it.

A semantic check (`models/turn_end.py`, the bundled LLM's probability that the message ends
there) may also call a transcript finished; `may_end_here` says which transcripts it is asked
about: those neither unfinished nor already a whole question, of 3+ words, without a look-up
phrase and not ending on a number (a number read out may go on, whatever the model thinks).

Pure functions, str in; `pause_silence_ms` turns the guess into the silence that ends the pause
(`PauseSilences`): longer when unfinished, shorter when clearly finished, else the normal one plus
the statement's or the unclear hold. An
empty transcript counts as unfinished: the VAD heard speech, Whisper wrote nothing (it drops most fillers), and an
empty turn would get no answer anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FILLERS = frozenset({"um", "umm", "uh", "uhh", "er", "erm", "hmm", "mm", "like", "so", "well"})
_DETERMINERS = frozenset("the a an my your our their his her its some any every each no".split())
_CONTINUERS = _DETERMINERS | frozenset(
    """and but or nor because cause so then than which who whose whom where when while if unless
    although though until as plus also
    to of for with from in on at by about into onto over under between after before through
    is are was were am be been being do does did have has had will would can could should shall may
    might must i i'm it's there's let's please
    wondering""".split()  # "I was wondering," + if/whether/about: on the phone it always goes on
)
_NUMBER_WORDS = frozenset(
    """zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    thousand double triple""".split()
)
_OPENERS = frozenset(
    """well okay ok so actually sorry alright hi hello hey look listen now anyway basically
    excuse me please""".split()
)
# Prepositions an English wh-question may end on ("What is it for?", "Who am I speaking to?").
_STRANDED = frozenset("to for with from in on at about".split())
_WH_WORDS = frozenset("what what's where where's who who's whom which how when why".split())
_NOT_BEFORE_STRANDED = _DETERMINERS | _STRANDED  # "...to the for?", "...send it to for?": still going
_LOOKUP = re.compile(r"(hold on|one moment|one second|just a (second|sec|moment|minute)|let me (see|check|find|look)"
                     r"( it| that| for it)?|wait|give me a (second|moment))\W*$")
_TRAILING_PAUSE = re.compile(r"(,|;|:|-|–|—|\.\.\.|…)\s*$")
_FINAL_PUNCT = re.compile(r"[.?!]\s*$")
_WORD = re.compile(r"[a-z0-9']+")
_SUBORDINATORS = frozenset("if when whenever because since although though while before after unless until once as".split())
_MIN_FINISHED_WORDS = 5
_MIN_STATEMENT_WORDS = 3
_QUESTION_OPENERS = _WH_WORDS | frozenset("can could would will do does did is are may shall should".split())
_QUESTION_GOES_ON = _WH_WORDS | frozenset("whether if that".split())  # "Can you tell me whether"
_THANKS = frozenset("thank thanks you very much cheers please".split())
_LOOKUP_ANYWHERE = re.compile(r"\b(hold on|one moment|one second|let me (see|check|find|look))\b")


def goes_on(word: str) -> bool:
    """True for a word after which an English phrase cannot stop ("the", "of", "and", "is"...);
    punctuation around it is read as the transcript rules below read it (`_WORD`)."""
    words = _WORD.findall(word.lower())
    return bool(words) and words[-1] in _CONTINUERS


def _is_number(word: str) -> bool:
    return word.isdigit() or word in _NUMBER_WORDS


def _reads_out_number(words: list[str]) -> bool:
    """The words end on digits or on two number words ("... is 472", "four seven"), not on a
    count ("a table for two")."""
    return words[-1].isdigit() or (len(words) >= 2 and _is_number(words[-1]) and _is_number(words[-2]))


def sounds_unfinished(transcript: str) -> bool:
    """True when the words so far most likely go on (the caller only paused)."""
    text = transcript.strip().lower()
    if not text:
        return True  # voiced audio (the VAD said so) with no words: Whisper leaves out most "um"s and "uh"s
    if _TRAILING_PAUSE.search(text):
        return True
    words = _WORD.findall(text)
    if not words:
        return True  # voiced audio with no words: Whisper leaves out most "um"s and "uh"s
    last = words[-1]
    if last in _FILLERS or _LOOKUP.search(text):
        return True
    if len(words) <= 2 and all(w in _OPENERS or w in _FILLERS for w in words) and not text.endswith("?"):
        return True
    if _FINAL_PUNCT.search(text) and last not in _CONTINUERS:
        return False
    if text.endswith("?") and last in _STRANDED and words[0] in _WH_WORDS and words[-2] not in _NOT_BEFORE_STRANDED:
        return False  # a preposition left at the end of a wh-question: "Where are you calling from?"
    if last in _CONTINUERS:
        return True
    # Not used: "no closing punctuation" as a cue. bench/turn_taking: 11 -> 10 of 44 cut off, but
    # complete questions Whisper leaves unpunctuated waited 600 ms more (bench/latency p95).
    # A number being read out: at least two number tokens at the end ("four seven", "12 34").
    return len(words) >= 2 and _is_number(last) and _is_number(words[-2]) and not text.endswith("?")


def sounds_finished(transcript: str) -> bool:
    """True when the words so far are clearly a whole question (the caller is done)."""
    text = transcript.strip().lower()
    if sounds_unfinished(text) or not text.endswith("?") or _LOOKUP_ANYWHERE.search(text):
        return False
    words = _WORD.findall(text)
    if len(words) < _MIN_FINISHED_WORDS:
        return False
    if "," in text:  # "Do I need bread, milk?": the list may go on
        last = _WORD.findall(text.rsplit(",", 1)[1])
        if len(last) <= 3 and not {"and", "or"} & set(last):
            return False
    return words[0] not in _SUBORDINATORS and not _is_number(words[-1])


def _segments(text: str) -> list[list[str]]:
    """The words of each comma- or sentence-separated part ("I need bread. Milk." -> 2 parts)."""
    return [w for w in (_WORD.findall(part) for part in re.split(r"[,;.!?]+", text)) if w]


def sounds_whole_statement(transcript: str) -> bool:
    """True for a statement or request that reads as whole ("I would like to book a table for
    two."): closed with "." or "!" (or with no mark at all, a question of 5+ words whose "?"
    Whisper left out: "Can you tell me the weather today"), 3+ words, not unfinished, no look-up
    phrase, not opening with a subordinate clause, not ending on a number read out (the next
    group may follow) nor on a short list item after a comma or full stop without "and"/"or"
    ("I need bread, milk.", which Whisper also writes "I need bread. Milk."): the list may go on."""
    text = transcript.strip().lower()
    if sounds_unfinished(text) or _LOOKUP_ANYWHERE.search(text):
        return False
    words = _WORD.findall(text)
    if not re.search(r"[.!]\s*$", text):
        unmarked_question = (words[0] in _QUESTION_OPENERS and len(words) >= _MIN_FINISHED_WORDS
                             and words[-1] not in _QUESTION_GOES_ON)  # "Can you tell me what ..."
        if re.search(r"[?,;:]\s*$", text) or not unmarked_question:
            return False
    if len(words) < _MIN_STATEMENT_WORDS or words[0] in _SUBORDINATORS or _reads_out_number(words):
        return False
    parts = _segments(text)
    while len(parts) >= 2 and set(parts[-1]) <= _THANKS:  # "..., thank you.": a closing, not a list item
        parts.pop()
    return not (len(parts) >= 2 and len(parts[-1]) <= 3 and not {"and", "or"} & set(parts[-1]))


def may_end_here(transcript: str) -> bool:
    """True when the semantic end-of-turn check may decide: the rules above cannot."""
    text = transcript.strip().lower()
    if sounds_unfinished(text) or sounds_finished(text) or _LOOKUP_ANYWHERE.search(text):
        return False
    words = _WORD.findall(text)
    return len(words) >= 3 and not _is_number(words[-1])


@dataclass(frozen=True, slots=True)
class PauseSilences:
    """The silences (ms) that end a pause, by what its words sound like (`vad.*` settings)."""

    silence_ms: int  # the normal end-of-turn silence
    finished_ms: int = 0  # a whole question (at most `silence_ms`; 0 = off)
    unfinished_hold_ms: int = 0  # more when the words go on
    unclear_hold_ms: int = 0  # more when neither
    statement_hold_ms: int | None = None  # more after a whole statement; None = `unclear_hold_ms`


def pause_silence_ms(transcript: str, silences: PauseSilences, likely_end: bool = False) -> int:
    """The silence (ms) that ends a pause whose speculative transcript is `transcript`: the normal
    silence plus the unfinished hold when it sounds unfinished, `finished_ms` when it clearly ended
    (a whole question, or `likely_end`: the semantic check said so of a transcript `may_end_here`),
    the statement hold after a whole statement, else the unclear hold."""
    s = silences
    if sounds_unfinished(transcript):
        return s.silence_ms + s.unfinished_hold_ms
    if s.finished_ms and (sounds_finished(transcript) or (likely_end and may_end_here(transcript))):
        return min(s.finished_ms, s.silence_ms)
    if s.statement_hold_ms is not None and sounds_whole_statement(transcript):
        return s.silence_ms + min(s.statement_hold_ms, s.unclear_hold_ms)  # never longer than the unclear one
    return s.silence_ms + s.unclear_hold_ms
