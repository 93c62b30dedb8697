"""Resampling: same samples every run, streaming equals one-shot, bytes and arrays agree."""
import numpy as np

from voice_common import resample as rs


def tone(rate, seconds=0.5, freq=440, level=8000):
    return (np.sin(np.arange(int(rate * seconds)) * 2 * np.pi * freq / rate) * level).astype(np.int16)


def test_one_shot_resampling_changes_the_length_and_keeps_the_tone():
    out = rs.resample(tone(8000), 8000, 16000)
    assert out.dtype == np.int16 and out.size == 8000
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64)))
    assert abs(np.argmax(spectrum) * 16000 / out.size - 440) < 3


def test_the_same_input_gives_the_same_samples_every_time():
    """No dither: soxr's int16 output would differ run to run."""
    quiet = (np.random.default_rng(3).standard_normal(4000) * 3).astype(np.int16)
    assert np.array_equal(rs.resample(quiet, 8000, 24000), rs.resample(quiet, 8000, 24000))
    a, b = rs.StreamResampler(8000, 16000), rs.StreamResampler(8000, 16000)
    assert np.array_equal(a.process(quiet, last=True), b.process(quiet, last=True))


def test_streaming_in_20ms_chunks_gives_the_one_shot_result():
    signal = tone(8000, 1.0)
    stream = rs.StreamResampler(8000, 16000)
    pieces = [stream.process(signal[i : i + 160]) for i in range(0, signal.size, 160)]
    pieces.append(stream.process(np.zeros(0, np.int16), last=True))
    streamed = np.concatenate(pieces)
    assert streamed.size == 16000
    one_shot = rs.resample(signal, 8000, 16000)
    assert np.max(np.abs(streamed[400:-400].astype(int) - one_shot[400:-400])) <= 2


def test_bytes_api_equals_array_api_and_equal_rates_pass_through():
    signal = tone(16000, 0.2)
    assert rs.resample_bytes(signal.tobytes(), 16000, 8000) == rs.resample(signal, 16000, 8000).tobytes()
    a, b = rs.StreamResampler(16000, 8000), rs.StreamResampler(16000, 8000)
    assert a.process_bytes(signal.tobytes()) == b.process(signal).tobytes()
    same = rs.StreamResampler(8000, 8000)
    assert same.process_bytes(b"\x01\x02") == b"\x01\x02"


def test_loud_input_is_clipped_not_wrapped():
    square = np.tile(np.array([32767] * 20 + [-32768] * 20, np.int16), 100)
    out = rs.resample(square, 8000, 16000)
    assert out.max() == 32767 and out.min() == -32768  # overshoot clipped, never wrapped around
