"""Host-side sampling of one T2S logits row, in upstream's order (numpy, no torch).

repetition penalty (prompt + generated ids, each distinct id once) -> top-p on the penalised,
pre-temperature distribution (the token crossing the threshold is dropped unless it is the top
one) -> temperature -> top-k (ties kept) -> softmax -> exponential race (argmax of p / q with
q ~ Exp(1), which is exactly a multinomial draw).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relaytts.sampling import SamplingParams

__all__ = ["Choice", "penalise", "sample"]


@dataclass(frozen=True)
class Choice:
    token: int
    """The sampled id."""
    argmax: int
    """Argmax of the penalised logits: upstream stops when this is EOS, too."""


def penalise(logits: np.ndarray, seen: np.ndarray, penalty: float) -> np.ndarray:
    """A copy of ``logits`` with ids in ``seen`` penalised once each (negative x penalty, positive / penalty)."""
    out = np.array(logits, dtype=np.float32, copy=True)
    if penalty != 1.0 and seen.size:
        ids = np.unique(seen[seen < out.shape[0]])
        values = out[ids]
        out[ids] = np.where(values < 0, values * np.float32(penalty), values / np.float32(penalty))
    return out


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def sample(logits: np.ndarray, seen: np.ndarray, params: SamplingParams, rng: np.random.Generator) -> Choice:
    """Choose the next id from a raw logits row (already narrowed when EOS is blocked)."""
    scores = penalise(logits, seen, params.repetition_penalty)
    argmax = int(np.argmax(scores))
    if params.top_k == 1 and params.top_p >= 1.0:
        rng.exponential(size=scores.shape[0])  # keep the stream aligned with sampled runs
        return Choice(argmax, argmax)
    work = scores
    if params.top_p < 1.0:
        order = np.argsort(-work, kind="stable")
        cumulative = np.cumsum(_softmax(work[order]))
        remove = cumulative > params.top_p
        remove[0] = False
        work = work.copy()
        work[order[remove]] = -np.inf
    work = work / max(params.temperature, 1e-5)
    k = min(params.top_k, work.shape[0])
    pivot = np.partition(work, -k)[-k]
    work = np.where(work < pivot, -np.inf, work)
    probs = _softmax(work)
    race = rng.exponential(size=probs.shape[0])
    return Choice(int(np.argmax(probs / race)), argmax)
