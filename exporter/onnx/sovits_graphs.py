"""Export wrappers for the SoVITS half: prompt extractor and style encoder (cloud), vocoder (edge).

prompt_extractor  ssl float32 [1, 768, T50]            -> codes int64 [1, T50 // 2]
style_encoder     spec float32 [1, 1025, T]            -> ge float32 [1, gin, 1]
                  (+ sv_emb float32 [1, 20480] for v2Pro / v2ProPlus)
vocoder           codes int64 [1, Tg], phones int64 [1, Nt], ge float32 [1, gin, 1],
                  noise float32 [1, 192, Tn], noise_scale float32 [1], speed float32 [1],
                  dec_frames int64 [2]                 -> wav float32 [1, 640 * (end - begin)]
                  T = 2 * Tg at speed 1, else int(2 * Tg / speed) + 1 latent frames; the graph uses
                  the first T noise frames, so any Tn >= T works (see ``noise_frames``).
                  ``dec_frames = [begin, end]`` crops the latent before the HiFi-GAN generator (90% of
                  the cost): a streaming window re-encodes its left context (cheap, and the encoder's
                  attention needs it) but synthesises audio only for the frames it will play, plus a
                  short margin. ``[0, T]`` (or any end >= T) is the whole decode.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from exporter.sovits.model import SoVITS

__all__ = ["PromptExtractorGraph", "StyleEncoderGraph", "VocoderGraph", "noise_frames"]


def noise_frames(tokens: int, speed: float) -> int:
    """Noise frames that always cover the vocoder's latent length (one spare frame for float rounding)."""
    return 2 * tokens if speed == 1 else math.floor(2 * tokens / speed) + 2


class PromptExtractorGraph(nn.Module):
    def __init__(self, model: SoVITS) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, ssl: Tensor) -> Tensor:
        return self.model.extract_latent(ssl)[:, 0]

    @staticmethod
    def example_inputs(frames: int = 20) -> tuple[Tensor, ...]:
        return (torch.randn(1, 768, frames),)


class StyleEncoderGraph(nn.Module):
    def __init__(self, model: SoVITS) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, spec: Tensor, sv_emb: Tensor | None = None) -> Tensor:
        return self.model.style(spec, sv_emb)

    def example_inputs(self, frames: int = 20) -> tuple[Tensor, ...]:
        spec = torch.rand(1, self.model.config.spec_channels, frames) * 10
        if self.model.config.is_pro:
            return spec, torch.randn(1, self.model.config.sv_dim).abs()
        return (spec,)


class VocoderGraph(nn.Module):
    def __init__(self, model: SoVITS) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(
        self,
        codes: Tensor,
        phones: Tensor,
        ge: Tensor,
        noise: Tensor,
        noise_scale: Tensor,
        speed: Tensor,
        dec_frames: Tensor,
    ) -> Tensor:
        model = self.model
        m_p, logs_p = model.encode(codes.unsqueeze(0), phones, ge, speed[0])  # 0-d: a length, not a tensor
        z_p = m_p + noise[:, :, : m_p.shape[2]] * torch.exp(logs_p) * noise_scale
        # The flow is cheap and convolutional (its edges need the whole window); only the generator is cropped.
        z = model.flow_reverse(z_p, ge)[:, :, dec_frames[0] : dec_frames[1]]
        return model.vocode(z, ge)[:, 0]

    def example_inputs(
        self, tokens: int = 6, phones: int = 5, speed: float = 1.0, crop: tuple[int, int] | None = None
    ) -> tuple[Tensor, ...]:
        """Random inputs; ``crop`` = the latent frames to synthesise (default: all of them)."""
        cfg = self.model.config
        return (
            torch.randint(0, 1024, (1, tokens)),
            torch.randint(0, cfg.n_symbols, (1, phones)),
            torch.randn(1, cfg.gin_channels, 1) * 0.5,
            torch.randn(1, cfg.inter_channels, noise_frames(tokens, speed)),
            torch.tensor([0.5]),
            torch.tensor([speed]),
            torch.tensor(list(crop) if crop else [0, noise_frames(tokens, speed) + 1]),
        )
