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
    "What are your opening hours on Sunday?",
    "Where is the nearest train station?",
    "Do you sell gift cards here?",
    "Could I have a table for four tonight?",
])
def test_a_whole_question_sounds_finished(text):
    assert sounds_finished(text)


@pytest.mark.parametrize("text", [
    "I would like to order a pizza and",  # unfinished
    "Hello, I would like to check the status of my order.",  # statements: Whisper closes fragments with "."
    "My order number is 472?",  # a number read out: the next group may follow
    "If you are open on Sunday?",  # a subordinate clause alone
    "Do you deliver?",  # too short to be sure
    "Hello?",  # often followed by the question
    "Do you have bread, milk?",  # a list still going
    "Hold on. Is it the one there?",  # looking something up
    "Well.",
])
def test_not_clearly_finished(text):
    assert not sounds_finished(text)


def test_the_pause_silence_follows_the_words():
    question = "Do you deliver to Springfield?"
    assert pause_silence_ms("I want a pizza and", 500, 250, 600) == 1100  # held
    assert pause_silence_ms(question, 500, 250, 600) == 250  # ends early
    assert pause_silence_ms("My order number is 472.", 500, 250, 600) == 500  # unclear, no hold for it
    assert pause_silence_ms("My order number is 472.", 500, 250, 600, 300) == 800  # unclear: its own hold
    assert pause_silence_ms(question, 500, 0, 600) == 500  # early ends off
    assert pause_silence_ms("I want a pizza and", 500, 250, 0) == 500  # holds off
    assert pause_silence_ms(question, 200, 250, 600) == 200  # never above the normal one
