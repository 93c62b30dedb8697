"""Cutting streamed LLM text into pieces for speech."""

import re

from local_ai_server.speech.text_pieces import PieceSplitter, clean_for_speech, split_text


def stream(text: str, splitter: PieceSplitter | None = None) -> list[str]:
    splitter = splitter or PieceSplitter(first_min_chars=8, max_chars=220)
    pieces = []
    for token in re.findall(r"\S+\s*", text):
        pieces += splitter.feed(token)
    return pieces + splitter.flush()


def test_first_piece_is_cut_at_the_first_clause_then_sentences():
    pieces = stream("Sure thing, the store opens at nine, and closes at five. See you then!")
    assert pieces == ["Sure thing,", "the store opens at nine, and closes at five.", "See you then!"]


def test_pieces_come_out_as_soon_as_they_are_complete():
    splitter = PieceSplitter()
    assert splitter.feed("Hello there") == []
    assert splitter.feed(". How") == ["Hello there."]
    assert splitter.feed(" are you?") == []
    assert splitter.flush() == ["How are you?"]


def test_numbers_and_abbreviations_do_not_cut():
    pieces = stream("It costs 3.50 dollars at Dr. Smith's shop. Thanks!")
    assert pieces == ["It costs 3.50 dollars at Dr. Smith's shop.", "Thanks!"]


def test_tiny_first_clause_waits_for_more_text():
    assert stream("Oh, I see. Fine.")[0] == "Oh, I see."


def test_markdown_and_emoji_are_not_spoken():
    assert clean_for_speech("**Great** news 🎉 — `ok`") == "Great news — ok"
    assert stream("1. **Open** the app.\n2. Tap *login*.") == ["1. Open the app.", "2. Tap login."]


def test_long_text_without_boundaries_is_cut_near_max_chars():
    pieces = stream("word " * 120, PieceSplitter(first_min_chars=8, max_chars=60))
    assert all(len(p) <= 60 for p in pieces)
    assert " ".join(pieces).split() == ["word"] * 120


def test_verbatim_text_is_split_the_same_way_and_loses_nothing():
    text = "Hello, thanks for calling Acme. How can I help you today?"
    assert " ".join(split_text(text)) == text


def test_pieces_without_words_are_dropped():
    assert stream("... !!! ") == []


def test_first_piece_stops_after_max_words_when_no_boundary_comes():
    splitter = PieceSplitter(first_min_chars=8, max_chars=220, first_max_words=4)
    pieces = stream("The store is open from nine to five every day. Bye now.", splitter)
    assert pieces == ["The store is open", "from nine to five every day.", "Bye now."]
    # A boundary within the first words wins.
    assert stream("Sure thing, the store is open.", PieceSplitter(first_max_words=4))[0] == "Sure thing,"


def test_the_first_piece_does_not_stop_on_a_word_that_cannot_end_a_phrase():
    # Piper reads each piece as a sentence: "The capital of the." would sound broken off.
    assert stream("The capital of the world is London.", PieceSplitter(first_max_words=4)) == [
        "The capital of the world", "is London."]
    assert stream("The winner is a local, I think.", PieceSplitter(first_max_words=4)) == [
        "The winner is a local,", "I think."]
    # Bounded: at most three words more, whatever they are.
    assert stream("It is in the and the of the end of it.", PieceSplitter(first_max_words=4))[0] == (
        "It is in the and the of")
