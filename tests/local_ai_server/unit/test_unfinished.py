"""The end-of-turn text guess: what a listener hears as 'still going' keeps the agent quiet."""

import pytest
from local_ai_server.speech.unfinished import sounds_unfinished


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
