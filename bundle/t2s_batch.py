"""Batched T2S decode over a pool of KV slots: prefill one request into a slot, step many at once.

The pool is two ``[L, slots, capacity, D]`` arrays allocated once (``np.zeros``: the pages are
committed only when a slot first uses them) and reused: a request takes a free slot at its prefill
and gives it back when it ends, so nothing grows by concatenation and a step reads only its live
rows (``[L, B, S, D]``, S = the longest live row, the rest masked by ``past_len``). The padding is
always finite (zeros or an earlier request's values), which the mask needs: 0 * NaN would leak.
Sampling is not here: the runner hands back raw logits and the caller decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bundle.t2s_runner import BERT_DIM

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["BatchedT2SRunner", "KVPool", "supports_batching"]


def supports_batching(session: onnxruntime.InferenceSession) -> bool:
    """Whether a T2S graph takes per-row cache lengths (bundles exported before batching do not)."""
    return any(i.name == "past_len" for i in session.get_inputs())


class KVPool:
    """Preallocated key/value slots; ``acquire``/``release`` hand them out (not thread-safe)."""

    def __init__(
        self, num_layers: int, slots: int, capacity: int, hidden_dim: int, dtype: np.dtype | type = np.float32
    ) -> None:
        if slots < 1 or capacity < 1:
            raise ValueError(f"a KV pool needs at least one slot and one position; given {slots} x {capacity}")
        shape = (num_layers, slots, capacity, hidden_dim)
        self.keys = np.zeros(shape, dtype)
        self.values = np.zeros(shape, dtype)
        self.lengths = np.zeros(slots, np.int64)
        """Filled positions of each slot."""
        self._free = list(range(slots - 1, -1, -1))  # pop() hands out the lowest slot first

    @property
    def slots(self) -> int:
        return self.keys.shape[1]

    @property
    def capacity(self) -> int:
        return self.keys.shape[2]

    @property
    def free(self) -> int:
        return len(self._free)

    @staticmethod
    def slot_bytes(num_layers: int, capacity: int, hidden_dim: int, itemsize: int) -> int:
        """Bytes one slot takes (keys and values)."""
        return 2 * num_layers * capacity * hidden_dim * itemsize

    def acquire(self) -> int:
        if not self._free:
            raise RuntimeError("no free KV slot (the scheduler admits only as many requests as slots)")
        slot = self._free.pop()
        self.lengths[slot] = 0
        return slot

    def release(self, slot: int) -> None:
        self.lengths[slot] = 0
        self._free.append(slot)


class BatchedT2SRunner:
    """Prefill into a slot and batched one-token steps over slots, on a T2S graph with ``past_len``."""

    def __init__(self, session: onnxruntime.InferenceSession, pool: KVPool) -> None:
        if not supports_batching(session):
            raise ValueError("this T2S graph has no `past_len` input: re-export the bundle to decode in batches")
        self.session = session
        self.pool = pool
        self.num_layers = pool.keys.shape[0]
        self._past_names = [f"past_key_{i}" for i in range(self.num_layers)] + [
            f"past_value_{i}" for i in range(self.num_layers)
        ]

    def prefill(self, slot: int, phones: np.ndarray, bert: np.ndarray, prompt: np.ndarray) -> np.ndarray:
        """Run ``[phones ; prompt]`` into ``slot`` (``bert [1024, Tx]``); the logits ``[V]`` of the first new token."""
        pool = self.pool
        needed = len(phones) + len(prompt)
        if needed > pool.capacity:
            raise RuntimeError(f"a prefill of {needed} positions does not fit a KV slot of {pool.capacity}")
        hidden = pool.keys.shape[3]
        feeds = {
            "phones": np.asarray(phones, np.int64).reshape(1, -1),
            "bert": np.asarray(bert, np.float32).reshape(1, BERT_DIM, -1),
            "tokens": np.asarray(prompt, np.int64).reshape(1, -1),
            "audio_start": np.zeros(1, np.int64),
            "past_len": np.zeros(1, np.int64),
        }
        empty = np.zeros((1, 0, hidden), np.float32)
        feeds |= dict.fromkeys(self._past_names, empty)
        logits, new_keys, new_values = self.session.run(None, feeds)
        added = new_keys.shape[2]
        pool.keys[:, slot, :added] = new_keys[:, 0]
        pool.values[:, slot, :added] = new_values[:, 0]
        pool.lengths[slot] = added
        return logits[0]

    def step(self, slots: np.ndarray, tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Feed ``tokens[b]`` at audio position ``positions[b]`` to the row in ``slots[b]``; logits ``[B, V]``."""
        pool = self.pool
        slots = np.asarray(slots, np.int64)
        lengths = pool.lengths[slots]
        if int(lengths.max()) >= pool.capacity:
            raise RuntimeError(f"KV slot full ({pool.capacity} positions); raise the slot's positions")
        longest = int(lengths.max())
        # The one copy of a step: the live rows' prefixes, gathered (and widened from fp16 if stored so).
        keys = pool.keys[:, slots, :longest].astype(np.float32, copy=False)
        values = pool.values[:, slots, :longest].astype(np.float32, copy=False)
        batch = len(slots)
        feeds = {
            "phones": np.zeros((batch, 0), np.int64),
            "bert": np.zeros((batch, BERT_DIM, 0), np.float32),
            "tokens": np.asarray(tokens, np.int64).reshape(batch, 1),
            "audio_start": np.asarray(positions, np.int64),
            "past_len": lengths,
        }
        for i in range(self.num_layers):
            feeds[self._past_names[i]] = keys[i]
            feeds[self._past_names[self.num_layers + i]] = values[i]
        logits, new_keys, new_values = self.session.run(None, feeds)
        pool.keys[:, slots, lengths] = new_keys[:, :, 0]
        pool.values[:, slots, lengths] = new_values[:, :, 0]
        pool.lengths[slots] = lengths + 1
        return logits
