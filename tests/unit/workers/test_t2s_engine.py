"""The ORT T2S engine: upstream's tokens, seeded reproducibility, cancellation, limits, chunking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from exporter.t2s.generate import sample_token
from relaytts.sampling import SamplingParams, StopReason
from workers.sampling import sample
from workers.t2s import ChunkPolicy, T2SEngine


@pytest.fixture(scope="module")
def engine(fixture_bundle):
    return T2SEngine.load(fixture_bundle)


@pytest.fixture(scope="module")
def inputs(reference):
    return reference["t2s_phones"], reference["t2s_bert"], reference["t2s_prompt"]


def test_greedy_decode_gives_upstreams_tokens(engine, inputs, reference):
    params = SamplingParams(top_k=1, early_stop=int(reference["t2s_greedy_early_stop_num"][0]))
    result = engine.generate(*inputs, params)
    np.testing.assert_array_equal(result.tokens, reference["t2s_greedy_tokens"])
    assert (result.stop_reason is StopReason.EOS) == bool(reference["t2s_greedy_hit_eos"][0])


def test_greedy_decode_matches_the_pytorch_reference_on_other_inputs(engine, upstream_dir):
    from exporter.t2s import generate, load_t2s

    model = load_t2s(upstream_dir / "gpt_v2.ckpt")
    rng = np.random.default_rng(5)
    phones = rng.integers(0, 732, 33)
    bert = rng.standard_normal((1024, 33)).astype(np.float32) * 0.3
    prompt = rng.integers(0, 1024, 21)
    params = SamplingParams(top_k=1, max_new_tokens=120)
    expected = generate(model, torch.from_numpy(phones)[None], torch.from_numpy(bert)[None],
                        torch.from_numpy(prompt)[None], params)
    got = engine.generate(phones, bert, prompt, params)
    np.testing.assert_array_equal(got.tokens, expected.tokens.numpy())
    assert got.stop_reason == expected.stop_reason


def test_seeded_sampling_is_identical_run_to_run(engine, inputs):
    params = SamplingParams(top_k=15, top_p=0.9, temperature=0.9, seed=11, max_new_tokens=80)
    first, again = engine.generate(*inputs, params), engine.generate(*inputs, params)
    other = engine.generate(*inputs, SamplingParams(top_k=15, top_p=0.9, temperature=0.9, seed=12, max_new_tokens=80))
    np.testing.assert_array_equal(first.tokens, again.tokens)
    assert not np.array_equal(first.tokens, other.tokens)


def test_cancel_stops_within_one_step(engine, inputs):
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 5

    result = engine.generate(*inputs, SamplingParams(top_k=1), cancelled=cancelled)
    assert result.stop_reason is StopReason.CANCELLED
    assert len(result.tokens) == 5


def test_max_tokens_ends_cleanly_with_a_reason(engine, inputs):
    result = engine.generate(*inputs, SamplingParams(top_k=1, max_new_tokens=7))
    assert result.stop_reason is StopReason.MAX_TOKENS and len(result.tokens) == 7


def test_chunks_are_small_first_then_large_and_lose_nothing(engine, inputs, reference):
    params = SamplingParams(top_k=1, early_stop=int(reference["t2s_greedy_early_stop_num"][0]))
    chunks = list(engine.stream(*inputs, params, ChunkPolicy(first_tokens=3, tokens=10)))
    sizes = [len(c.tokens) for c in chunks]
    assert sizes[0] == 3 and all(s == 10 for s in sizes[1:-1]) and sizes[-1] <= 10
    assert [c.final for c in chunks] == [False] * (len(chunks) - 1) + [True]
    expected = StopReason.EOS if reference["t2s_greedy_hit_eos"][0] else StopReason.EARLY_STOP
    assert chunks[-1].stop_reason is expected
    whole = engine.generate(*inputs, params).tokens
    np.testing.assert_array_equal(np.concatenate([c.tokens for c in chunks]), whole)


@pytest.mark.parametrize("top_k,top_p,temperature", [(5, 1.0, 1.0), (50, 0.7, 1.0), (8, 0.9, 0.6), (3, 0.5, 2.0)])
def test_numpy_sampler_draws_like_the_pytorch_reference(top_k, top_p, temperature):
    """Same support and the same frequencies (within sampling noise) as upstream's torch order of operations."""
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal(64) * 2).astype(np.float32)
    seen = rng.integers(0, 64, 12)
    params = SamplingParams(top_k=top_k, top_p=top_p, temperature=temperature, repetition_penalty=1.35)
    draws = 3000
    ours = np.bincount([sample(logits, seen, params, np.random.default_rng(i)).token for i in range(draws)],
                       minlength=64)
    gen = torch.Generator().manual_seed(0)
    theirs = np.bincount([int(sample_token(torch.from_numpy(logits)[None], torch.from_numpy(seen)[None], params,
                                           gen)[0]) for _ in range(draws)], minlength=64)
    assert np.abs(ours / draws - theirs / draws).max() < 0.05
    allowed = np.flatnonzero(theirs)
    assert set(np.flatnonzero(ours)) <= set(allowed)


@pytest.mark.slow
def test_full_size_greedy_decode_equals_the_pytorch_reference(full_size):
    from exporter.t2s import generate, load_t2s

    gpt, _, bundle = full_size
    model = load_t2s(gpt)
    rng = np.random.default_rng(8)
    phones, prompt = rng.integers(0, 732, 40), rng.integers(0, 1024, 30)
    bert = (rng.standard_normal((1024, 40)) * 0.3).astype(np.float32)
    params = SamplingParams(top_k=1, max_new_tokens=100)
    expected = generate(model, torch.from_numpy(phones)[None], torch.from_numpy(bert)[None],
                        torch.from_numpy(prompt)[None], params)
    got = T2SEngine.load(bundle).generate(phones, bert, prompt, params)
    np.testing.assert_array_equal(got.tokens, expected.tokens.numpy())
    assert got.stop_reason == expected.stop_reason
