"""The single T2S graph that serves prefill and batched decode steps.

One graph, one copy of the weights (on disk and in a worker's memory): a prefill is a call with
text, the prompt tokens and an empty past; a step is a call with no text, one token per row and the
cache. Rows of a batch may hold caches of different lengths: the past is padded to the longest and
``past_len`` says how much of each row is real (the rest is masked out of the attention). The graph
never returns the whole cache, only the keys/values of the positions it was given, which the engine
writes into its pre-allocated slots.

Inputs                              Outputs
  phones       int64 [B, Tx]          logits      float32 [B, V]     (last position, raw)
  bert         float32 [B, 1024, Tx]  new_keys    float32 [L, B, N, D]  N = Tx + Ta
  tokens       int64 [B, Ta]          new_values  float32 [L, B, N, D]
  audio_start  int64 [B]     audio position of each row's tokens[0] (0 for a prefill, Tp + n for step n)
  past_len     int64 [B]     real cache positions of each row (<= P; the rest is padding)
  past_key_i, past_value_i  float32 [B, P, D] for each layer i (P = 0 for a prefill)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from exporter.t2s.model import Text2SemanticDecoder, prefix_lm_mask, sinusoidal_positions

__all__ = ["T2SGraph", "t2s_io_names"]


def t2s_io_names(num_layers: int) -> tuple[list[str], list[str]]:
    """Input and output names of the T2S graph, in order."""
    inputs = ["phones", "bert", "tokens", "audio_start", "past_len"]
    inputs += [f"past_key_{i}" for i in range(num_layers)] + [f"past_value_{i}" for i in range(num_layers)]
    return inputs, ["logits", "new_keys", "new_values"]


class T2SGraph(nn.Module):
    """Export wrapper: ``forward(phones, bert, tokens, audio_start, past_len, *past_keys, *past_values)``."""

    def __init__(self, model: Text2SemanticDecoder) -> None:
        super().__init__()
        self.model = model.eval()
        self.num_layers = model.config.num_layers

    def embed_audio(self, tokens: Tensor, audio_start: Tensor) -> Tensor:
        """``tokens [B,Ta]`` at per-row positions ``audio_start[b] + 0..Ta-1``."""
        model = self.model
        batch, length = tokens.shape[0], tokens.shape[1]
        positions = audio_start.unsqueeze(0) + torch.arange(length).unsqueeze(1)  # [Ta, B]
        # Time-major on purpose: ONNX Reshape reads a 0 in the target shape as "keep that input
        # dimension", so only a leading size may be 0 (a prefill without prompt tokens has Ta = 0).
        table = sinusoidal_positions(positions.reshape(length * batch), model.config.embedding_dim)
        pe = table.reshape(length, batch, model.config.embedding_dim).transpose(0, 1)
        return model.ar_audio_embedding(tokens) + model.ar_audio_position.alpha * pe

    def forward(
        self, phones: Tensor, bert: Tensor, tokens: Tensor, audio_start: Tensor, past_len: Tensor, *past: Tensor
    ):
        model = self.model
        x = torch.cat((model.embed_text(phones, bert), self.embed_audio(tokens, audio_start)), dim=1)
        blocked = prefix_lm_mask(phones.shape[1], x.shape[1])
        past_positions = torch.arange(past[0].shape[1]).unsqueeze(0)
        past_blocked = (past_positions >= past_len.unsqueeze(1)).unsqueeze(1).unsqueeze(1)  # [B,1,1,P]
        h, new_keys, new_values = model.run_layers(
            x, past[: self.num_layers], past[self.num_layers :], blocked, past_blocked
        )
        return model.ar_predict_layer(h[:, -1]), new_keys, new_values

    def example_inputs(
        self, text_len: int = 5, audio_len: int = 3, past_len: int = 2, batch: int = 1
    ) -> tuple[Tensor, ...]:
        """Inputs of the given sizes (export traces with sizes >= 2 so nothing is specialised)."""
        cfg = self.model.config
        past = [torch.randn(batch, past_len, cfg.hidden_dim) for _ in range(2 * cfg.num_layers)]
        return (
            torch.randint(0, cfg.phoneme_vocab_size, (batch, text_len)),
            torch.randn(batch, 1024, text_len),
            torch.randint(0, cfg.vocab_size - 1, (batch, audio_len)),
            torch.full((batch,), past_len),
            torch.full((batch,), past_len),
            *past,
        )
