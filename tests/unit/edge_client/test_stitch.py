"""The chunk assembler: seq dedupe, epochs, segments, style vectors, gaps (hand-made chunks, fake vocoder)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_client.stitch import ChunkAssembler, PlaybackStats, StyleCache
from edge_client.vocoder import StreamingConfig, Vocoder
from protos import relaytts_v1_pb2 as pb
from relaytts.errors import RelayError
from relaytts.local import SEGMENT_GAP_SECONDS

RATE = 1000
SPT = 4  # samples per token
GE = np.arange(8, dtype=np.float32) / 8
OTHER_GE = -GE


class FakeVocoder(Vocoder):
    """Deterministic, context-dependent stand-in for the vocoder graph; records each segment stream it starts.

    A token's samples depend on the token before it *in the window*, on phones, ge, seed and noise scale,
    so the output of a stream depends on how it was windowed, like the real graph's.
    """

    def __init__(self) -> None:
        super().__init__(session=None, sample_rate=RATE, samples_per_token=SPT, latent_channels=1)
        self.streams: list[dict] = []

    def stream(self, phones, ge, noise_scale=0.5, seed=0, config=None, speed=1.0):
        self.streams.append(
            {
                "phones": list(phones),
                "ge": np.asarray(ge).copy(),
                "noise_scale": noise_scale,
                "seed": seed,
                "speed": speed,
            }
        )
        return super().stream(phones, ge, noise_scale, seed, config, speed)

    def decode_window(self, tokens, phones, ge, start_token, noise_scale, seed, speed=1.0, skip_tokens=0):
        tokens = np.asarray(tokens, np.float64)
        previous = np.concatenate(([-1.0], tokens[:-1]))
        base = tokens * 1e-3 + previous * 1e-6 + np.sum(phones) * 1e-7 + float(np.sum(ge)) * 1e-4
        base = base + seed * 1e-5 + noise_scale * 1e-2 + (start_token % 7) * 1e-8
        ramp = np.arange(SPT) * 1e-9
        wav = (base[:, None] + ramp[None, :]).reshape(-1).astype(np.float32)
        return wav[self.window_frame(skip_tokens, speed) * (SPT // 2) :]


def make_job(
    segments,
    *,
    job_id="job1",
    seed=100,
    noise_scale=0.5,
    epoch=1,
    first_seq=1,
    first_segment=0,
    voice_hash="v1",
    ge=GE,
    send_ge=True,
    sizes=(8, 25),
    final=True,
    status=pb.JOB_STATUS_DONE,
):
    """Chunks the way docs/protocol.md §2.5 says a worker writes them (first chunk small, then 25)."""
    chunks, seq = [], first_seq
    for index in range(first_segment, len(segments)):
        tokens, phones = segments[index]
        pieces, i, k = [], 0, 0
        while i < len(tokens) or not pieces:
            n = sizes[min(k, len(sizes) - 1)]
            pieces.append(tokens[i : i + n])
            i, k = i + n, k + 1
        for j, piece in enumerate(pieces):
            c = pb.LatentChunk(job_id=job_id, seq=seq, epoch=epoch, segment_index=index, tokens=piece)
            if j == 0:
                c.phones.extend(phones)
                c.noise_seed = seed + index
                c.noise_scale = noise_scale
            if not chunks:
                c.voice_hash = voice_hash
                c.segment_count = len(segments)
                if send_ge:
                    c.ge = np.asarray(ge, "<f4").tobytes()
            c.segment_final = j == len(pieces) - 1
            chunks.append(c)
            seq += 1
    if final:
        chunks.append(
            pb.LatentChunk(
                job_id=job_id, seq=seq, epoch=epoch, final=True, status=status, stop_reason=pb.STOP_REASON_EOS
            )
        )
    return chunks


def segments_of(lengths, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    return [(list(rng.integers(0, 1024, n)), list(rng.integers(1, 732, 5 + n // 4))) for n in lengths]


def play(assembler, chunks):
    out = []
    for c in chunks:
        out.extend(a.samples for a in assembler.feed(c))
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def reference(segments, *, seed=100, noise_scale=0.5, ge=GE, sizes=(8, 25)):
    """What the job must sound like: each segment streamed straight into the vocoder, gaps between."""
    vocoder, parts = FakeVocoder(), []
    gap = np.zeros(int(round(SEGMENT_GAP_SECONDS * RATE)), np.float32)
    for index, (tokens, phones) in enumerate(segments):
        if index:
            parts.append(gap)
        stream = vocoder.stream(phones, ge, noise_scale, seed + index)
        i, k = 0, 0
        while i < len(tokens):
            n = sizes[min(k, len(sizes) - 1)]
            parts.append(stream.push(np.asarray(tokens[i : i + n])))
            i, k = i + n, k + 1
        parts.append(stream.finish())
    return np.concatenate(parts)


SEGMENTS = segments_of([70, 33, 12])


def test_in_order_chunks_play_the_segments_with_gaps():
    assembler = ChunkAssembler(FakeVocoder())
    audio = play(assembler, make_job(SEGMENTS))
    expected = reference(SEGMENTS)
    assert np.array_equal(audio, expected)
    gap = int(SEGMENT_GAP_SECONDS * RATE)
    assert len(audio) == sum(len(t) for t, _ in SEGMENTS) * SPT + 2 * gap
    assert assembler.done and assembler.status == pb.JOB_STATUS_DONE and assembler.stop_reason == pb.STOP_REASON_EOS
    assert assembler.job_id == "job1" and assembler.segment_count == 3 and assembler.dropped == 0


def test_gaps_are_silence_between_segments_only():
    assembler = ChunkAssembler(FakeVocoder())
    pieces = [a.samples for c in make_job(SEGMENTS) for a in assembler.feed(c)]
    gap = int(round(SEGMENT_GAP_SECONDS * RATE))
    gaps = [i for i, p in enumerate(pieces) if len(p) == gap and not p.any()]
    assert len(gaps) == 2
    assert 0 < gaps[0] < gaps[1] < len(pieces) - 1  # never first, never last
    assert pieces[0].any()


def test_each_segment_is_vocoded_with_the_phones_ge_seed_and_noise_scale_of_its_chunks():
    vocoder = FakeVocoder()
    assembler = ChunkAssembler(vocoder)
    chunks = make_job(SEGMENTS, seed=4242, noise_scale=0.35)
    play(assembler, chunks)
    firsts = [c for c in chunks if c.phones]
    assert len(vocoder.streams) == len(firsts) == 3
    for got, c in zip(vocoder.streams, firsts, strict=True):
        assert got["phones"] == list(c.phones)
        assert got["seed"] == c.noise_seed == 4242 + c.segment_index
        assert got["noise_scale"] == pytest.approx(c.noise_scale) == pytest.approx(0.35)
        assert np.array_equal(got["ge"], GE)


def test_duplicate_chunks_are_dropped():
    chunks = make_job(SEGMENTS)
    assembler = ChunkAssembler(FakeVocoder())
    doubled = [c for c in chunks for _ in range(2)]
    assert np.array_equal(play(assembler, doubled), reference(SEGMENTS))
    assert assembler.dropped == len(chunks)


def test_a_resume_overlap_plays_nothing_twice():
    chunks = make_job(SEGMENTS)
    assembler = ChunkAssembler(FakeVocoder())
    first = play(assembler, chunks[:5])
    assert assembler.last_seq == 5
    rest = play(assembler, chunks[2:])  # the gateway replays from an older cursor
    assert np.array_equal(np.concatenate((first, rest)), reference(SEGMENTS))
    assert assembler.dropped == 3


@pytest.mark.parametrize(
    "crash_after",
    [1, 2, 3, 4, 5, 6],
    ids=["seg0-first", "seg0-mid", "seg0-late", "seg0-done", "seg1-first", "seg1-done"],
)
def test_an_epoch_restart_with_the_same_tokens_sounds_like_no_crash(crash_after):
    chunks = make_job(SEGMENTS)
    assert [(c.segment_index, c.segment_final) for c in chunks[:6]] == [
        (0, False),
        (0, False),
        (0, False),
        (0, True),
        (1, False),
        (1, True),
    ]
    # the worker died after `crash_after` chunks; the redelivered task redoes the unfinished segment (epoch 2)
    done_segment = max((c.segment_index for c in chunks[:crash_after] if c.segment_final), default=-1)
    redo = make_job(SEGMENTS, epoch=2, first_seq=crash_after + 1, first_segment=done_segment + 1)
    assembler = ChunkAssembler(FakeVocoder())
    audio = play(assembler, chunks[:crash_after] + redo)
    assert np.array_equal(audio, reference(SEGMENTS))
    assert assembler.restarts == (0 if chunks[crash_after - 1].segment_final else 1)


def test_an_epoch_restart_with_other_tokens_skips_what_was_played_and_completes():
    segments = segments_of([60])
    crashed = make_job(segments)[:2]  # 8 + 25 tokens of 60 decoded under epoch 1
    assembler = ChunkAssembler(FakeVocoder())
    before = play(assembler, crashed)
    other = segments_of([75], rng_seed=9)
    redo = make_job([(other[0][0], segments[0][1])], epoch=2, first_seq=3)
    after = play(assembler, redo)
    # nothing played twice: the new epoch's audio continues at the sample where the old one stopped
    assert len(before) + len(after) == 75 * SPT
    full_new = reference([(other[0][0], segments[0][1])])
    assert np.array_equal(after, full_new[len(before) :])


def test_chunks_of_a_superseded_epoch_are_dropped():
    chunks = make_job(SEGMENTS)
    redo = make_job(SEGMENTS, epoch=2, first_seq=3)
    stale = pb.LatentChunk(job_id="job1", seq=redo[2].seq + 100, epoch=1, segment_index=0, tokens=[1, 2, 3])
    assembler = ChunkAssembler(FakeVocoder())
    audio = play(assembler, chunks[:2] + redo[:2] + [stale])
    stale_free = ChunkAssembler(FakeVocoder())
    assert np.array_equal(audio, play(stale_free, chunks[:2] + redo[:2]))
    assert assembler.dropped == 1


def test_a_finished_segment_is_never_replayed():
    chunks = make_job(SEGMENTS)
    # a misbehaving redelivery that redoes segment 0, already finished
    redo = make_job(SEGMENTS, epoch=2, first_seq=len(chunks))
    assembler = ChunkAssembler(FakeVocoder())
    audio = play(assembler, chunks[:-1] + redo)
    assert np.array_equal(audio, reference(SEGMENTS))


def test_the_final_chunk_flushes_an_unfinished_segment_and_records_the_outcome():
    chunks = make_job(segments_of([40]), final=False)[:-1]  # segment never said segment_final
    final = pb.LatentChunk(
        job_id="job1", seq=chunks[-1].seq + 1, epoch=1, final=True, status=pb.JOB_STATUS_FAILED, error="worker exploded"
    )
    assembler = ChunkAssembler(FakeVocoder())
    audio = play(assembler, [*chunks, final])
    assert len(audio) == 33 * SPT  # everything received, the held-back tail included
    assert assembler.done and assembler.status == pb.JOB_STATUS_FAILED and assembler.error == "worker exploded"
    assert play(assembler, [pb.LatentChunk(job_id="job1", seq=final.seq + 1, tokens=[1])]).size == 0


def test_style_vectors_are_cached_by_hash_and_announced():
    styles = StyleCache()
    first = ChunkAssembler(FakeVocoder(), styles)
    assert first.announced_voice_hashes == []
    play(first, make_job(SEGMENTS))
    assert "v1" in styles
    second = ChunkAssembler(FakeVocoder(), styles)
    assert second.announced_voice_hashes == ["v1"]
    audio = play(second, make_job(SEGMENTS, job_id="job2", send_ge=False))
    assert np.array_equal(audio, reference(SEGMENTS))


def test_a_style_vector_the_client_does_not_hold_is_an_error():
    assembler = ChunkAssembler(FakeVocoder(), StyleCache())
    with pytest.raises(RelayError, match="v1 without its style vector"):
        play(assembler, make_job(SEGMENTS, send_ge=False))


def test_an_announced_style_vector_stays_pinned_when_the_cache_evicts_it():
    styles = StyleCache(max_entries=1)
    styles.put("v1", GE)
    assembler = ChunkAssembler(FakeVocoder(), styles)
    styles.put("other", OTHER_GE)  # a concurrent job evicts v1
    assert "v1" not in styles and len(styles) == 1
    assert np.array_equal(play(assembler, make_job(SEGMENTS, send_ge=False)), reference(SEGMENTS))


def test_the_style_cache_is_a_bounded_lru():
    styles = StyleCache(max_entries=2)
    styles.put("a", GE)
    styles.put("b", GE)
    assert styles.get("a") is not None  # a is now the most recent
    styles.put("c", GE)
    assert sorted(styles.snapshot()) == ["a", "c"]
    with pytest.raises(ValueError):
        StyleCache(-1)


def test_a_new_epoch_may_carry_a_new_style_vector():
    chunks = make_job(segments_of([60]))[:2]
    redo = make_job(segments_of([60]), epoch=2, first_seq=3, voice_hash="v2", ge=OTHER_GE)
    vocoder = FakeVocoder()
    play(ChunkAssembler(vocoder), chunks + redo)
    assert np.array_equal(vocoder.streams[-1]["ge"], OTHER_GE)


def test_a_segment_without_phones_is_a_protocol_error():
    chunks = make_job(SEGMENTS)
    del chunks[0].phones[:]
    with pytest.raises(RelayError, match="without phones"):
        play(ChunkAssembler(FakeVocoder()), chunks)


def test_the_streaming_config_is_passed_through():
    config = StreamingConfig(left_context_tokens=4, holdback_tokens=2, min_new_tokens=1)
    assembler = ChunkAssembler(FakeVocoder(), config=config)
    play(assembler, make_job(SEGMENTS))
    assert assembler._segment.stream.config is config


def test_playback_stats_for_a_file_sink_count_no_underruns():
    stats = PlaybackStats(live=False, started_at=10.0)
    stats.on_audio(10.2, 0.5)
    stats.on_audio(11.5, 0.5)  # would be late for a live player
    assert stats.underruns == 0
    assert stats.time_to_first_audio == pytest.approx(0.2)
    assert stats.real_time_factor == pytest.approx(1.5 / 1.0)


def test_playback_stats_for_a_live_sink_count_late_audio_as_underruns():
    stats = PlaybackStats(live=True, started_at=0.0)
    stats.on_audio(0.1, 1.0)  # plays until 1.1
    stats.on_audio(0.9, 1.0)  # in time: plays until 2.1
    stats.on_audio(2.5, 0.5)  # late: the listener heard 0.4 s of nothing
    stats.on_audio(2.9, 0.5)  # in time after the restart: plays until 3.5
    stats.on_audio(3.6, 0.1)  # late again
    assert stats.underruns == 2
    assert stats.audio_seconds == pytest.approx(3.1)


def test_playback_stats_leave_the_consumers_time_out_of_the_real_time_factor():
    stats = PlaybackStats(started_at=0.0)
    stats.on_audio(1.0, 2.0)
    stats.on_consumer(2.0)  # the consumer held the first chunk for 2 s
    stats.on_audio(3.5, 2.0)
    stats.on_consumer(5.0)  # after the last audio: not part of producing it
    assert stats.real_time_factor == pytest.approx((3.5 - 2.0) / 4.0)
