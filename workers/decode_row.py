"""One request's side of a decode: its sampling, RNG, penalty history, stop rules and chunking.

The sequential engine (``workers.t2s``) and the batched one (``workers.batch_engine``) both drive a
``DecodeRow`` with the logits of each step, so a request samples the same tokens whichever ran it:
the row owns everything that decides a token (its own RNG seeded from its own params), the engine
owns only the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relaytts.sampling import EOS_BLOCKED_STEPS, SamplingParams, StopReason
from workers.sampling import sample

__all__ = ["ChunkPolicy", "DecodeRow", "TokenChunk"]


@dataclass(frozen=True)
class ChunkPolicy:
    """How generated tokens are grouped into chunks (25 tokens = 1 s of speech)."""

    first_tokens: int = 8
    """Size of the first chunk: small, for time to first audio."""
    tokens: int = 25
    """Size of every later chunk."""

    def __post_init__(self) -> None:
        if self.first_tokens < 1 or self.tokens < 1:
            raise ValueError("chunk sizes must be at least 1 token")


@dataclass(frozen=True)
class TokenChunk:
    index: int
    tokens: np.ndarray
    """int64 semantic tokens of this chunk (may be empty only in a final chunk)."""
    final: bool
    stop_reason: StopReason | None = None
    """Why the decode ended (final chunk only)."""


class DecodeRow:
    """Turns successive logits rows into tokens and chunks; ``advance`` once per step, ``drain`` the chunks."""

    def __init__(
        self, prompt: np.ndarray, params: SamplingParams, policy: ChunkPolicy, eos: int, default_early_stop: int
    ) -> None:
        self.params = params
        self.policy = policy
        self.eos = eos
        self.early_stop = params.early_stop if params.early_stop is not None else default_early_stop
        self.rng = np.random.default_rng(params.seed)
        prompt = np.asarray(prompt, np.int64)
        self.history = np.empty(len(prompt) + params.max_new_tokens, np.int64)  # ids the penalty looks at
        self.history[: len(prompt)] = prompt
        self.seen = len(prompt)
        self.prompt_len = len(prompt)
        self.step_index = 0
        self.generated = 0
        self.chunk_index = 0
        self.pending: list[int] = []
        self.outbox: list[TokenChunk] = []
        self.done = False
        if params.max_new_tokens == 0:
            self._finish(StopReason.MAX_TOKENS)

    def advance(self, logits: np.ndarray) -> int | None:
        """Sample from this step's raw logits ``[V]``; the token to feed next, or None once the row ended."""
        if self.done:
            raise RuntimeError("advance() on a row that has ended")
        step = self.step_index
        self.step_index += 1
        row = logits[: self.eos] if step < EOS_BLOCKED_STEPS else logits
        choice = sample(row, self.history[: self.seen], self.params, self.rng)
        if choice.token == self.eos or choice.argmax == self.eos:
            self._finish(StopReason.EOS)
            return None
        self.history[self.seen] = choice.token
        self.seen += 1
        self.generated += 1
        self.pending.append(choice.token)
        if self.generated > self.early_stop:
            self._finish(StopReason.EARLY_STOP)
            return None
        if len(self.pending) >= (self.policy.first_tokens if self.chunk_index == 0 else self.policy.tokens):
            self.outbox.append(TokenChunk(self.chunk_index, np.array(self.pending, np.int64), final=False))
            self.chunk_index += 1
            self.pending = []
        if step + 1 >= self.params.max_new_tokens:
            self._finish(StopReason.MAX_TOKENS)
            return None
        return choice.token

    @property
    def last_position(self) -> int:
        """Audio position of the token ``advance`` returned last (the prompt takes 0..Tp-1)."""
        return self.prompt_len + self.generated - 1

    def cancel(self) -> None:
        """End the row now (a cancel seen before this step): the final chunk carries what is pending."""
        if not self.done:
            self._finish(StopReason.CANCELLED)

    def drain(self) -> list[TokenChunk]:
        """The chunks made since the last call, in order."""
        out, self.outbox = self.outbox, []
        return out

    def _finish(self, reason: StopReason) -> None:
        self.outbox.append(
            TokenChunk(self.chunk_index, np.array(self.pending, np.int64), final=True, stop_reason=reason)
        )
        self.pending = []
        self.done = True
