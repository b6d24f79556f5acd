"""Calling the bundle's T2S graph: prefill and steps over pre-allocated KV buffers.

The graph returns only the keys/values of the positions it was given; this class writes them into
two ``[L, 1, capacity, D]`` buffers allocated once per decode. Each call passes the layers' filled
prefixes ``buf[i, :, :P]``, which are contiguous views: nothing copies the cache between steps.
Sampling is not here: the runner hands back raw logits and the caller decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["T2SRunner"]

BERT_DIM = 1024


class T2SRunner:
    """Stateful decode of one segment at a time on a T2S session (not thread-safe; one per decode)."""

    def __init__(self, session: onnxruntime.InferenceSession, num_layers: int, hidden_dim: int) -> None:
        self.session = session
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self._past_names = [f"past_key_{i}" for i in range(num_layers)] + [
            f"past_value_{i}" for i in range(num_layers)
        ]
        self._keys = self._values = np.empty((num_layers, 1, 0, hidden_dim), np.float32)
        # Graphs exported before batching have no ``past_len`` (their rows are never padded).
        self._has_past_len = any(i.name == "past_len" for i in session.get_inputs())
        self.length = 0
        """Positions in the cache."""
        self.next_audio_position = 0
        """Audio position the next fed token takes (prompt length + tokens fed so far)."""

    @property
    def capacity(self) -> int:
        return self._keys.shape[2]

    def prefill(self, phones: np.ndarray, bert: np.ndarray, prompt: np.ndarray, max_new_tokens: int) -> np.ndarray:
        """Start a decode: ``phones [Tx]`` int64, ``bert [1024, Tx]``, ``prompt [Tp]``. Returns logits ``[V]``."""
        capacity = len(phones) + len(prompt) + max_new_tokens
        shape = (self.num_layers, 1, capacity, self.hidden_dim)
        self._keys = np.empty(shape, np.float32)
        self._values = np.empty(shape, np.float32)
        self.length = 0
        self.next_audio_position = len(prompt)
        return self._run(
            np.asarray(phones, np.int64).reshape(1, -1),
            np.asarray(bert, np.float32).reshape(1, BERT_DIM, -1),
            np.asarray(prompt, np.int64).reshape(1, -1),
            audio_start=0,
        )

    def step(self, token: int) -> np.ndarray:
        """Feed one token; returns the logits ``[V]`` for the next one."""
        if self.length >= self.capacity:
            raise RuntimeError(f"KV cache full ({self.capacity} positions); raise max_new_tokens")
        logits = self._run(
            np.zeros((1, 0), np.int64),
            np.zeros((1, BERT_DIM, 0), np.float32),
            np.array([[token]], np.int64),
            audio_start=self.next_audio_position,
        )
        self.next_audio_position += 1
        return logits

    def _run(self, phones: np.ndarray, bert: np.ndarray, tokens: np.ndarray, audio_start: int) -> np.ndarray:
        past = self.length
        feeds = {
            "phones": phones,
            "bert": bert,
            "tokens": tokens,
            "audio_start": np.array([audio_start], np.int64),
        }
        if self._has_past_len:
            feeds["past_len"] = np.array([past], np.int64)
        for i in range(self.num_layers):
            feeds[self._past_names[i]] = self._keys[i, :, :past]
            feeds[self._past_names[self.num_layers + i]] = self._values[i, :, :past]
        logits, new_keys, new_values = self.session.run(None, feeds)
        added = new_keys.shape[2]
        self._keys[:, :, past : past + added] = new_keys
        self._values[:, :, past : past + added] = new_values
        self.length = past + added
        return logits[0]
