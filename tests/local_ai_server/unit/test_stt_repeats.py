"""Whisper on a short padded turn sometimes writes the caller's sentence out again and again
(models/stt.py): the transcript the LLM and the end-of-turn rules read has it once."""
import pytest
from local_ai_server.models.stt import said_once


@pytest.mark.parametrize("heard, meant", [
    ("What is the capital of France? What is the capital of France? What is", "What is the capital of France?"),
    ("How do I reset my password? How do I reset my password?", "How do I reset my password?"),
    ("Please tell me a short joke. please tell me a short joke", "Please tell me a short joke."),
])
def test_a_sentence_written_out_again_and_again_is_read_once(heard, meant):
    assert said_once(heard) == meant


@pytest.mark.parametrize("heard", [
    "What time does the store open tomorrow?",
    "four four four four four four",  # a number read out is no sentence
    "Yes. Yes.",  # shorter than a sentence worth collapsing
    "How do I reset my password? How do I",  # not said twice
    "I need a table for two. A table for two, at eight.",
    "",
])
def test_anything_else_stays_as_it_was_heard(heard):
    assert said_once(heard) == heard
