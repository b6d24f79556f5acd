"""The T2S engine the cloud workers run: prefill, KV-cache steps, sampling, stop rules, chunking.

Tokens leave in chunks: a small first chunk so the edge can start playing early, then larger ones.
Cancellation is cooperative: ``cancelled()`` is asked before every step, so a cancel is honoured
within one step. The engine never returns prompt tokens and never slices by a returned index, so
the two upstream failures (replaying the reference when nothing was generated; dropping the first
token on an early stop) cannot happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from bundle import Bundle, Precision, Role, SessionOptions
from bundle.t2s_runner import T2SRunner
from relaytts.sampling import SamplingParams, StopReason
from workers.decode_row import ChunkPolicy, DecodeRow, TokenChunk

__all__ = ["ChunkPolicy", "Decode", "T2SEngine", "TokenChunk"]


def _never() -> bool:
    return False


@dataclass
class Decode:
    tokens: np.ndarray
    stop_reason: StopReason
    step_seconds: list[float] = field(default_factory=list)


class T2SEngine:
    """One loaded T2S graph; ``stream``/``generate`` run one decode at a time per engine."""

    def __init__(self, session, num_layers: int, hidden_dim: int, eos: int, max_sec: int) -> None:  # noqa: ANN001
        self.session = session
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self.eos = eos
        self.default_early_stop = 50 * max_sec  # upstream: hz (50) * max_sec

    @classmethod
    def load(cls, bundle: Bundle, precision: Precision = Precision.FP32,
             options: SessionOptions | None = None) -> T2SEngine:
        cfg = bundle.manifest.t2s
        return cls(bundle.session(Role.T2S, precision, options), cfg["num_layers"], cfg["hidden_dim"], cfg["eos"],
                   cfg["max_sec"])

    @property
    def provider(self) -> str:
        """The execution provider actually running the graph (for logs, health and metric labels)."""
        return self.session.get_providers()[0]

    def stream(
        self,
        phones: np.ndarray,
        bert: np.ndarray,
        prompt: np.ndarray,
        params: SamplingParams | None = None,
        policy: ChunkPolicy | None = None,
        cancelled: Callable[[], bool] = _never,
        cancel_keys: tuple[str, ...] = (),
    ) -> Iterator[TokenChunk]:
        """Decode one segment, yielding token chunks; the last chunk has ``final=True`` and a reason.

        ``cancel_keys`` is for the batched engine's signature (it checks them itself); here ``cancelled``
        is asked before every step."""
        params = (params or SamplingParams()).validate()
        row = DecodeRow(prompt, params, policy or ChunkPolicy(), self.eos, self.default_early_stop)
        runner = T2SRunner(self.session, self.num_layers, self.hidden_dim)
        logits = runner.prefill(phones, bert, prompt, params.max_new_tokens)
        while not row.done:
            token = None
            if cancelled():
                row.cancel()
            else:
                token = row.advance(logits)
            yield from row.drain()
            if token is not None:
                logits = runner.step(token)
        yield from row.drain()

    def generate(self, phones: np.ndarray, bert: np.ndarray, prompt: np.ndarray,
                 params: SamplingParams | None = None, cancelled: Callable[[], bool] = _never) -> Decode:
        """The whole segment at once (the stream, concatenated)."""
        chunks = list(self.stream(phones, bert, prompt, params, ChunkPolicy(first_tokens=1 << 30), cancelled))
        tokens = np.concatenate([c.tokens for c in chunks]) if chunks else np.zeros(0, np.int64)
        return Decode(tokens=tokens, stop_reason=chunks[-1].stop_reason or StopReason.MAX_TOKENS)
