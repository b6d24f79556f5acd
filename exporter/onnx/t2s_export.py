"""Export the T2S graph and measure it against the PyTorch reference."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bundle.t2s_runner import T2SRunner
from exporter.onnx.t2s_graph import T2SGraph, t2s_io_names
from exporter.t2s.model import Text2SemanticDecoder
from relaytts.sampling import EOS_BLOCKED_STEPS

__all__ = ["export_t2s", "greedy_decode", "t2s_batch_parity", "t2s_parity"]

OPSET = 17
#: (text length, prompt length, past length) triples the parity check runs: 1s, typical, and long.
PARITY_SHAPES = [(1, 0, 0), (1, 1, 0), (24, 30, 0), (300, 150, 0), (0, 1, 1), (0, 1, 1100)]
#: Batch sizes the batched-step check runs (1..32, the largest batch a worker is expected to hold).
BATCH_PARITY_SIZES = (1, 2, 3, 8, 32)
#: Longest cache in the batched-step check: rows get mixed lengths in 1..this.
BATCH_PARITY_MAX_PAST = 300


def export_t2s(model: Text2SemanticDecoder, path: Path) -> Path:
    """Write the fp32 T2S graph (prefill + step in one) to ``path``."""
    graph = T2SGraph(model)
    inputs, outputs = t2s_io_names(model.config.num_layers)
    dynamic = {
        "phones": {0: "batch", 1: "text_len"},
        "bert": {0: "batch", 2: "text_len"},
        "tokens": {0: "batch", 1: "audio_len"},
        "audio_start": {0: "batch"},
        "past_len": {0: "batch"},
        "logits": {0: "batch"},
        "new_keys": {1: "batch", 2: "new_len"},
        "new_values": {1: "batch", 2: "new_len"},
    } | {name: {0: "batch", 1: "past_len"} for name in inputs[5:]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic are expected here
        torch.onnx.export(  # traced at batch 2 so the batch axis is never specialised to 1
            graph, graph.example_inputs(batch=2), str(path), dynamo=False, opset_version=OPSET,
            input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
        )
    return path


def t2s_parity(model: Text2SemanticDecoder, session, seed: int = 0) -> dict[str, float]:
    """Max abs difference of logits and new keys/values, ORT vs PyTorch, over ``PARITY_SHAPES``."""
    graph = T2SGraph(model)
    names, _ = t2s_io_names(model.config.num_layers)
    torch.manual_seed(seed)
    logits_err = cache_err = 0.0
    for text_len, audio_len, past_len in PARITY_SHAPES:
        inputs = graph.example_inputs(text_len, audio_len, past_len)
        with torch.no_grad():
            expected = [t.numpy() for t in graph(*inputs)]
        got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})
        logits_err = max(logits_err, float(np.abs(got[0] - expected[0]).max()))
        cache_err = max(cache_err, float(np.abs(got[1] - expected[1]).max()), float(np.abs(got[2] - expected[2]).max()))
    return {"logits_max_abs": logits_err, "cache_max_abs": cache_err}


def t2s_batch_parity(session, num_layers: int, hidden_dim: int, vocab_size: int, seed: int = 0) -> dict[str, float]:
    """Max abs difference between a batched step and each of its rows run alone (ORT against ORT).

    Rows get mixed cache lengths (padded to the longest, the rest masked by ``past_len``) and mixed
    audio positions; the padding is filled with large values so a mask that leaks shows up.
    """
    rng = np.random.default_rng(seed)
    names, _ = t2s_io_names(num_layers)
    logits_err = cache_err = 0.0
    for batch in BATCH_PARITY_SIZES:
        lengths = rng.integers(1, BATCH_PARITY_MAX_PAST + 1, batch)
        longest = int(lengths.max())
        past = rng.standard_normal((2 * num_layers, batch, longest, hidden_dim), dtype=np.float32)
        for row, length in enumerate(lengths):
            past[:, row, length:] = 1e3  # padding: must not matter
        tokens = rng.integers(0, vocab_size - 1, (batch, 1))
        starts = rng.integers(0, 1000, batch)

        case = (names, tokens, starts, lengths, past)
        logits, keys, values = session.run(None, _step_feeds(*case, slice(0, batch), longest))
        for row in range(batch):
            alone = session.run(None, _step_feeds(*case, slice(row, row + 1), int(lengths[row])))
            logits_err = max(logits_err, float(np.abs(logits[row] - alone[0][0]).max()))
            cache_err = max(cache_err, float(np.abs(keys[:, row] - alone[1][:, 0]).max()),
                            float(np.abs(values[:, row] - alone[2][:, 0]).max()))
    return {"batch_logits_max_abs": logits_err, "batch_cache_max_abs": cache_err}


def _step_feeds(names: list[str], tokens: np.ndarray, starts: np.ndarray, lengths: np.ndarray, past: np.ndarray,
                rows: slice, width: int) -> dict[str, np.ndarray]:
    """Feeds of a one-token step for ``rows`` of a batch, the past cut to ``width`` positions."""
    n = rows.stop - rows.start
    out = {"phones": np.zeros((n, 0), np.int64), "bert": np.zeros((n, 1024, 0), np.float32),
           "tokens": tokens[rows], "audio_start": starts[rows], "past_len": lengths[rows]}
    return out | {name: np.ascontiguousarray(past[i, rows, :width]) for i, name in enumerate(names[5:])}


def greedy_decode(
    prefill: Callable[[], np.ndarray], step: Callable[[int], np.ndarray], steps: int, eos: int, stop_at_eos: bool
) -> list[int]:
    """Argmax decoding on raw logits (EOS blocked for the first steps, as upstream does).

    With ``stop_at_eos=False`` EOS is never chosen, so two decoders can be compared over a fixed
    number of steps whatever the weights.
    """
    logits = prefill()
    tokens: list[int] = []
    for i in range(steps):
        allowed = logits if (stop_at_eos and i >= EOS_BLOCKED_STEPS) else logits[:eos]
        token = int(np.argmax(allowed))
        if token == eos:
            break
        tokens.append(token)
        if i + 1 < steps:
            logits = step(token)
    return tokens


def torch_greedy(model: Text2SemanticDecoder, phones, bert, prompt, steps: int, stop_at_eos: bool) -> list[int]:
    state = {}

    def prefill() -> np.ndarray:
        logits, state["k"], state["v"] = model.prefill(
            torch.from_numpy(phones)[None], torch.from_numpy(bert)[None], torch.from_numpy(prompt)[None]
        )
        state["pos"] = len(prompt)
        return logits[0].numpy()

    def step(token: int) -> np.ndarray:
        logits, state["k"], state["v"] = model.step(torch.tensor([[token]]), state["pos"], state["k"], state["v"])
        state["pos"] += 1
        return logits[0].numpy()

    with torch.no_grad():
        return greedy_decode(prefill, step, steps, model.config.eos, stop_at_eos)


def ort_greedy(session, num_layers: int, hidden: int, eos: int, phones, bert, prompt, steps: int,
               stop_at_eos: bool) -> list[int]:
    runner = T2SRunner(session, num_layers, hidden)
    return greedy_decode(
        lambda: runner.prefill(phones, bert, prompt, steps), runner.step, steps, eos, stop_at_eos
    )


def random_prompt(model: Text2SemanticDecoder, text_len: int, prompt_len: int, seed: int):
    rng = np.random.default_rng(seed)
    cfg = model.config
    return (
        rng.integers(0, cfg.phoneme_vocab_size, text_len).astype(np.int64),
        (rng.standard_normal((1024, text_len)) * 0.3).astype(np.float32),
        rng.integers(0, cfg.vocab_size - 1, prompt_len).astype(np.int64),
    )
