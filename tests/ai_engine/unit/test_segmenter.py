"""Reply audio is cut into files at text boundaries once long enough, and at the reply's end."""
from ai_engine.playback.segmenter import Segmenter

MS100 = b"\x01\x00" * 800  # 100 ms at 8 kHz


def test_first_boundary_after_min_length_closes_a_segment():
    seg = Segmenter(min_ms=300)
    assert seg.text_boundary("r1") == []
    assert seg.add_audio("r1", MS100 * 2) == []
    assert seg.text_boundary("r1") == []  # 200 ms < 300 ms: keep collecting
    seg.add_audio("r1", MS100 * 2)
    (first,) = seg.text_boundary("r1")
    assert len(first.pcm) == len(MS100) * 4 and first.index == 0
    seg.add_audio("r1", MS100)
    (last,) = seg.flush()
    assert last.index == 1 and len(last.pcm) == len(MS100)


def test_a_new_response_flushes_the_old_one_and_drop_forgets():
    seg = Segmenter(min_ms=300)
    seg.add_audio("r1", MS100)
    (old,) = seg.add_audio("r2", MS100)
    assert old.response_id == "r1"
    seg.drop()
    assert seg.flush() == [] and not seg.pending
