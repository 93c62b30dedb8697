"""End-of-turn detection (webrtcvad) on a synthetic voice and on silence."""

import numpy as np
from local_ai_fakes import silence, vowel
from local_ai_server.speech.vad import Endpointer, Paused, Resumed, SpeechStarted, SpeechStopped, VadParams


def pcm16k(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def feed(endpointer: Endpointer, *parts: bytes, chunk: int = 320) -> list:
    audio = pcm16k(b"".join(parts))
    events = []
    for i in range(0, len(audio), chunk):
        events += endpointer.feed(audio[i : i + chunk])
    return events


def test_speech_then_silence_makes_one_turn_with_padding():
    endpointer = Endpointer(VadParams(silence_duration_ms=500, prefix_padding_ms=300, speculative_after_ms=0))
    events = feed(endpointer, silence(0.5, 16000), vowel(1.0, 16000), silence(0.7, 16000))
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, SpeechStopped]
    started, stopped = events
    assert 480 <= started.start_ms <= 560  # speech begins at 500 ms
    assert 1440 <= stopped.end_ms <= 1520  # and ends at 1500 ms
    # The turn's audio reaches back by the prefix padding and covers the whole utterance.
    assert len(stopped.audio) / 16000 >= 1.0 + 0.25
    assert stopped.voiced_ms >= 900


def test_silence_and_a_click_are_not_speech():
    endpointer = Endpointer(VadParams())
    click = vowel(0.02, 16000)
    assert feed(endpointer, silence(1.0, 16000), click, silence(1.0, 16000)) == []


def test_pause_shorter_than_the_silence_is_one_turn_with_speculation_dropped():
    endpointer = Endpointer(VadParams(silence_duration_ms=500, speculative_after_ms=200))
    events = feed(endpointer, vowel(0.6, 16000), silence(0.3, 16000), vowel(0.6, 16000), silence(0.6, 16000))
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, Paused, Resumed, Paused, SpeechStopped]
    assert len(events[-1].audio) > len(events[1].audio)


def test_any_chunk_size_gives_the_same_events():
    audio = (silence(0.2, 16000), vowel(0.8, 16000), silence(0.6, 16000))
    reference = [(type(e), getattr(e, "end_ms", None)) for e in feed(Endpointer(VadParams()), *audio)]
    for chunk in (7, 160, 999):
        assert [(type(e), getattr(e, "end_ms", None)) for e in feed(Endpointer(VadParams()), *audio, chunk=chunk)] \
            == reference


def test_long_speech_is_cut_at_max_turn():
    endpointer = Endpointer(VadParams(max_turn_ms=1000, speculative_after_ms=0))
    events = feed(endpointer, vowel(2.5, 16000))
    stops = [e for e in events if isinstance(e, SpeechStopped)]
    assert stops and stops[0].forced


def test_force_stop_ends_the_turn_now():
    endpointer = Endpointer(VadParams())
    assert endpointer.force_stop() is None
    feed(endpointer, vowel(0.5, 16000))
    stopped = endpointer.force_stop()
    assert isinstance(stopped, SpeechStopped) and not endpointer.in_speech


PHRASES = ["What time does the store open tomorrow?", "Can you tell me the weather today?",
           "I would like to book a table for two.", "Where is the nearest train station?",
           "How do I reset my password?", "What are your opening hours on Sunday?"]


def test_natural_phrases_are_one_whole_turn():
    """espeak-ng phrases (telephone audio, the voices the tests and the bench use) end their turn
    only after their last word: one turn each, reaching to the end of the speech."""
    from local_ai_server.client import espeak
    from local_ai_server.speech.audio import StreamResampler

    for voice in ("en", "en-us", "en-gb-x-rp"):
        for phrase in PHRASES:
            speech = np.frombuffer(espeak(phrase, rate=8000, voice=voice, speed=160), dtype="<i2")
            loud = np.flatnonzero(np.abs(speech) > 300)
            speech_end_ms = 1000 + loud[-1] * 1000 // 8000  # after the 1 s of silence sent first
            audio = StreamResampler(8000, 16000).process(
                np.concatenate([np.zeros(8000, np.int16), speech.astype(np.int16), np.zeros(16000, np.int16)]))
            endpointer = Endpointer(VadParams(silence_duration_ms=500))
            stops = [e for e in endpointer.feed(audio) if isinstance(e, SpeechStopped)]
            assert len(stops) == 1, (voice, phrase, [s.end_ms for s in stops])
            assert not stops[0].forced
            assert stops[0].end_ms >= speech_end_ms - 200, (voice, phrase, stops[0].end_ms, speech_end_ms)


def test_a_held_pause_waits_longer_and_the_caller_is_not_cut_off():
    """A pause whose words sound unfinished gets `hold` extra silence: a 700 ms pause that would
    end a 500 ms turn keeps it open, and the caller's next words join the same turn."""
    endpointer = Endpointer(VadParams(silence_duration_ms=500, speculative_after_ms=200))
    events = feed(endpointer, vowel(0.6, 16000), silence(0.3, 16000))
    assert [type(e) for e in events] == [SpeechStarted, Paused]
    endpointer.hold(600)
    events = feed(endpointer, silence(0.4, 16000), vowel(0.6, 16000))
    assert [type(e) for e in events] == [Resumed]
    assert not endpointer.held  # voiced audio forgets the hold: the next pause starts afresh
    events = feed(endpointer, silence(0.6, 16000))
    assert [type(e) for e in events] == [Paused, SpeechStopped]


def test_a_held_pause_still_ends_after_the_longer_silence():
    endpointer = Endpointer(VadParams(silence_duration_ms=500, speculative_after_ms=200))
    feed(endpointer, vowel(0.6, 16000), silence(0.3, 16000))
    endpointer.hold(600)
    events = feed(endpointer, silence(1.0, 16000))
    assert [type(e) for e in events] == [SpeechStopped]
    assert not endpointer.held


def test_a_pause_released_to_a_shorter_silence_ends_the_turn_at_once():
    """The words clearly ended: the pause, already 300 ms long, ends the turn now (not at 500 ms),
    and the stop's end of speech is where the voice ended."""
    endpointer = Endpointer(VadParams(silence_duration_ms=500, speculative_after_ms=200))
    feed(endpointer, vowel(0.6, 16000), silence(0.3, 16000))
    endpointer.hold(600)
    stopped = endpointer.release(250)
    assert isinstance(stopped, SpeechStopped)
    assert endpointer.now_ms - stopped.end_ms >= 250
    assert not endpointer.in_speech


def test_a_shorter_silence_applies_to_the_current_pause_only():
    endpointer = Endpointer(VadParams(silence_duration_ms=500, speculative_after_ms=200))
    feed(endpointer, vowel(0.6, 16000), silence(0.2, 16000))
    assert endpointer.release(300) is None  # only 200 ms of silence so far
    events = feed(endpointer, vowel(0.4, 16000), silence(0.4, 16000))
    assert SpeechStopped not in [type(e) for e in events]  # the caller went on: the normal 500 ms again
    assert [type(e) for e in feed(endpointer, silence(0.2, 16000))] == [SpeechStopped]
