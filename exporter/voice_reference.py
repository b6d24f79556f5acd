"""The PyTorch reference of voice conditioning: what upstream computes from a reference clip.

Upstream (``TTS._set_prompt_semantic`` and ``_get_ref_spec``, spec §1.2): the 16 kHz clip plus 9600
zeros through ``HubertModel`` -> ``last_hidden_state`` transposed -> ``SynthesizerTrn.extract_latent``
-> prompt tokens; the 32 kHz clip -> ``spectrogram_torch`` -> ``ref_enc`` -> ``ge`` (v2Pro / v2ProPlus: plus
``sv_emb(ERes2NetV2.forward3(fbank(resample_16k(clip))))`` and the PReLU). Here the same
with ``exporter.sovits`` (state-dict compatible with upstream) and transformers' ``HubertModel`` on
the same weights the bundle was exported from. Decoding and resampling are not part of it: callers
pass the clip as ``workers.conditioning.decode_clip`` made it, so the comparison isolates the graphs
and the feature code.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import torch

from exporter.sovits.model import SoVITS
from exporter.sovits.spectrogram import linear_spectrogram
from exporter.sv.model import ERes2NetV2

__all__ = ["HUBERT_PAD_SAMPLES", "reference_conditioning"]

HUBERT_PAD_SAMPLES: Final = 9600
"""Upstream's ``int(sampling_rate * 0.3)`` with ``sampling_rate`` = 32000, appended to the 16 kHz clip."""


def reference_conditioning(sovits: SoVITS, hubert: Any, wav16k: np.ndarray,  # noqa: ANN401 - transformers model
                           wav32k: np.ndarray, sv: ERes2NetV2 | None = None) -> dict[str, np.ndarray]:
    """``ssl`` [1, 768, T50], ``prompt_tokens`` [T50 // 2], ``ge`` [gin] and ``code_margin`` [T50 // 2]; for a
    Pro ``sovits`` (which needs ``sv``, the PyTorch ERes2NetV2) also ``sv_emb`` [D].

    The speaker net's front end is the numpy one (``workers.sv_features``, checked against upstream's
    arrays on its own), so this isolates the ``sv`` and ``style_encoder`` graphs.

    ``code_margin``: per token, the gap between the best and the second-best codebook score
    (squared-distance units); a token whose margin is within float rounding may legitimately differ
    between two correct float32 implementations.
    """
    if sovits.config.is_pro and sv is None:
        raise ValueError(f"SoVITS {sovits.version}: the style needs a speaker-verification embedding; pass `sv`")
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        wav = np.concatenate([np.asarray(wav16k, np.float32), np.zeros(HUBERT_PAD_SAMPLES, np.float32)])
        ssl = hubert(torch.from_numpy(wav)[None])["last_hidden_state"].transpose(1, 2)
        codes = sovits.extract_latent(ssl)[0, 0]
        projected = sovits.ssl_proj(ssl).transpose(1, 2)[0]  # [T25, 768]
        embed = sovits.quantizer.embed
        scores = -(projected.pow(2).sum(-1, keepdim=True) - 2 * projected @ embed.t() + embed.pow(2).sum(-1))
        top2 = scores.topk(2, dim=-1).values
        spec = linear_spectrogram(torch.from_numpy(np.asarray(wav32k, np.float32))[None], sovits.config)
        emb = None
        if sovits.config.is_pro:
            from workers.sv_features import sv_fbank

            emb = sv(torch.from_numpy(sv_fbank(np.asarray(wav32k, np.float32), sovits.config.sampling_rate)))
            out["sv_emb"] = emb.reshape(-1).numpy().astype(np.float32)
        ge = sovits.style(spec, emb)
    return out | {"ssl": ssl.numpy(), "prompt_tokens": codes.numpy().astype(np.int64),
                  "ge": ge.reshape(-1).numpy().astype(np.float32), "code_margin": (top2[:, 0] - top2[:, 1]).numpy()}
