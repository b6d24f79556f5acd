"""The T2S ("GPT") model: a post-LN decoder-only transformer over [text phonemes ; semantic tokens].

State-dict compatible with upstream's ``Text2SemanticDecoder`` (keys without the Lightning
``model.`` prefix, which the loader strips). Only the inference path is implemented: a prefill of
the whole prefix under the prefix-LM mask, then one-token steps against a KV cache.

The KV cache is two stacked tensors ``[n_layer, B, S, hidden]`` (keys/values projected, heads not
yet split), so an exported step graph takes and returns exactly two cache tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exporter.t2s.config import T2SConfig

__all__ = ["Text2SemanticDecoder", "sinusoidal_positions"]

LAYER_NORM_EPS = 1e-5


def sinusoidal_positions(positions: Tensor, dim: int) -> Tensor:
    """Upstream's sine table at arbitrary positions ``[T]`` -> ``[T, dim]``, sin/cos interleaved.

    Computed on the fly instead of from a 4000-row table so any position (long caches, exported
    step graphs) costs the same and matches the table bit for bit.
    """
    # on the positions' device: a CPU table would make the reference fail on CUDA (and on meta)
    steps = torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device)
    div_term = torch.exp(steps * -(math.log(10000.0) / dim))
    angles = positions.to(torch.float32).unsqueeze(-1) * div_term
    # interleave [sin0, cos0, sin1, cos1, ...]; no -1 in the shape: ONNX Reshape cannot infer it for 0 rows
    return torch.stack((torch.sin(angles), torch.cos(angles)), dim=-1).reshape(positions.shape[0], dim)


class _TokenEmbedding(nn.Module):
    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, dim)

    def forward(self, ids: Tensor) -> Tensor:
        return self.word_embeddings(ids)


class _ScaledPositions(nn.Module):
    """Adds ``alpha * PE[start:start+T]``; text and audio each have their own learnable ``alpha``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.alpha = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        return x + self.alpha * sinusoidal_positions(positions, self.dim)


class _SelfAttention(nn.Module):
    """Packed-QKV multi-head attention with upstream's parameter names (``in_proj_*``, ``out_proj``)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)

    def attend(
        self, q: Tensor, k: Tensor, v: Tensor, past_k: Tensor | None, past_v: Tensor | None, blocked: Tensor | None,
        past_blocked: Tensor | None = None,
    ) -> Tensor:
        """Attention of the new positions over ``[past ; new]``.

        ``q/k/v [B,N,D]`` are the new positions, ``past_k/past_v [B,P,D]`` the cache,
        ``blocked [N,N]`` bool among the new positions (True = may not attend), ``past_blocked
        [B,1,1,P]`` the cache's padding when rows of a batch hold different lengths. The past and new
        score blocks are computed separately so an exported step reads the cache in place instead of
        concatenating (copying) it every step.
        """
        batch, q_len, dim = q.shape
        head_dim = dim // self.heads

        def heads(t: Tensor) -> Tensor:
            # explicit length, not -1: an empty past (a prefill) must reshape too
            return t.reshape(batch, t.shape[1], self.heads, head_dim).transpose(1, 2)

        qh = heads(q) / math.sqrt(head_dim)
        scores = qh @ heads(k).transpose(-1, -2)
        if blocked is not None:
            scores = scores.masked_fill(blocked, float("-inf"))
        if past_k is None:
            out = torch.softmax(scores, dim=-1) @ heads(v)
        else:
            past_len = past_k.shape[1]
            past_scores = qh @ heads(past_k).transpose(-1, -2)
            if past_blocked is not None:
                past_scores = past_scores.masked_fill(past_blocked, float("-inf"))
            probs = torch.softmax(torch.cat((past_scores, scores), dim=-1), dim=-1)
            out = probs[..., :past_len] @ heads(past_v) + probs[..., past_len:] @ heads(v)
        return self.out_proj(out.transpose(1, 2).reshape(batch, q_len, dim))


class _DecoderLayer(nn.Module):
    """Post-LN block: ``x = LN1(x + attn(x)); x = LN2(x + FFN(x))`` with a ReLU FFN."""

    def __init__(self, dim: int, heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.self_attn = _SelfAttention(dim, heads)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def forward(
        self, x: Tensor, past_k: Tensor | None, past_v: Tensor | None, blocked: Tensor | None,
        past_blocked: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Returns the block output and the keys/values of the new positions only."""
        q, k, v = self.self_attn.project(x)
        x = self.norm1(x + self.self_attn.attend(q, k, v, past_k, past_v, blocked, past_blocked))
        x = self.norm2(x + self.linear2(F.relu(self.linear1(x))))
        return x, k, v


class _Stack(nn.Module):
    # Exists only so parameter names read ``h.layers.N.*`` like upstream's.
    def __init__(self, layers: list[_DecoderLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)


def prefix_lm_mask(text_len: int | Tensor, total_len: int | Tensor, device: torch.device | None = None) -> Tensor:
    """``[S,S]`` bool over ``[text ; audio]``, True = blocked.

    Text rows see only text; audio rows see all text and earlier (or the same) audio. With no text
    and one audio position (a decode step) nothing is blocked. Sizes may be traced tensors.
    """
    row = torch.arange(total_len, device=device).unsqueeze(1)
    col = torch.arange(total_len, device=device).unsqueeze(0)
    text_row_sees_audio = (row < text_len) & (col >= text_len)
    audio_row_sees_future = (row >= text_len) & (col > row)
    return text_row_sees_audio | audio_row_sees_future


class Text2SemanticDecoder(nn.Module):
    """Upstream's T2S model, inference only."""

    def __init__(self, config: T2SConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.hidden_dim
        self.bert_proj = nn.Linear(1024, config.embedding_dim)
        self.ar_text_embedding = _TokenEmbedding(config.phoneme_vocab_size, config.embedding_dim)
        self.ar_text_position = _ScaledPositions(config.embedding_dim)
        self.ar_audio_embedding = _TokenEmbedding(config.vocab_size, config.embedding_dim)
        self.ar_audio_position = _ScaledPositions(config.embedding_dim)
        self.h = _Stack([_DecoderLayer(dim, config.num_heads, config.ffn_dim) for _ in range(config.num_layers)])
        self.ar_predict_layer = nn.Linear(dim, config.vocab_size, bias=False)

    # -- embeddings -------------------------------------------------------------------------------

    def embed_text(self, phones: Tensor, bert: Tensor) -> Tensor:
        """``phones [B,Tx]`` int64, ``bert [B,1024,Tx]`` -> ``[B,Tx,D]`` (positions from 0)."""
        x = self.ar_text_embedding(phones) + self.bert_proj(bert.transpose(1, 2))
        positions = torch.arange(phones.shape[1], device=phones.device)
        return self.ar_text_position(x, positions)

    def embed_audio(self, tokens: Tensor, start: Tensor | int = 0) -> Tensor:
        """``tokens [B,T]`` at audio positions ``start..start+T-1`` (audio positions restart at 0)."""
        positions = torch.arange(tokens.shape[1], device=tokens.device) + start
        return self.ar_audio_position(self.ar_audio_embedding(tokens), positions)

    # -- transformer ------------------------------------------------------------------------------

    def run_layers(
        self, x: Tensor, k_cache: Tensor | None, v_cache: Tensor | None, blocked: Tensor | None,
        past_blocked: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """All layers over new positions ``x [B,N,D]``; returns ``(h, new_keys, new_values)``, caches ``[L,B,N,D]``.

        ``past_blocked [B,1,1,P]`` (True = padding) masks cache positions a row does not own."""
        keys, values = [], []
        for i, layer in enumerate(self.h.layers):
            past_k = None if k_cache is None else k_cache[i]
            past_v = None if v_cache is None else v_cache[i]
            x, k, v = layer(x, past_k, past_v, blocked, past_blocked)
            keys.append(k)
            values.append(v)
        return x, torch.stack(keys), torch.stack(values)

    def prefill(self, phones: Tensor, bert: Tensor, prompt: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Run ``[phones ; prompt]`` under the prefix-LM mask.

        Returns raw logits for the first new token ``[B,V]`` and the caches ``[L,B,S,D]``.
        ``prompt [B,Tp]`` may have length 0 (reference-free mode).
        """
        x = self.embed_text(phones, bert)
        if prompt.shape[1] > 0:
            x = torch.cat((x, self.embed_audio(prompt)), dim=1)
        blocked = prefix_lm_mask(phones.shape[1], x.shape[1], device=x.device)
        h, k_cache, v_cache = self.run_layers(x, None, None, blocked)
        return self.ar_predict_layer(h[:, -1]), k_cache, v_cache

    def step(
        self, token: Tensor, position: Tensor | int, k_cache: Tensor, v_cache: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One decode step: ``token [B,1]`` at audio ``position`` attends to the whole cache (no mask)."""
        x = self.embed_audio(token, position)
        h, new_k, new_v = self.run_layers(x, k_cache, v_cache, None)
        return self.ar_predict_layer(h[:, -1]), torch.cat((k_cache, new_k), dim=2), torch.cat((v_cache, new_v), dim=2)
