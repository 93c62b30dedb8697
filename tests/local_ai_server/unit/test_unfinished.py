"""The end-of-turn text guess: what a listener hears as 'still going' keeps the agent quiet."""

import pytest
from local_ai_server.speech.unfinished import (
    PauseSilences,
    may_end_here,
    pause_silence_ms,
    sounds_finished,
    sounds_unfinished,
    sounds_whole_statement,
)


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
    held = PauseSilences(500, finished_ms=250, unfinished_hold_ms=600)
    assert pause_silence_ms("I want a pizza and", held) == 1100  # held
    assert pause_silence_ms(question, held) == 250  # ends early
    assert pause_silence_ms("My order number is 472.", held) == 500  # unclear, no hold for it
    unclear = PauseSilences(500, 250, 600, unclear_hold_ms=300)
    assert pause_silence_ms("My order number is 472.", unclear) == 800  # unclear: its own hold
    assert pause_silence_ms(question, PauseSilences(500, 0, 600)) == 500  # early ends off
    assert pause_silence_ms("I want a pizza and", PauseSilences(500, 250, 0)) == 500  # holds off
    assert pause_silence_ms(question, PauseSilences(200, 250, 600)) == 200  # never above the normal one


def test_a_whole_statement_waits_its_own_shorter_hold():
    silences = PauseSilences(500, 300, 800, unclear_hold_ms=600, statement_hold_ms=100)
    assert pause_silence_ms("I would like to book a table for two.", silences) == 600
    assert pause_silence_ms("My order number is 472.", silences) == 1100  # a number read out: unclear
    assert pause_silence_ms("I need bread, milk.", silences) == 1100  # a list may go on
    unset = PauseSilences(500, 300, 800, unclear_hold_ms=600)  # no statement hold: the unclear one
    assert pause_silence_ms("I would like to book a table for two.", unset) == 1100
    no_unclear = PauseSilences(500, 300, 800, unclear_hold_ms=0, statement_hold_ms=100)
    assert pause_silence_ms("I would like to book a table for two.", no_unclear) == 500  # never above unclear


@pytest.mark.parametrize("text, whole", [
    ("I would like to book a table for two.", True),  # a count, not a number read out
    ("I want to cancel my order.", True),
    ("Please send me the invoice!", True),
    ("I need bread, milk.", False),  # a short list item after a comma: the list may go on
    ("It was the blue one. The small one.", False),  # Whisper also writes list items as sentences
    ("I need bread, milk and eggs.", True),  # "and": the list's last item
    ("My order number is 472.", False),  # the next group may follow
    ("My order number is four seven.", False),
    ("Hold on. I have it here.", False),  # looking something up
    ("If you are open on Sunday.", False),  # a subordinate clause alone
    ("I was wondering.", False),  # goes on: "if", "whether", "about"
    ("Yes please.", False),  # too few words
    ("I want to cancel my order", False),  # no closing full stop
    ("Can you tell me the weather today", True),  # a question whose "?" Whisper left out
    ("Can you deliver to the", False),  # ... unless it goes on
    ("Can you deliver it", False),  # ... or is short
    ("Can you tell me what", False),  # ... or stops on what the question is about
    ("Could you tell me whether", False),
    ("I want to cancel my order, thank you.", True),  # a closing, not a list item
    ("Do you deliver on Sundays?", False),  # a question: sounds_finished decides
    ("I would like a pizza and", False),
])
def test_a_whole_statement(text, whole):
    assert sounds_whole_statement(text) is whole


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
    silences = PauseSilences(500, 250, 600, unclear_hold_ms=600)
    assert pause_silence_ms(statement, silences) == 1100  # unclear: held
    assert pause_silence_ms(statement, silences, likely_end=True) == 250
    assert pause_silence_ms("My order number is 472.", silences, likely_end=True) == 1100
    assert pause_silence_ms("I want a pizza and", silences, likely_end=True) == 1100
    assert pause_silence_ms(statement, PauseSilences(500, 0, 600, 600), likely_end=True) == 1100  # early ends off
