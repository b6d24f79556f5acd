"""The batched T2S engine: every active request is a row of one decode step.

Continuous batching (as TGI's router and vLLM do it): a request joins after its own prefill, which
writes its keys/values into a free slot of the pool, and leaves on EOS, a stop rule or a cancel,
giving the slot back; between two steps the set of rows may change freely. Each row samples with its
own parameters and RNG (``DecodeRow``), so a request's tokens do not depend on its neighbours: only
the step's arithmetic is shared, and that moves logits by rounding (< 1e-4), never by a token unless
two candidates are that close.

This class is synchronous and single-threaded: the scheduler (``workers.decode_loop``) owns it and
calls ``admit`` and ``step``.
"""

from __future__ import annotations

from collections.abc import Container, Hashable
from dataclasses import dataclass

import numpy as np

from bundle import Bundle, Precision, Role, SessionOptions
from bundle.t2s_batch import BatchedT2SRunner, KVPool
from relaytts.errors import InvalidArgument
from relaytts.sampling import SamplingParams
from workers.decode_row import ChunkPolicy, DecodeRow, TokenChunk

__all__ = ["KV_DTYPES", "BatchedT2S", "Emitted"]

KV_DTYPES = {"fp32": np.float32, "fp16": np.float16}


@dataclass(frozen=True)
class Emitted:
    """A chunk one row produced in a step."""

    key: Hashable
    chunk: TokenChunk


@dataclass
class _Row:
    key: Hashable
    slot: int
    decode: DecodeRow
    logits: np.ndarray
    """The logits this row samples from at the next step (prefill's, then each step's row)."""


class BatchedT2S:
    """A T2S session plus a slot pool; ``admit`` requests, ``step`` them all together."""

    def __init__(
        self,
        session,
        num_layers: int,
        hidden_dim: int,
        eos: int,
        max_sec: int,  # noqa: ANN001
        slots: int,
        capacity: int,
        kv_dtype: str = "fp32",
    ) -> None:
        if kv_dtype not in KV_DTYPES:
            raise InvalidArgument(f"`kv_dtype` must be one of {', '.join(KV_DTYPES)}; given {kv_dtype!r}")
        self.session = session
        self.eos = eos
        self.default_early_stop = 50 * max_sec  # upstream: hz (50) * max_sec
        self.pool = KVPool(num_layers, slots, capacity, hidden_dim, KV_DTYPES[kv_dtype])
        self.runner = BatchedT2SRunner(session, self.pool)
        self._rows: dict[Hashable, _Row] = {}

    @classmethod
    def load(
        cls,
        bundle: Bundle,
        slots: int,
        capacity: int,
        precision: Precision = Precision.FP32,
        options: SessionOptions | None = None,
        kv_dtype: str = "fp32",
    ) -> BatchedT2S:
        cfg = bundle.manifest.t2s
        return cls(
            bundle.session(Role.T2S, precision, options),
            cfg["num_layers"],
            cfg["hidden_dim"],
            cfg["eos"],
            cfg["max_sec"],
            slots,
            capacity,
            kv_dtype,
        )

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def free_slots(self) -> int:
        return self.pool.free

    @property
    def active(self) -> int:
        """Rows holding a slot."""
        return len(self._rows)

    def rows(self) -> list[Hashable]:
        """Keys of the rows holding a slot, in the order they step."""
        return list(self._rows)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._rows

    def positions_needed(self, phones: np.ndarray, prompt: np.ndarray, params: SamplingParams) -> int:
        """Cache positions a request can fill: its prefix and every token it may generate."""
        return len(phones) + len(prompt) + params.max_new_tokens

    def admit(
        self,
        key: Hashable,
        phones: np.ndarray,
        bert: np.ndarray,
        prompt: np.ndarray,
        params: SamplingParams,
        policy: ChunkPolicy,
    ) -> list[Emitted]:
        """Prefill a request into a free slot; it samples its first token at the next ``step``.

        Returns what it emits already (only a ``max_new_tokens=0`` request ends here).
        """
        if key in self._rows:
            raise ValueError(f"request {key!r} is already decoding")
        params = params.validate()
        needed = self.positions_needed(phones, prompt, params)
        if needed > self.pool.capacity:
            raise InvalidArgument(
                f"this segment may need {needed} cache positions, more than a KV slot holds "
                f"({self.pool.capacity}, RELAYTTS_WORKER_KV_POSITIONS); lower max_new_tokens "
                "or split the text"
            )
        decode = DecodeRow(prompt, params, policy, self.eos, self.default_early_stop)
        if decode.done:
            return [Emitted(key, c) for c in decode.drain()]
        slot = self.pool.acquire()
        try:
            logits = self.runner.prefill(slot, phones, bert, prompt)
        except BaseException:
            self.pool.release(slot)
            raise
        self._rows[key] = _Row(key, slot, decode, logits)
        return []

    def step(self, cancelled: Container[Hashable] = ()) -> list[Emitted]:
        """One step of every row: sample (or cancel) from its logits, then one batched forward of those that go on."""
        emitted: list[Emitted] = []
        going: list[tuple[_Row, int]] = []
        for row in list(self._rows.values()):
            if row.key in cancelled:
                row.decode.cancel()
                token = None
            else:
                token = row.decode.advance(row.logits)
            emitted.extend(Emitted(row.key, c) for c in row.decode.drain())
            if token is None:
                self._leave(row)
            else:
                going.append((row, token))
        if going:
            slots = np.array([row.slot for row, _ in going], np.int64)
            tokens = np.array([token for _, token in going], np.int64)
            positions = np.array([row.decode.last_position for row, _ in going], np.int64)
            logits = self.runner.step(slots, tokens, positions)
            for i, (row, _) in enumerate(going):
                row.logits = logits[i]
        return emitted

    def cancel(self, key: Hashable) -> list[Emitted]:
        """End one row now (between steps); its final chunk."""
        row = self._rows.get(key)
        if row is None:
            return []
        row.decode.cancel()
        self._leave(row)
        return [Emitted(key, c) for c in row.decode.drain()]

    def _leave(self, row: _Row) -> None:
        del self._rows[row.key]
        self.pool.release(row.slot)
