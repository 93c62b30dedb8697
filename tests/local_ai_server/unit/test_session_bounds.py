"""Bounds on a session's text and audio (issue 13, local-ai-server items 1 and 2), sans-IO."""

from local_ai_server.realtime.limits import AudioRateLimit
from local_ai_server.speech.conversation import Conversation, Item, fit_prompt


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_audio_at_real_time_is_always_admitted():
    clock = FakeClock()
    limit = AudioRateLimit(rate=1.5, burst_ms=2000, clock=clock)
    for _ in range(10 * 60 * 50):  # ten minutes of 20 ms frames, in real time
        clock.now += 0.02
        assert limit.admit(20)


def test_audio_faster_than_the_rate_is_refused_after_the_burst():
    clock = FakeClock()
    limit = AudioRateLimit(rate=1.5, burst_ms=2000, clock=clock)
    admitted = sum(limit.admit(20) for _ in range(30000 // 20))  # 30 s of audio at one instant
    assert admitted * 20 == 3000  # the burst and one second
    clock.now += 1.0
    assert sum(limit.admit(20) for _ in range(100)) == 75  # then 1.5 s of audio per second


def test_refusals_are_reported_at_most_once_a_second():
    clock = FakeClock()
    limit = AudioRateLimit(rate=1.5, burst_ms=0, clock=clock)
    assert limit.report_due() and not limit.report_due()
    clock.now += 1.0
    assert limit.report_due()


def test_conversation_forgets_the_oldest_items_beyond_its_text_bound():
    conversation = Conversation(max_items=200, max_chars=1000)
    for n in range(10):
        conversation.add(Item(id=f"i{n}", role="system", text="x" * 300))
    assert conversation.chars <= 1000
    assert [i.id for i in conversation.items] == ["i7", "i8", "i9"]


def test_prompt_is_cut_to_its_bound_keeping_instructions_and_the_question():
    messages = [{"role": "system", "content": "Be kind. " + "rule " * 2000},
                {"role": "user", "content": "old " * 300},
                {"role": "assistant", "content": "reply " * 300},
                {"role": "user", "content": "What now?"}]
    fitted = fit_prompt(messages, 1500)
    assert sum(len(m["content"]) for m in fitted) <= 1500
    assert fitted[0]["content"].startswith("Be kind.")
    assert fitted[-1] == {"role": "user", "content": "What now?"}
    assert fit_prompt(messages[-1:], 1500) == messages[-1:]
