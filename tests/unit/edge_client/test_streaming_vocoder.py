"""Streaming the vocoder chunk by chunk sounds like decoding the whole segment at once."""

from __future__ import annotations

import numpy as np
import pytest

from edge_client.vocoder import AudioChunk, StreamingConfig, Vocoder, segment_noise

TOKENS = 150


@pytest.fixture(scope="module")
def vocoder(fixture_bundle):
    return Vocoder.load(fixture_bundle)


@pytest.fixture(scope="module")
def segment(fixture_bundle):
    rng = np.random.default_rng(3)
    ge = (rng.standard_normal(fixture_bundle.manifest.sovits["gin_channels"]) * 0.5).astype(np.float32)
    return rng.integers(0, 1024, TOKENS), rng.integers(0, 732, 70), ge


def stream_in_chunks(vocoder, segment, sizes, noise_scale=0.0, speed=1.0, config=None, streams=None):
    tokens, phones, ge = segment
    stream = vocoder.stream(phones, ge, noise_scale=noise_scale, seed=9, speed=speed, config=config)
    if streams is not None:
        streams.append(stream)
    pieces, i, k = [], 0, 0
    while i < len(tokens):
        n = sizes[k % len(sizes)]
        pieces.append(stream.push(tokens[i : i + n]))
        i, k = i + n, k + 1
    pieces.append(stream.finish())
    return pieces


@pytest.mark.parametrize("sizes", [[1], [8], [25], [3, 17, 1, 25, 8, 40]], ids=["1", "8", "25", "mix"])
def test_streamed_audio_matches_the_offline_decode(vocoder, segment, sizes):
    tokens, phones, ge = segment
    offline = vocoder.decode(tokens, phones, ge, noise_scale=0.0)
    pieces = stream_in_chunks(vocoder, segment, sizes)
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(offline) == TOKENS * 1280
    snr = 10 * np.log10(np.mean(offline**2) / np.mean((streamed - offline) ** 2))
    assert snr >= 20, f"SNR {snr:.1f} dB"
    # joins: no step across a chunk boundary larger than the largest step anywhere in the offline audio
    steps = np.abs(np.diff(streamed))
    joins = [p for p in np.cumsum([len(x) for x in pieces])[:-1] if 0 < p < len(streamed)]
    assert joins, "the stream never emitted before the end"
    assert max(steps[p - 1] for p in joins) <= np.abs(np.diff(offline)).max()


def magnitudes(audio: np.ndarray, size: int = 1024, hop: int = 256) -> np.ndarray:
    """STFT magnitudes (Hann window): insensitive to the sub-frame shifts a re-timed rendering has."""
    frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::hop]
    return np.abs(np.fft.rfft(frames * np.hanning(size), axis=1))


@pytest.mark.parametrize("speed", [0.8, 1.25, 1.6])
@pytest.mark.parametrize("sizes", [[8, 25], [3, 17, 1, 25, 8, 40]], ids=["8-25", "mix"])
def test_streaming_at_another_speed_matches_the_offline_decode(vocoder, segment, sizes, speed):
    tokens, phones, ge = segment
    offline = vocoder.decode(tokens, phones, ge, noise_scale=0.0, speed=speed)
    pieces = stream_in_chunks(vocoder, segment, sizes, speed=speed)
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(offline) == (int(2 * TOKENS / speed) + 1) * 640
    assert abs(len(offline) / (TOKENS * 1280) - 1 / speed) < 0.01  # the speed took effect
    # Each window stretches its own latent on its own grid, so the stream is a slightly different
    # rendering rather than the offline samples (docs/bundle.md): compared as spectra, not sample by sample.
    reference, candidate = magnitudes(offline), magnitudes(streamed)
    snr = 10 * np.log10(np.sum(reference**2) / np.sum((candidate - reference) ** 2))
    assert snr >= 15, f"spectral SNR {snr:.1f} dB"
    steps = np.abs(np.diff(streamed))
    joins = [p for p in np.cumsum([len(x) for x in pieces])[:-1] if 0 < p < len(streamed)]
    assert joins and max(steps[p - 1] for p in joins) <= np.abs(np.diff(offline)).max()


@pytest.mark.parametrize("speed", [1.0, 1.25])
def test_windows_synthesise_only_new_audio_plus_margins(vocoder, segment, speed):
    """The generator (the costly part) re-synthesises a few tokens per window, not the left context."""
    tokens, phones, ge = segment
    config = StreamingConfig()
    streams = []
    streamed = np.concatenate(stream_in_chunks(vocoder, segment, [8, 25], speed=speed, streams=streams))
    (stream,) = streams
    assert vocoder.crops
    overhead = config.margin_tokens + stream.holdback
    assert stream.tokens_synthesised <= TOKENS + stream.windows_decoded * overhead
    assert stream.tokens_encoded > stream.tokens_synthesised  # the encoder still sees its left context
    offline = vocoder.decode(tokens, phones, ge, noise_scale=0.0, speed=speed)
    assert len(streamed) == len(offline)
    if speed == 1:
        snr = 10 * np.log10(np.mean(offline**2) / np.mean((streamed - offline) ** 2))
        assert snr >= 20, f"SNR {snr:.1f} dB"


def test_bucketed_windows_use_few_shapes_and_match_offline(vocoder, segment):
    """With shape buckets every window's generator length is a multiple of the bucket (GPU: no new shapes)."""
    tokens, phones, ge = segment
    shapes = []

    class Recorder(Vocoder):
        def _run(self, feeds):
            begin, _ = feeds["dec_frames"]
            shapes.append((feeds["codes"].shape[1], feeds["codes"].shape[1] - int(begin) // 2))
            return super()._run(feeds)

    bucketed = Recorder(vocoder.session, vocoder.sample_rate, vocoder.samples_per_token, vocoder.latent_channels)
    config = StreamingConfig(bucket_tokens=16)
    streamed = np.concatenate(stream_in_chunks(bucketed, segment, [8, 25], config=config))
    offline = vocoder.decode(tokens, phones, ge, noise_scale=0.0)
    assert len(streamed) == len(offline)
    snr = 10 * np.log10(np.mean(offline**2) / np.mean((streamed - offline) ** 2))
    assert snr >= 20, f"SNR {snr:.1f} dB"
    # past the segment's start (where fewer tokens exist than a bucket) both lengths are whole buckets
    later = [(encoded, synthesised) for encoded, synthesised in shapes if encoded >= 48]
    assert later and all(e % 16 == 0 and s % 16 == 0 for e, s in later)


def test_warm_up_runs_the_bucket_shapes(vocoder):
    config = StreamingConfig(bucket_tokens=16)
    assert vocoder.warm_up(config, max_tokens=48) == 3
    assert not vocoder.on_gpu and vocoder.gin == vocoder.session.get_inputs()[2].shape[1]


def test_first_audio_comes_before_the_segment_ends(vocoder, segment):
    pieces = stream_in_chunks(vocoder, segment, [8])
    first = next(i for i, p in enumerate(pieces) if len(p))
    assert first <= 2  # after at most 24 tokens of a 150-token segment


def test_noise_is_a_function_of_the_absolute_frame():
    whole = segment_noise(5, 0, 700, 4)
    assert np.array_equal(segment_noise(5, 300, 100, 4), whole[:, :, 300:400])
    assert not np.array_equal(segment_noise(6, 0, 700, 4), whole)


def test_streaming_with_noise_keeps_the_offline_noise(vocoder, segment):
    tokens, phones, ge = segment
    offline = vocoder.decode(tokens, phones, ge, noise_scale=0.5, seed=9)
    streamed = np.concatenate(stream_in_chunks(vocoder, segment, [25], noise_scale=0.5))
    snr = 10 * np.log10(np.mean(offline**2) / np.mean((streamed - offline) ** 2))
    assert snr >= 15, f"SNR {snr:.1f} dB"


def test_no_tokens_means_no_audio(vocoder, segment):
    _, phones, ge = segment
    assert len(vocoder.decode(np.zeros(0, np.int64), phones, ge)) == 0
    stream = vocoder.stream(phones, ge)
    assert len(stream.finish()) == 0


def test_audio_chunk_pcm16():
    chunk = AudioChunk(np.array([0.0, 1.0, -1.0, 2.0], np.float32))
    assert np.frombuffer(chunk.pcm16, "<i2").tolist() == [0, 32767, -32767, 32767]
    assert chunk.seconds == 4 / 32000
