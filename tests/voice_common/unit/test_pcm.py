"""Frame arithmetic, WAV bytes and G.711 as Asterisk and the Realtime protocol expect them."""
import io
import warnings
import wave

import numpy as np
import pytest

from voice_common import pcm


def test_a_20ms_frame_is_320_bytes_at_8k_and_640_at_16k():
    assert pcm.frame_bytes(8000) == 320
    assert pcm.frame_bytes(16000) == 640
    assert pcm.frame_bytes(24000, ms=100) == 4800
    assert pcm.samples_for_ms(16000, 20) == 320
    assert pcm.silence(8000) == b"\x00" * 320


def test_durations_of_pcm():
    one_second = b"\x00" * 16000
    assert pcm.duration_s(one_second, 8000) == 1.0
    assert pcm.duration_ms(one_second, 16000) == 500


def test_odd_bytes_are_not_samples():
    with pytest.raises(ValueError, match="odd"):
        pcm.to_samples(b"\x00\x01\x02")


def test_wav_bytes_is_a_mono_16bit_wav_of_the_audio():
    audio = np.arange(-400, 400, dtype="<i2").tobytes()
    with wave.open(io.BytesIO(pcm.wav_bytes(audio, 8000))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert w.readframes(w.getnframes()) == audio


def _audioop():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("audioop")  # gone in 3.13; the reference while it exists


ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)


def test_ulaw_matches_the_reference_for_every_sample_and_code():
    audioop = _audioop()
    assert pcm.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES.astype("<i2").tobytes(), 2)
    codes = bytes(range(256))
    assert pcm.ulaw_to_pcm(codes) == audioop.ulaw2lin(codes, 2)


def test_alaw_matches_the_reference_for_every_sample_and_code():
    audioop = _audioop()
    assert pcm.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES.astype("<i2").tobytes(), 2)
    codes = bytes(range(256))
    assert pcm.alaw_decode(codes).astype("<i2").tobytes() == audioop.alaw2lin(codes, 2)


def test_g711_round_trip_keeps_a_tone_within_its_quantisation():
    tone = (np.sin(np.arange(800) * 2 * np.pi * 440 / 8000) * 12000).astype(np.int16)
    for encode, decode in ((pcm.ulaw_encode, pcm.ulaw_decode), (pcm.alaw_encode, pcm.alaw_decode)):
        back = decode(encode(tone)).astype(np.int32)
        assert np.max(np.abs(back - tone)) <= 12000 // 16 + 8  # 4-bit mantissa: ~3% of the value
    assert pcm.ulaw_encode(np.zeros(1, np.int16)) == b"\xff"  # mu-law silence
    assert pcm.alaw_encode(np.zeros(1, np.int16)) == b"\xd5"  # A-law silence
