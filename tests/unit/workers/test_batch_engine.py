"""The batched T2S engine: a request's tokens are the same alone or as one row of 32 (same seed).

The sequential engine (``T2SEngine``, batch-1 calls) is the reference: each request is decoded
alone, then all of them together through ``BatchedT2S``, joining at different steps and with mixed
prompt lengths and sampling values, and every row must give exactly the same tokens, chunks and
stop reason. Batched arithmetic moves logits by rounding only (< 1e-4, checked at export); the cases
here have no near-ties at that scale, so equality is the right assert.
"""

from __future__ import annotations

import numpy as np
import pytest

from bundle import Bundle
from relaytts.sampling import SamplingParams, StopReason
from workers.batch_engine import BatchedT2S
from workers.decode_row import ChunkPolicy, TokenChunk
from workers.t2s import T2SEngine

POLICY = ChunkPolicy(first_tokens=4, tokens=10)


def requests(bundle: Bundle, count: int, max_tokens: int, seed: int = 0) -> list[tuple]:
    """``count`` requests of mixed lengths and sampling: (phones, bert, prompt, params)."""
    cfg = bundle.manifest.t2s
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        text_len, prompt_len = int(rng.integers(3, 40)), int(rng.integers(0, 30))
        phones = rng.integers(0, cfg["phoneme_vocab_size"], text_len).astype(np.int64)
        bert = (rng.standard_normal((1024, text_len)) * 0.3).astype(np.float32)
        prompt = rng.integers(0, cfg["vocab_size"] - 1, prompt_len).astype(np.int64)
        params = SamplingParams(
            top_k=[1, 5, 15][i % 3],
            top_p=[1.0, 0.9][i % 2],
            temperature=[1.0, 0.8][i % 2],
            seed=100 + i,
            max_new_tokens=int(rng.integers(max_tokens // 2, max_tokens + 1)),
        )
        out.append((phones, bert, prompt, params))
    return out


def solo(engine: T2SEngine, request: tuple) -> list[TokenChunk]:
    phones, bert, prompt, params = request
    return list(engine.stream(phones, bert, prompt, params, POLICY))


def batched(
    engine: BatchedT2S, reqs: list[tuple], join_every: int = 0, cancel: dict[int, int] | None = None
) -> tuple[dict[int, list[TokenChunk]], list[int]]:
    """Decode ``reqs`` together: all at once, or one more joining every ``join_every`` steps.

    ``cancel`` maps a request to the step before which it is cancelled. Returns each request's chunks
    and the batch size of every step.
    """
    out: dict[int, list[TokenChunk]] = {i: [] for i in range(len(reqs))}
    waiting = list(range(len(reqs)))
    sizes, step = [], 0
    while waiting or engine.active:
        while waiting and engine.free_slots and (join_every == 0 or step % join_every == 0 or not engine.active):
            i = waiting.pop(0)
            for e in engine.admit(i, *reqs[i], POLICY):
                out[e.key].append(e.chunk)
            if join_every:
                break
        cancelled = {i for i, at in (cancel or {}).items() if at == step}
        sizes.append(engine.active)
        for e in engine.step(cancelled):
            out[e.key].append(e.chunk)
        step += 1
    return out, sizes


def assert_same(got: list[TokenChunk], want: list[TokenChunk], what: str) -> None:
    assert [c.index for c in got] == [c.index for c in want], what
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a.tokens, b.tokens, err_msg=what)
        assert (a.final, a.stop_reason) == (b.final, b.stop_reason), what


@pytest.fixture(scope="module")
def sequential(fixture_bundle):
    return T2SEngine.load(fixture_bundle)


def test_32_rows_give_each_request_its_solo_tokens(fixture_bundle, sequential):
    reqs = requests(fixture_bundle, 32, max_tokens=60)
    engine = BatchedT2S.load(fixture_bundle, slots=32, capacity=256)
    got, sizes = batched(engine, reqs)
    assert max(sizes) == 32
    for i, request in enumerate(reqs):
        assert_same(got[i], solo(sequential, request), f"request {i}")
    assert engine.free_slots == 32


def test_rows_that_join_and_leave_between_steps_keep_their_tokens(fixture_bundle, sequential):
    reqs = requests(fixture_bundle, 12, max_tokens=50, seed=1)
    engine = BatchedT2S.load(fixture_bundle, slots=5, capacity=256)  # fewer slots than requests: slots are reused
    got, sizes = batched(engine, reqs, join_every=3)
    assert max(sizes) == 5 and len(set(sizes)) > 3  # the batch grew and shrank
    for i, request in enumerate(reqs):
        assert_same(got[i], solo(sequential, request), f"request {i}")


def test_a_cancelled_row_ends_within_one_step_and_leaves_the_others_untouched(fixture_bundle, sequential):
    reqs = requests(fixture_bundle, 6, max_tokens=40, seed=2)
    engine = BatchedT2S.load(fixture_bundle, slots=6, capacity=256)
    got, _ = batched(engine, reqs, cancel={2: 7})
    tokens = np.concatenate([c.tokens for c in got[2]])
    assert got[2][-1].stop_reason is StopReason.CANCELLED and len(tokens) == 7  # steps 0..6 ran, 7 did not
    np.testing.assert_array_equal(tokens, np.concatenate([c.tokens for c in solo(sequential, reqs[2])])[:7])
    for i in (0, 1, 3, 4, 5):
        assert_same(got[i], solo(sequential, reqs[i]), f"request {i}")


def test_fp16_cache_keeps_greedy_tokens_on_the_fixtures(fixture_bundle, sequential, reference):
    inputs = reference["t2s_phones"], reference["t2s_bert"], reference["t2s_prompt"]
    params = SamplingParams(top_k=1, early_stop=int(reference["t2s_greedy_early_stop_num"][0]))
    engine = BatchedT2S.load(fixture_bundle, slots=4, capacity=2048, kv_dtype="fp16")
    reqs = [(*inputs, params)] + [
        r[:3] + (SamplingParams(top_k=1, max_new_tokens=60),) for r in requests(fixture_bundle, 3, 60, seed=3)
    ]
    got, _ = batched(engine, reqs)
    np.testing.assert_array_equal(np.concatenate([c.tokens for c in got[0]]), reference["t2s_greedy_tokens"])
    for i in (1, 2, 3):
        assert_same(got[i], solo(sequential, reqs[i]), f"request {i}")


def test_a_request_longer_than_a_slot_is_refused_clearly(fixture_bundle):
    from relaytts.errors import InvalidArgument

    engine = BatchedT2S.load(fixture_bundle, slots=1, capacity=64)
    phones, bert, prompt, _ = requests(fixture_bundle, 1, 10)[0]
    with pytest.raises(InvalidArgument, match="more than a KV slot holds"):
        engine.admit(0, phones, bert, prompt, SamplingParams(max_new_tokens=200), POLICY)
    assert engine.free_slots == 1


@pytest.mark.slow
def test_full_size_rows_give_each_request_its_solo_tokens(full_size):
    bundle = full_size[2]
    sequential = T2SEngine.load(bundle)
    reqs = requests(bundle, 32, max_tokens=24, seed=4)
    engine = BatchedT2S.load(bundle, slots=32, capacity=128)
    got, sizes = batched(engine, reqs)
    assert max(sizes) == 32
    for i, request in enumerate(reqs):
        assert_same(got[i], solo(sequential, request), f"request {i}")


def test_the_pool_holds_max_batch_slots_unless_the_memory_cap_is_smaller(fixture_bundle):
    from relaytts.errors import InvalidArgument
    from relaytts.settings import load_settings
    from workers.decode_client import pool_slots

    cfg = fixture_bundle.manifest.t2s
    per_slot_mb = 2 * cfg["num_layers"] * 1024 * cfg["hidden_dim"] * 4 / 2**20  # fp32 keys + values, 1024 positions

    def slots(**worker) -> int:
        overrides = {f"worker.{k}": v for k, v in ({"kv_positions": 1024} | worker).items()}
        return pool_slots(load_settings({}, overrides), fixture_bundle.manifest)

    assert slots(max_batch=32) == 32
    assert slots(max_batch=32, kv_memory_mb=int(10 * per_slot_mb)) == 10
    assert slots(max_batch=32, kv_memory_mb=int(10 * per_slot_mb), kv_dtype="fp16") == 20
    assert slots(max_batch=4, kv_memory_mb=int(10 * per_slot_mb)) == 4
    with pytest.raises(InvalidArgument, match="cannot hold one KV slot"):
        slots(kv_positions=200_000, kv_memory_mb=1)
