"""bench/wideband (issue 11, item 7): its word error rate counts what a reader of the transcript would
count, each line's audio is what that line delivers, and each configuration is the call it names."""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import wideband as wb  # noqa: E402
from bench import wideband_audio as wa  # noqa: E402
from bench.__main__ import BENCHES  # noqa: E402
from engine_harness import engine_settings, tone_level  # noqa: E402


def test_word_errors_is_the_word_edit_distance_without_case_and_punctuation():
    q = "What is the capital of France?"
    assert wa.word_errors(q, " what is the Capital of France.") == (0, 6)
    assert wa.word_errors(q, "What is the capitol of France?") == (1, 6)          # one substitution
    assert wa.word_errors(q, "What is capital of France?") == (1, 6)              # one deletion
    assert wa.word_errors(q, "So what is the capital of France?") == (1, 6)       # one insertion
    assert wa.word_errors(q, "France of capital the is what") == (6, 6)           # order matters
    assert wa.word_errors("I would like to book a table for two.", "I'd like to book a table for 2") == (2, 9)
    assert wa.word_errors(q, None) == (6, 6)                                       # nothing heard: all deleted


def test_wer_is_counted_over_all_words_and_accuracy_is_its_complement():
    pairs = [("What is the capital of France?", "What is the capital of France"),
             ("I would like to book a table for two.", "I would like to look at table 42")]
    # 0 of 6 + (book->look, a->at, for->42, two deleted: 4) of 9 words
    assert wa.wer(pairs) == pytest.approx(4 / 15)
    assert wa.word_accuracy(pairs) == pytest.approx(1 - 4 / 15, abs=1e-4)
    assert wa.word_accuracy([("Hello there", "Hello there")]) == 1.0
    assert wa.wer([]) is None


def _tones(freqs, rate=16000, seconds=1.0):
    t = np.arange(int(rate * seconds)) / rate
    return (sum(4000 * np.sin(2 * np.pi * f * t) for f in freqs)).astype("<i2").tobytes()


def test_the_telephone_line_keeps_the_voice_band_at_8k_and_drops_what_a_phone_cannot_carry():
    wide = _tones([150, 1000, 3800, 6000])
    narrow = wa.telephone(wide)
    assert len(narrow) == len(wide) // 2  # 8 kHz
    assert tone_level(narrow, 1000, 8000) > 3500          # in the band: kept
    assert tone_level(narrow, 150, 8000) < 100            # below 300 Hz: gone
    assert tone_level(narrow, 3800, 8000) < 100           # above 3400 Hz: gone
    assert tone_level(wide, 6000, 16000) > 3500           # the wideband line carries all of it
    assert wa.line_audio(wide, "wideband") == wide


def test_the_noisy_line_adds_noise_at_the_asked_level_and_is_the_same_every_run():
    narrow = wa.telephone(_tones([500, 1200]))
    a = wa.phone_line(narrow, snr_db=20, seed=3)
    assert a == wa.phone_line(narrow, snr_db=20, seed=3)
    assert a != wa.phone_line(narrow, snr_db=20, seed=4)
    x = np.frombuffer(narrow, "<i2").astype(float)
    added = np.frombuffer(a, "<i2").astype(float) - x
    snr = 20 * np.log10(np.sqrt(np.mean(x * x)) / np.sqrt(np.mean(added * added)))
    assert 18 < snr < 21  # 20 dB of noise, plus a little mu-law quantization
    assert wa.line_audio(_tones([500, 1200]), "line", snr_db=20, seed=3) == a


@pytest.mark.parametrize("name", list(wb.CONFIGS))
def test_each_configuration_is_a_valid_engine_setup_at_its_rate(tmp_path, name):
    config = wb.CONFIGS[name]
    settings = engine_settings(tmp_path, "http://127.0.0.1:1/", "ws://127.0.0.1:2/v1/realtime", 3,
                               **wb.rig_overrides(config, "ws://127.0.0.1:2/v1/realtime"))
    assert settings.providers["local"].input_rate == config.capture_rate
    assert settings.providers["local"].output_rate == config.capture_rate
    assert settings.calls.audio_transport == config.overrides["calls"]["audio_transport"]
    if config.capture_rate == 16000:  # the transport itself carries 16 kHz
        transport = settings.calls.audio_transport
        fmt = {"websocket": settings.websocket.format, "externalmedia_rtp": settings.rtp.format,
               "snoop_externalmedia": settings.calls.capture_format}[transport]
        assert fmt == "slin16"
    else:
        assert settings.calls.audio_transport == "snoop_fork"
    assert config.line in wa.LINES and wa.LINE_RATE[config.line] == 8000  # the emulator's caller speaks 8 kHz


def test_the_default_run_compares_8k_audiosocket_with_16k_transports_and_is_registered():
    rates = {wb.CONFIGS[n].capture_rate for n in wb.DEFAULT_CONFIGS}
    assert rates == {8000, 16000}
    assert {wb.CONFIGS[n].overrides["calls"]["audio_transport"] for n in wb.DEFAULT_CONFIGS} >= {"snoop_fork", "websocket"}
    assert "wideband" in BENCHES
    qs = [(q.text, q.voice, q.speed) for q in wb.questions(24)]
    assert len(set(qs)) == 24  # 24 different clips, not 8 repeated


def test_the_table_shows_latency_accuracy_and_rates_per_configuration():
    s = {"p50": 900.0, "p95": 1200.0, "n": 20}
    results = {"loadavg_start": [1.0, 0.5, 0.2],
               "engine": {"16k-websocket": {"what": "websocket slin16 both ways", "capture_rate": 16000,
                                            "leg_rates": {"capture": 16000, "playback": 16000},
                                            "voice_to_voice_ms": s, "word_accuracy": 0.95}},
               "server": {"wideband": {"rate": 16000, "word_accuracy": 1.0, "transcript_ms": s, "first_audio_ms": s}}}
    lines = wb.table(results).splitlines()
    row = next(line for line in lines if line.startswith("16k-websocket"))
    assert row.split()[-6:] == ["16000", "900", "/", "1200", "20", "95.0%"]
    assert "16000" in row.split()[-7]
    assert any(line.startswith("wideband") and "100.0%" in line for line in lines)
    assert lines[0].startswith("load average at the start 1.0 0.5 0.2")


def test_leg_rates_name_what_each_leg_carries_and_rtp_agent_audio_as_sent_back():
    from types import SimpleNamespace as NS

    capture = NS(channel=NS(id="abc-capture"), rate=16000, packets=lambda d: [])
    playback = NS(channel=NS(id="abc-playback"), rate=16000,
                  packets=lambda d: [{"pt": 11, "played": True}] if d == "out" else [])
    channels = {"p": NS(id="abc-playback", leg=playback)}  # the emulator's channel holds the same leg
    emu = NS(channels=channels, websocket_legs=[], rtp_legs=[capture, playback])
    assert wb.leg_rates(emu) == {"capture": 16000, "playback": 8000}  # PT 11 back: 8 kHz
    ws = NS(channels={}, websocket_legs=[NS(channel=NS(id="x-capture"), rate=16000), NS(channel=NS(id="x-playback"), rate=16000)],
            rtp_legs=[])
    assert wb.leg_rates(ws) == {"capture": 16000, "playback": 16000}
    fork = NS(channels={"f": NS(id="f", leg=NS(rate=8000)), "c": NS(id="c", leg=None)}, websocket_legs=[], rtp_legs=[])
    assert wb.leg_rates(fork) == {"capture": 8000}  # file or fork: no playback leg
