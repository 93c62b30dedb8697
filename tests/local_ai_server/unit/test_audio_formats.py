"""Audio formats, G.711 mu-law and resampling."""

import warnings

import numpy as np
import pytest
from local_ai_server.speech.audio import (
    StreamResampler,
    chunk_bytes,
    decode,
    encode,
    resample,
)
from realtime_protocol import AudioFormat, AudioFormatError
from voice_common.pcm import ulaw_decode, ulaw_encode


def tone(freq: float, rate: int, seconds: float = 0.5, amplitude: int = 10000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


@pytest.mark.parametrize("wire,expected", [
    ({"type": "audio/pcm", "rate": 8000}, AudioFormat("pcm", 8000)),
    ({"type": "audio/pcm", "rate": 16000}, AudioFormat("pcm", 16000)),
    ({"type": "audio/pcm", "rate": 24000}, AudioFormat("pcm", 24000)),
    ({"type": "audio/pcm"}, AudioFormat("pcm", 24000)),
    ({"type": "audio/pcmu"}, AudioFormat("pcmu", 8000)),
])
def test_supported_formats_parse_and_round_trip(wire, expected):
    fmt = AudioFormat.from_wire(wire)
    assert fmt == expected
    assert AudioFormat.from_wire(fmt.to_wire()) == fmt


@pytest.mark.parametrize("wire", [
    {"type": "audio/pcm", "rate": 44100}, {"type": "audio/pcm", "rate": "8000"}, {"type": "audio/pcmu", "rate": 16000},
    {"type": "audio/opus"}, {"rate": 8000}, "pcm16", None,
])
def test_unsupported_formats_are_refused(wire):
    with pytest.raises(AudioFormatError):
        AudioFormat.from_wire(wire)


def test_ulaw_matches_the_g711_reference():
    samples = np.arange(-32768, 32768, 7, dtype=np.int16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    assert ulaw_encode(samples) == audioop.lin2ulaw(samples.astype("<i2").tobytes(), 2)
    codes = bytes(range(256))
    assert np.array_equal(ulaw_decode(codes), np.frombuffer(audioop.ulaw2lin(codes, 2), dtype="<i2"))


def test_ulaw_round_trip_keeps_a_tone_within_quantisation_error():
    signal = tone(440, 8000)
    back = ulaw_decode(ulaw_encode(signal)).astype(np.int32)
    error = np.abs(back - signal)
    assert np.all(error <= np.maximum(8, np.abs(signal.astype(np.int32)) // 16))


def test_pcm_decode_rejects_half_samples_and_keeps_little_endian():
    fmt = AudioFormat("pcm", 8000)
    assert decode(b"\x01\x00\xff\x7f", fmt).tolist() == [1, 32767]
    with pytest.raises(AudioFormatError):
        decode(b"\x00\x00\x00", fmt)
    assert encode(np.array([1, -1], dtype=np.int16), fmt) == b"\x01\x00\xff\xff"


@pytest.mark.parametrize("src,dst", [(22050, 8000), (22050, 16000), (22050, 24000), (8000, 16000), (24000, 16000)])
def test_resampling_keeps_duration_and_pitch(src, dst):
    signal = tone(440, src, seconds=1.0)
    out = resample(signal, src, dst)
    assert abs(len(out) - dst) <= 2
    spectrum = np.abs(np.fft.rfft(out.astype(np.float32)))
    assert abs(np.argmax(spectrum) * dst / len(out) - 440) < 3


def test_stream_resampler_matches_one_shot_resampling_in_length():
    signal = tone(300, 8000, seconds=1.0)
    stream = StreamResampler(8000, 16000)
    parts = [stream.process(signal[i : i + 160]) for i in range(0, len(signal), 160)]
    parts.append(stream.process(np.zeros(0, dtype=np.int16), last=True))
    assert abs(sum(len(p) for p in parts) - 16000) <= 2


def test_chunks_are_bounded_and_complete():
    data = bytes(range(256)) * 20
    chunks = chunk_bytes(data, 1600)
    assert b"".join(chunks) == data and max(map(len, chunks)) == 1600


def test_resampling_is_deterministic():
    """The same audio must give the same samples every time (soxr's int16 path dithers randomly;
    Whisper's transcript of a quiet turn could change with it)."""
    rng = np.random.default_rng(3)
    signal = (rng.standard_normal(8000) * 3000).astype(np.int16)

    def stream_once() -> np.ndarray:
        stream = StreamResampler(8000, 16000)
        return np.concatenate([stream.process(signal[i : i + 160]) for i in range(0, len(signal), 160)])

    assert np.array_equal(stream_once(), stream_once())
    assert np.array_equal(resample(signal, 8000, 16000), resample(signal, 8000, 16000))
    assert np.array_equal(resample(signal, 22050, 8000), resample(signal, 22050, 8000))


def test_trim_leading_quiet_keeps_ten_ms_before_the_first_sound():
    from local_ai_server.speech.audio import trim_leading_quiet

    rate = 16000
    quiet = np.full(rate // 10, 20, dtype=np.int16)  # 100 ms of near-silence (-64 dBFS)
    sound = np.full(rate // 10, 3000, dtype=np.int16)
    trimmed = trim_leading_quiet(np.concatenate([quiet, sound]), rate)
    assert len(trimmed) == len(sound) + rate // 100
    assert trimmed[rate // 100] == 3000
    assert len(trim_leading_quiet(sound, rate)) == len(sound)  # a piece that starts loud is untouched
    assert len(trim_leading_quiet(quiet, rate)) == 0
