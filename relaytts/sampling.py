"""Sampling parameters and stop rules of T2S decoding, shared by the PyTorch reference and the engines.

Defaults are upstream's (``TTS.run`` / ``api_v2``). The numbers that are upstream *rules* rather
than choices (EOS blocked for the first 11 steps, the 1500-step cap) live here as constants so
every decoder applies the same ones.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Final

from relaytts.errors import InvalidArgument

__all__ = [
    "MAX_SPEED",
    "MIN_SPEED",
    "EOS_BLOCKED_STEPS",
    "MAX_NEW_TOKENS",
    "SamplingParams",
    "StopReason",
    "segment_token_cap",
]

MIN_SPEED: Final = 0.5
MAX_SPEED: Final = 2.0
"""Speaking rates a request may ask for (upstream's WebUI offers 0.6 to 1.65). The edge vocoder renders the
rate, so it never changes the tokens; it lives here with the other request knobs so the CLIs can check it
without loading the vocoder."""

EOS_BLOCKED_STEPS: Final = 11
"""Upstream drops the EOS column for decode steps 0..10: no segment is shorter than 11 tokens."""
MAX_NEW_TOKENS: Final = 1500
"""Upstream's loop cap: 1500 tokens = 60 s of speech per segment."""


class StopReason(enum.StrEnum):
    """Why a decode ended."""

    EOS = "eos"
    """The model chose end-of-speech (argmax or sampled)."""
    EARLY_STOP = "early_stop"
    """More than ``early_stop`` tokens were generated (upstream's ``early_stop_num``)."""
    MAX_TOKENS = "max_tokens"
    """The loop cap ``max_new_tokens`` was reached."""
    CANCELLED = "cancelled"
    """A cooperative cancel was seen between two steps."""

    def to_pb(self) -> int:
        from protos import relaytts_v1_pb2 as pb

        return pb.StopReason.Value(f"STOP_REASON_{self.name}")


def segment_token_cap(phone_count: int) -> int:
    """A per-segment token limit: speech runs at 2-4 tokens per phone, so 10 per phone (+50) never cuts
    real speech but stops a model that fails to emit EOS long before upstream's 60-second cap."""
    return min(MAX_NEW_TOKENS, 50 + 10 * phone_count)


@dataclass(frozen=True)
class SamplingParams:
    """Per-request T2S sampling; applied in upstream's order (see ``validate`` for ranges)."""

    top_k: int = 15
    """Keep logits >= the k-th largest (ties kept). 1 = greedy."""
    top_p: float = 1.0
    """Nucleus threshold on the penalised, pre-temperature distribution; 1.0 disables it."""
    temperature: float = 1.0
    """Divides the logits (floored at 1e-5)."""
    repetition_penalty: float = 1.35
    """Applied once per distinct id among prompt + generated tokens: negative x rp, positive / rp."""
    seed: int | None = None
    """Seed of the exponential race; None draws a fresh seed."""
    max_new_tokens: int = MAX_NEW_TOKENS
    """Hard cap on generated tokens."""
    early_stop: int | None = None
    """Stop once more than this many tokens exist (upstream ``early_stop_num``); None = 50 * max_sec."""

    def for_segment(self, index: int, phone_count: int, cap: int | None = None) -> SamplingParams:
        """The parameters of segment ``index`` of a job: seed ``seed + index`` (segments are reproducible
        one by one, so a redelivered job redoes exactly the segment it lost) and at most
        ``cap`` (default ``segment_token_cap``) tokens, never more than ``max_new_tokens``."""
        limit = min(cap or segment_token_cap(phone_count), self.max_new_tokens)
        seed = None if self.seed is None else self.seed + index
        return dataclasses.replace(self, seed=seed, max_new_tokens=limit)

    def validate(self) -> SamplingParams:
        """Raise ``InvalidArgument`` naming the field, the allowed range and the value given."""
        checks = [
            ("top_k", 1 <= self.top_k <= 1025, "an integer in [1, 1025]", self.top_k),
            ("top_p", 0.0 < self.top_p <= 1.0, "in (0, 1]", self.top_p),
            ("temperature", 0.0 < self.temperature <= 5.0, "in (0, 5]", self.temperature),
            ("repetition_penalty", 1.0 <= self.repetition_penalty <= 5.0, "in [1, 5]", self.repetition_penalty),
            ("max_new_tokens", 1 <= self.max_new_tokens <= MAX_NEW_TOKENS, f"in [1, {MAX_NEW_TOKENS}]",
             self.max_new_tokens),
        ]
        if self.early_stop is not None:
            checks.append(("early_stop", self.early_stop >= 1, "at least 1", self.early_stop))
        if self.seed is not None:
            checks.append(("seed", 0 <= self.seed < 2**63, "in [0, 2^63)", self.seed))
        for name, ok, allowed, given in checks:
            if not ok:
                raise InvalidArgument(f"`{name}` must be {allowed}; given {given!r}")
        return self
