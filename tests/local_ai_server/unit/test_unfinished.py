"""The end-of-turn text guess: what a listener hears as 'still going' keeps the agent quiet."""

import pytest
from local_ai_server.speech.unfinished import pause_silence_ms, sounds_finished, sounds_unfinished


@pytest.mark.parametrize("text", [
    "I would like to order a pizza and",
    "My order number is four, seven,",
    "Um, I was wondering, um",
    "The number is 4 7 2",
    "four seven two nine",
    "I need it delivered to the",
    "Can you tell me about...",
    "I want a large pizza with",
    "Hello, I would like to check the status of my",
    "Well...",
    "Okay",
    "Actually.",
    "Hold on.",
    "Let me find it.",
    "",  # speech without words: a filler Whisper left out
    "   ",
    "I have it here, one moment.",
])
def test_trailing_words_that_go_on(text):
    assert sounds_unfinished(text)


@pytest.mark.parametrize("text", [
    "What are your opening hours?",
    "Hello, I would like to check the status of my order.",
    "Thank you.",
    "Yes.",
    "I live at number 12.",
    "My number is 4 7 2 9.",
    "Do you deliver to Springfield?",
    "Sorry, I did not catch that.",
    "Hello?",
    "Okay, thanks, goodbye.",
])
def test_complete_sentences_end_the_turn(text):
    assert not sounds_unfinished(text)


@pytest.mark.parametrize("text", [
    "What are your opening hours?",
    "Hello, I would like to check the status of my order.",
    "Do you sell gift cards?",
    "I am free on Monday, Wednesday or Friday.",
])
def test_a_question_or_whole_sentence_sounds_finished(text):
    assert sounds_finished(text)


@pytest.mark.parametrize("text", [
    "I would like to order a pizza and",  # unfinished
    "My order number is 472.",  # a number read out: the next group may follow
    "If you are open on Sunday.",  # a subordinate clause alone
    "Yes.",  # too short to be sure
    "Hello?",  # often followed by the question
    "I am free on Monday, Wednesday.",  # a list still going
    "I need bread, milk",  # no closing punctuation
    "Well.",
])
def test_not_clearly_finished(text):
    assert not sounds_finished(text)


def test_the_pause_silence_follows_the_words():
    assert pause_silence_ms("I want a pizza and", 500, 250, 600) == 1100  # held
    assert pause_silence_ms("Do you deliver there?", 500, 250, 600) == 250  # ends early
    assert pause_silence_ms("My order number is 472.", 500, 250, 600) == 500  # the normal silence
    assert pause_silence_ms("Do you deliver there?", 500, 0, 600) == 500  # early ends off
    assert pause_silence_ms("I want a pizza and", 500, 250, 0) == 500  # holds off
    assert pause_silence_ms("Do you deliver to Springfield?", 200, 250, 600) == 200  # never above the normal one
    assert pause_silence_ms("My order number is 472.", 500, 250, 600, 300) == 800  # unclear: its own hold
