"""Relative-position transformer encoder (``attentions.Encoder``) and the MRTE cross-attention.

Tensors are channels-first ``[B, C, T]``. Inference always runs on whole (unpadded) sequences, as
upstream's ``decode`` does (its masks are all ones), so no masks are carried: multiplying by a mask
of ones is the identity, and leaving it out keeps the exported graph small.

Relative attention (window W = 4, one embedding table shared by all heads) is written with
``index_select`` on flattened tensors and index tables built from ``torch.arange(T)``, so a traced
graph works for any length T >= 1, including T < W + 1, with no Python branching on sizes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FFN",
    "MRTE",
    "ChannelLayerNorm",
    "CrossAttention",
    "Encoder",
    "RelativeSelfAttention",
    "relative_index_tables",
]


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of ``[B, C, T]`` (parameters ``gamma`` / ``beta``, eps 1e-5)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.transpose(1, -1), (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


def _split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[B, C, T] -> [B, H, T, C/H]; channel c belongs to head c // (C/H)."""
    b, c, t = x.shape
    return x.reshape(b, n_heads, c // n_heads, t).transpose(2, 3)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[B, H, T, D] -> [B, H*D, T]."""
    b, h, t, d = x.shape
    return x.transpose(2, 3).reshape(b, h * d, t)


def relative_index_tables(length: int | torch.Tensor, window: int, device: torch.device | None = None):
    """Index tables for relative attention over a sequence of ``length`` positions.

    Returns ``(key_index, key_valid, value_index, value_valid)``:

    * ``key_index`` [T*T]: flat index into ``[T, 2W+1]`` rel-logits picking, for (i, j), the
      entry for distance ``j - i`` (clamped); ``key_valid`` [T, T] is 1 where ``|j - i| <= W``.
    * ``value_index`` [T*(2W+1)]: flat index into ``[T, T]`` probabilities picking, for (i, r),
      column ``i + r - W`` (clamped); ``value_valid`` [T, 2W+1] is 1 where that column exists.

    Distances beyond the window get no relative term (the tables zero them, they are not clamped
    to the edge embedding) -- that is upstream's behaviour.
    """
    pos = torch.arange(length, device=device)
    n = pos.shape[0]
    rel = torch.arange(-window, window + 1, device=device)
    dist = pos.unsqueeze(0) - pos.unsqueeze(1)  # [i, j] = j - i
    key_valid = (dist.abs() <= window).float()
    key_index = (pos.unsqueeze(1) * (2 * window + 1) + (dist + window).clamp(0, 2 * window)).reshape(-1)
    col = pos.unsqueeze(1) + rel.unsqueeze(0)  # [i, r] = i + r - W
    value_valid = ((col >= 0) & (col < n)).float()
    value_index = (pos.unsqueeze(1) * n + col.clamp(min=0) - (col - (n - 1)).clamp(min=0)).reshape(-1)
    return key_index, key_valid, value_index, value_valid


class RelativeSelfAttention(nn.Module):
    """Multi-head self-attention with windowed relative key/value embeddings shared across heads."""

    def __init__(self, channels: int, n_heads: int, window_size: int = 4) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.window_size = window_size
        self.k_channels = channels // n_heads
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        rel_std = self.k_channels**-0.5
        # Index w + W <-> relative distance w = key_pos - query_pos in [-W, W]; [1, 2W+1, d] as upstream.
        self.emb_rel_k = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.k_channels) * rel_std)
        self.emb_rel_v = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.k_channels) * rel_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t = x.shape
        h, w = self.n_heads, self.window_size
        q = _split_heads(self.conv_q(x), h) / math.sqrt(self.k_channels)
        k = _split_heads(self.conv_k(x), h)
        v = _split_heads(self.conv_v(x), h)
        key_index, key_valid, value_index, value_valid = relative_index_tables(t, w, x.device)

        scores = torch.matmul(q, k.transpose(-2, -1))
        # rel_logits[b,h,i,r] = q_i . E_k[r]; scatter to scores[i, j] with r = j - i + W.
        rel_logits = torch.matmul(q, self.emb_rel_k[0].transpose(0, 1))  # [B, H, T, 2W+1]
        rel_scores = rel_logits.reshape(b, h, -1).index_select(2, key_index).reshape(b, h, t, t)
        scores = scores + rel_scores * key_valid
        p = torch.softmax(scores, dim=-1)

        out = torch.matmul(p, v)
        # p_rel[b,h,i,r] = p[b,h,i,i+r-W]; out_i += sum_r p_rel[i, r] E_v[r].
        p_rel = p.reshape(b, h, -1).index_select(2, value_index).reshape(b, h, t, 2 * w + 1)
        out = out + torch.matmul(p_rel * value_valid, self.emb_rel_v[0])
        return self.conv_o(_merge_heads(out))


class CrossAttention(nn.Module):
    """Plain scaled-dot multi-head attention, queries from ``x``, keys/values from ``c`` (MRTE)."""

    def __init__(self, channels: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.k_channels = channels // n_heads
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        q = _split_heads(self.conv_q(x), self.n_heads) / math.sqrt(self.k_channels)
        k = _split_heads(self.conv_k(c), self.n_heads)
        v = _split_heads(self.conv_v(c), self.n_heads)
        p = torch.softmax(torch.matmul(q, k.transpose(-2, -1)), dim=-1)
        return self.conv_o(_merge_heads(torch.matmul(p, v)))


class FFN(nn.Module):
    """Conv1d -> ReLU -> Conv1d with "same" padding (left (k-1)//2, right k//2)."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(F.pad(x, self.pad)))
        return self.conv_2(F.pad(x, self.pad))


class Encoder(nn.Module):
    """Post-LN transformer: ``x = LN1(x + attn(x)); x = LN2(x + ffn(x))`` per layer."""

    def __init__(
        self,
        channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        window_size: int = 4,
    ) -> None:
        super().__init__()
        self.attn_layers = nn.ModuleList(RelativeSelfAttention(channels, n_heads, window_size) for _ in range(n_layers))
        self.norm_layers_1 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(FFN(channels, filter_channels, kernel_size) for _ in range(n_layers))
        self.norm_layers_2 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attn, norm1, ffn, norm2 in zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True
        ):
            x = norm1(x + attn(x))
            x = norm2(x + ffn(x))
        return x


class MRTE(nn.Module):
    """Cross-attention of the SSL content (queries) over the phonemes, plus the global style ``ge``."""

    def __init__(self, content_channels: int = 192, hidden: int = 512, n_heads: int = 4) -> None:
        super().__init__()
        self.cross_attention = CrossAttention(hidden, n_heads)
        self.c_pre = nn.Conv1d(content_channels, hidden, 1)
        self.text_pre = nn.Conv1d(content_channels, hidden, 1)
        self.c_post = nn.Conv1d(hidden, content_channels, 1)

    def forward(self, ssl: torch.Tensor, text: torch.Tensor, ge: torch.Tensor) -> torch.Tensor:
        """``ssl`` [B,C,Ty], ``text`` [B,C,Tt], ``ge`` [B,hidden,1] -> [B,C,Ty]."""
        c = self.c_pre(ssl)
        tx = self.text_pre(text)
        return self.c_post(self.cross_attention(c, tx) + c + ge)
