"""The T2S reimplementation against reference outputs of upstream's own code on the same file."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from exporter.checkpoint_io import read_checkpoint
from exporter.t2s import generate, load_t2s, teacher_forced_logits
from exporter.t2s.generate import apply_repetition_penalty
from relaytts.sampling import SamplingParams, StopReason

TOL = 1e-4


@pytest.fixture(scope="module")
def t2s(upstream_dir):
    return load_t2s(upstream_dir / "gpt_v2.ckpt")


@pytest.fixture(scope="module")
def inputs(reference):
    phones = torch.from_numpy(reference["t2s_phones"])[None]
    bert = torch.from_numpy(reference["t2s_bert"])[None]
    prompt = torch.from_numpy(reference["t2s_prompt"])[None]
    return phones, bert, prompt


def max_diff(a: torch.Tensor, b: np.ndarray) -> float:
    assert tuple(a.shape) == b.shape
    return float((a.detach().float() - torch.from_numpy(b)).abs().max())


def test_config_comes_from_the_checkpoint(t2s, upstream_dir):
    stored = read_checkpoint(upstream_dir / "gpt_v2.ckpt").config["model"]
    cfg = t2s.config
    assert (cfg.hidden_dim, cfg.num_heads, cfg.num_layers) == (stored["hidden_dim"], stored["head"], stored["n_layer"])
    assert cfg.ffn_dim == 4 * stored["hidden_dim"]  # upstream hard-wires the FFN width; linear_units is not read
    assert all(p.dtype == torch.float32 for p in t2s.parameters())


def test_embeddings_match(t2s, inputs, reference):
    phones, bert, prompt = inputs
    xy = torch.cat((t2s.embed_text(phones, bert), t2s.embed_audio(prompt)), dim=1)[0]
    assert max_diff(xy, reference["t2s_xy_pos"]) < TOL


def test_prefill_logits_match(t2s, inputs, reference):
    logits, k_cache, v_cache = t2s.prefill(*inputs)
    assert max_diff(logits[0], reference["t2s_prefill_logits"]) < TOL
    seq = inputs[0].shape[1] + inputs[2].shape[1]
    cfg = t2s.config
    assert k_cache.shape == v_cache.shape == (cfg.num_layers, 1, seq, cfg.hidden_dim)


def test_teacher_forced_kv_cache_logits_match(t2s, inputs, reference):
    teacher = torch.from_numpy(reference["t2s_teacher_tokens"])
    assert max_diff(teacher_forced_logits(t2s, *inputs, teacher), reference["t2s_teacher_logits"]) < TOL


def test_greedy_decode_is_upstreams(t2s, inputs, reference):
    params = SamplingParams(top_k=1, early_stop=int(reference["t2s_greedy_early_stop_num"][0]))
    run = generate(t2s, *inputs, params, return_logits=True)
    np.testing.assert_array_equal(run.tokens.numpy(), reference["t2s_greedy_tokens"])
    np.testing.assert_array_equal(run.upstream_caller_tokens.numpy(), reference["t2s_greedy_caller_tokens"])
    assert run.upstream_idx == int(reference["t2s_greedy_idx"][0])
    assert (run.stop_reason is StopReason.EOS) == bool(reference["t2s_greedy_hit_eos"][0])
    assert max_diff(torch.stack(run.raw_logits), reference["t2s_greedy_logits"]) < TOL


def test_repetition_penalty_matches_upstream_rows(t2s, inputs, reference):
    """Penalised rows (what the stop test sees) follow from raw rows + the ids seen so far."""
    prompt = inputs[2]
    tokens = torch.from_numpy(reference["t2s_greedy_tokens"])
    raw = torch.from_numpy(reference["t2s_greedy_logits"])
    for step in range(raw.shape[0]):
        history = torch.cat((prompt[0], tokens[:step]))[None]
        penalised = apply_repetition_penalty(raw[step : step + 1], history, 1.35)[0]
        # column 1024 (EOS) is never among the history ids, so it stays raw in both
        assert max_diff(penalised, reference["t2s_greedy_penalized_logits"][step]) < TOL


def test_early_stop_keeps_every_token_and_reports_upstreams_slice(t2s, inputs, reference):
    # The limit must end the run before the greedy EOS (wherever this fixture set puts it).
    early = min(15, len(reference["t2s_greedy_tokens"]) - 2)
    run = generate(t2s, *inputs, SamplingParams(top_k=1, early_stop=early))
    assert run.stop_reason is StopReason.EARLY_STOP
    assert len(run.tokens) == early + 1 and run.upstream_idx == early
    # upstream's caller slice silently loses the first token; ours keeps it
    assert torch.equal(run.upstream_caller_tokens, run.tokens[1:])


def test_max_tokens_ends_cleanly(t2s, inputs):
    run = generate(t2s, *inputs, SamplingParams(top_k=1, max_new_tokens=5))
    assert run.stop_reason is StopReason.MAX_TOKENS and len(run.tokens) == 5


def test_sampled_decode_is_reproducible_with_a_seed(t2s, inputs):
    params = SamplingParams(top_k=15, top_p=0.9, temperature=0.8, seed=1234, max_new_tokens=30)
    first = generate(t2s, *inputs, params)
    again = generate(t2s, *inputs, params)
    other = generate(t2s, *inputs, SamplingParams(top_k=15, top_p=0.9, temperature=0.8, seed=99, max_new_tokens=30))
    assert torch.equal(first.tokens, again.tokens)
    assert not torch.equal(first.tokens, other.tokens)


def test_eos_is_never_chosen_in_the_first_eleven_steps(t2s, inputs):
    """Even a model that loves EOS must give at least 11 tokens."""
    model = copy.deepcopy(t2s)  # the module-scoped fixture model stays untouched
    with torch.no_grad():
        model.ar_predict_layer.weight[model.config.eos] = model.ar_predict_layer.weight.abs().sum(0) * 10
    run = generate(model, *inputs, SamplingParams(top_k=1))
    assert run.stop_reason is StopReason.EOS
    assert len(run.tokens) == 11
