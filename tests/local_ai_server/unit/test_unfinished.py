"""The end-of-turn text guess: what a listener hears as 'still going' keeps the agent quiet."""

import pytest
from local_ai_server.speech.unfinished import may_end_here, pause_silence_ms, sounds_finished, sounds_unfinished


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
    "Can you deliver to?",  # a preposition ends only a wh-question
    "What is the price of?",
    "Where can I send it to the?",
])
def test_trailing_words_that_go_on(text):
    assert sounds_unfinished(text)


@pytest.mark.parametrize("text", [
    "What are your opening hours on Sunday?",
    "Where is the nearest train station?",
    "Do you sell gift cards here?",
    "Could I have a table for four tonight?",
    "Where are you calling me from?",  # a wh-question may end on its preposition
    "Who am I speaking to?",
    "What do I need to pay for?",
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


@pytest.mark.parametrize("text, asked", [
    ("I would like to change my delivery address.", True),  # a statement: the rules cannot tell
    ("Please tell me a short note.", True),
    ("What time does the store open tomorrow?", False),  # a whole question: the rules already know
    ("I would like a large pizza and", False),  # unfinished by the rules
    ("My order number is 472.", False),  # a number read out may go on, whatever the model thinks
    ("Hold on, I have it here.", False),  # looking something up
    ("Yes.", False),  # too few words to judge
])
def test_the_semantic_check_is_asked_only_where_the_rules_cannot_tell(text, asked):
    assert may_end_here(text) is asked


def test_a_likely_end_ends_the_pause_early_only_where_the_check_may_decide():
    statement = "I would like to change my delivery address."
    assert pause_silence_ms(statement, 500, 250, 600, 600) == 1100  # unclear: held
    assert pause_silence_ms(statement, 500, 250, 600, 600, likely_end=True) == 250
    assert pause_silence_ms("My order number is 472.", 500, 250, 600, 600, likely_end=True) == 1100
    assert pause_silence_ms("I want a pizza and", 500, 250, 600, 600, likely_end=True) == 1100
    assert pause_silence_ms(statement, 500, 0, 600, 600, likely_end=True) == 1100  # early ends off

