"""The DTMF key map (calls/dtmf.py): single keys fire at once, multi-digit keys wait for their
next digit, other digits gather for the model."""

from ai_engine.calls.dtmf import KeyMap, Mapped, Unmapped

KEYS = {"0": "transfer operator", "#": "hangup", "42": "say opening hours", "421": "transfer sales"}


def test_a_single_mapped_key_fires_at_once():
    assert KeyMap(KEYS).press("0") == [Mapped("0", "transfer operator")]


def test_a_key_that_begins_a_longer_one_waits_for_the_next_digit_or_the_timeout():
    keys = KeyMap(KEYS)
    assert keys.press("4") == [] and keys.press("2") == [] and keys.waiting
    assert keys.timeout() == [Mapped("42", "say opening hours")]
    assert keys.press("4") == [] and keys.press("2") == [] and keys.press("1") == [Mapped("421", "transfer sales")]


def test_a_mapped_entry_interrupted_by_another_digit_fires_then_the_digit_counts():
    keys = KeyMap(KEYS)
    keys.press("4")
    keys.press("2")
    assert keys.press("0") == [Mapped("42", "say opening hours"), Mapped("0", "transfer operator")]


def test_unmapped_digits_gather_until_a_pause_and_go_to_the_model():
    keys = KeyMap(KEYS)
    assert keys.press("1") == [] and keys.press("7") == []
    (event,) = keys.timeout()
    assert event == Unmapped("17") and event.text() == "(The caller pressed 1 7 on the phone keypad.)"


def test_hash_ends_an_unmapped_entry_when_it_is_not_a_key_itself():
    keys = KeyMap({"0": "hangup"})
    assert keys.press("5") == [] and keys.press("5") == [] and keys.press("#") == [Unmapped("55")]
    assert KeyMap(KEYS).press("#") == [Mapped("#", "hangup")]


def test_no_map_at_all_sends_every_entry_to_the_model_and_ignores_what_is_not_a_key():
    keys = KeyMap({})
    assert keys.press("x") == [] and keys.press("9") == [] and keys.timeout() == [Unmapped("9")]
