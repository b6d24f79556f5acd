"""The single T2S graph that serves both prefill and decode steps.

One graph, one copy of the weights (on disk and in a worker's memory): a prefill is a call with
text, the prompt tokens and an empty past; a step is a call with no text, one token and the
cache. The graph never returns the whole cache, only the keys/values of the positions it was
given, which the engine writes into its pre-allocated buffers.

Inputs                              Outputs
  phones       int64 [1, Tx]          logits      float32 [1, V]     (last position, raw)
  bert         float32 [1, 1024, Tx]  new_keys    float32 [L, 1, N, D]  N = Tx + Ta
  tokens       int64 [1, Ta]          new_values  float32 [L, 1, N, D]
  audio_start  int64 [1]     audio position of tokens[0] (0 for a prefill, Tp + n for step n)
  past_key_i, past_value_i  float32 [1, P, D] for each layer i (P = 0 for a prefill)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from exporter.t2s.model import Text2SemanticDecoder, prefix_lm_mask

__all__ = ["T2SGraph", "t2s_io_names"]


def t2s_io_names(num_layers: int) -> tuple[list[str], list[str]]:
    """Input and output names of the T2S graph, in order."""
    inputs = ["phones", "bert", "tokens", "audio_start"]
    inputs += [f"past_key_{i}" for i in range(num_layers)] + [f"past_value_{i}" for i in range(num_layers)]
    return inputs, ["logits", "new_keys", "new_values"]


class T2SGraph(nn.Module):
    """Export wrapper: ``forward(phones, bert, tokens, audio_start, *past_keys, *past_values)``."""

    def __init__(self, model: Text2SemanticDecoder) -> None:
        super().__init__()
        self.model = model.eval()
        self.num_layers = model.config.num_layers

    def forward(self, phones: Tensor, bert: Tensor, tokens: Tensor, audio_start: Tensor, *past: Tensor):
        model = self.model
        x = torch.cat((model.embed_text(phones, bert), model.embed_audio(tokens, audio_start)), dim=1)
        blocked = prefix_lm_mask(phones.shape[1], x.shape[1])
        h, new_keys, new_values = model.run_layers(x, past[: self.num_layers], past[self.num_layers :], blocked)
        return model.ar_predict_layer(h[:, -1]), new_keys, new_values

    def example_inputs(self, text_len: int = 5, audio_len: int = 3, past_len: int = 2) -> tuple[Tensor, ...]:
        """Inputs of the given sizes (export traces with sizes >= 2 so nothing is specialised)."""
        cfg = self.model.config
        past = [torch.randn(1, past_len, cfg.hidden_dim) for _ in range(2 * cfg.num_layers)]
        return (
            torch.randint(0, cfg.phoneme_vocab_size, (1, text_len)),
            torch.randn(1, 1024, text_len),
            torch.randint(0, cfg.vocab_size - 1, (1, audio_len)),
            torch.tensor([past_len]),
            *past,
        )
