"""Reference decoding with upstream's exact sampling order and stop rules (PyTorch, KV cache).

Order on each logits row: drop the EOS column for the first 11 steps -> repetition penalty over
prompt + generated ids (once per distinct id) -> top-p before temperature (no shift) ->
temperature -> top-k (ties kept) -> softmax -> exponential race. Stop on argmax(penalised) == EOS
or sampled == EOS, on the early-stop limit, or at the step cap.

One deliberate difference from upstream: upstream's callers slice ``y[:, -idx:]``, which drops the
first token when the early-stop limit ends a run. ``Generation.tokens`` keeps every token;
``Generation.upstream_caller_tokens`` reproduces upstream's slice for parity checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from exporter.t2s.model import Text2SemanticDecoder
from relaytts.sampling import EOS_BLOCKED_STEPS, SamplingParams, StopReason

__all__ = ["Generation", "apply_repetition_penalty", "generate", "sample_token", "teacher_forced_logits"]


@dataclass
class Generation:
    """The result of one decode (batch 1)."""

    tokens: Tensor
    """int64 ``[T]``: every generated token, EOS removed; never empty."""
    stop_reason: StopReason
    upstream_idx: int
    """The loop index upstream returns beside ``y`` (its callers slice ``y[-idx:]``)."""
    raw_logits: list[Tensor] = field(default_factory=list)
    """Per step, the full raw logits row ``[V]`` (only when requested)."""

    @property
    def upstream_caller_tokens(self) -> Tensor:
        """What upstream's TTS pipeline hands to SoVITS (drops token 0 on an early-stop end)."""
        return self.tokens[len(self.tokens) - self.upstream_idx :]


def apply_repetition_penalty(logits: Tensor, previous: Tensor, penalty: float) -> Tensor:
    """``logits [B,V]``; ``previous [B,N]`` ids. Each distinct id is penalised once, from its raw value."""
    if penalty == 1.0 or previous.numel() == 0:
        return logits
    score = torch.gather(logits, 1, previous)
    score = torch.where(score < 0, score * penalty, score / penalty)
    # scatter writes the same penalised value for repeated ids, so repeats count once
    return logits.scatter(1, previous, score)


def sample_token(
    logits: Tensor, previous: Tensor, params: SamplingParams, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Sample one id per row. Returns ``(token [B,1], penalised_logits [B,V'])``."""
    penalised = apply_repetition_penalty(logits, previous, params.repetition_penalty)
    scores = penalised
    if params.top_p < 1.0:
        sorted_logits, sorted_idx = torch.sort(scores, descending=True)
        cumulative = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)
        remove_sorted = cumulative > params.top_p
        remove_sorted[:, 0] = False  # the top choice always survives
        remove = remove_sorted.scatter(1, sorted_idx, remove_sorted)
        scores = scores.masked_fill(remove, float("-inf"))
    scores = scores / max(params.temperature, 1e-5)
    k = min(params.top_k, scores.shape[-1])
    pivot = torch.topk(scores, k).values[:, -1:]
    scores = torch.where(scores < pivot, torch.full_like(scores, float("-inf")), scores)
    probs = torch.softmax(scores, dim=-1)
    race = torch.empty_like(probs).exponential_(1, generator=generator)
    return torch.argmax(probs / race, dim=-1, keepdim=True), penalised


@torch.inference_mode()
def generate(
    model: Text2SemanticDecoder,
    phones: Tensor,
    bert: Tensor,
    prompt: Tensor,
    params: SamplingParams | None = None,
    *,
    return_logits: bool = False,
) -> Generation:
    """Decode one segment: ``phones [1,Tx]``, ``bert [1,1024,Tx]``, ``prompt [1,Tp]`` (may be empty)."""
    params = (params or SamplingParams()).validate()
    eos = model.config.eos
    early_stop = params.early_stop if params.early_stop is not None else model.config.default_early_stop
    device = phones.device  # every tensor made here lives where the inputs do (CPU, CUDA)
    generator = torch.Generator(device=device).manual_seed(params.seed if params.seed is not None else torch.seed())
    history = prompt.clone()  # repetition penalty looks at prompt + generated tokens
    generated: list[Tensor] = []
    raw: list[Tensor] = []
    logits, k_cache, v_cache = model.prefill(phones, bert, prompt)
    reason, idx = StopReason.MAX_TOKENS, params.max_new_tokens - 1
    for step in range(params.max_new_tokens):
        if step > 0:
            position = prompt.shape[1] + step - 1
            logits, k_cache, v_cache = model.step(generated[-1].view(1, 1), position, k_cache, v_cache)
        if return_logits:
            raw.append(logits[0].clone())
        row = logits[:, :eos] if step < EOS_BLOCKED_STEPS else logits
        token, penalised = sample_token(row, history, params, generator)
        history = torch.cat((history, token), dim=1)
        is_eos = bool(token.item() == eos) or bool(torch.argmax(penalised, dim=-1).item() == eos)
        if is_eos:
            reason, idx = StopReason.EOS, step
            break
        generated.append(token[0, 0])
        if len(generated) > early_stop:
            reason, idx = StopReason.EARLY_STOP, step
            break
    tokens = (
        torch.stack(generated) if generated else torch.zeros(1, dtype=torch.long, device=device)
    )  # never hand back nothing
    return Generation(tokens=tokens, stop_reason=reason, upstream_idx=idx, raw_logits=raw)


@torch.inference_mode()
def teacher_forced_logits(
    model: Text2SemanticDecoder, phones: Tensor, bert: Tensor, prompt: Tensor, teacher: Tensor
) -> Tensor:
    """Raw logits ``[K,V]``: row i predicts after the prefix plus ``teacher[:i]`` (KV-cache path)."""
    logits, k_cache, v_cache = model.prefill(phones, bert, prompt)
    rows = [logits[0]]
    for i in range(teacher.shape[-1] - 1):
        logits, k_cache, v_cache = model.step(teacher.view(-1)[i].view(1, 1), prompt.shape[1] + i, k_cache, v_cache)
        rows.append(logits[0])
    return torch.stack(rows)
