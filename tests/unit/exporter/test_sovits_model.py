"""SoVITS building blocks without fixtures: full-size architecture, relative attention at every
length, the speed resampler, and traceability with dynamic lengths."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from exporter.sovits import SoVITS, SoVITSConfig
from exporter.sovits.attentions import RelativeSelfAttention
from exporter.sovits.text_encoder import linear_resize, speed_length

PROPLUS = {"gin_channels": 1024, "upsample_initial_channel": 768, "upsample_kernel_sizes": (20, 16, 8, 2, 2)}


def _weight_norm_gains(model: SoVITS) -> int:
    """Elements of the weight_g tensors upstream stores for what our loader folds (dim 0 per conv)."""
    total = 0
    for name, value in model.state_dict().items():
        weight_normed = (
            ".enc.in_layers." in name
            or ".enc.res_skip_layers." in name
            or ".enc.cond_layer." in name
            or name.startswith(("dec.ups.", "dec.resblocks."))
        )
        if weight_normed and name.endswith(".weight"):
            total += value.shape[0]
    return total


@pytest.mark.parametrize(
    ("version", "overrides", "upstream_millions"),
    [("v2", {}, 42.39), ("v2Pro", {"gin_channels": 1024}, 67.36), ("v2ProPlus", PROPLUS, 86.27)],
)
def test_full_size_parameter_count_matches_upstream(version, overrides, upstream_millions):
    """Spec §3.11 totals (upstream instantiated, excl. enc_q, incl. quantizer buffers and weight_g)."""
    model = SoVITS(SoVITSConfig(version=version, **overrides))
    ours = sum(v.numel() for v in model.state_dict().values())
    dropped_buffers = 1024 * 768 + 1024 + 1  # embed_avg, cluster_size, inited
    total = ours + dropped_buffers + _weight_norm_gains(model)
    assert round(total / 1e6, 2) == upstream_millions


def test_full_size_v2_prefix_tensor_counts_match_upstream():
    sd = SoVITS(SoVITSConfig()).state_dict()
    count = {p: sum(1 for k in sd if k.startswith(p + ".")) for p in ("enc_p", "ref_enc", "ssl_proj")}
    elements = {p: sum(v.numel() for k, v in sd.items() if k.startswith(p + ".")) for p in count}
    assert count == {"enc_p": 235, "ref_enc": 18, "ssl_proj": 2}
    assert {p: round(n / 1e6, 2) for p, n in elements.items()} == {"enc_p": 14.15, "ref_enc": 0.57, "ssl_proj": 1.18}


def test_full_size_default_v2_decode_length():
    torch.manual_seed(0)
    cfg = SoVITSConfig()  # s2.json: filter 768, 6 layers, 512 initial channels, gin 512
    assert (cfg.filter_channels, cfg.n_layers, cfg.upsample_initial_channel, cfg.gin_channels) == (768, 6, 512, 512)
    model = SoVITS(cfg).eval()
    tg = 20
    with torch.inference_mode():
        ge = model.style(torch.rand(1, cfg.spec_channels, 60))
        wav = model.decode(torch.randint(0, 1024, (1, 1, tg)), torch.randint(0, 732, (1, 15)), ge)
    assert ge.shape == (1, 512, 1)
    assert wav.shape == (1, 1, 1280 * tg)
    assert torch.isfinite(wav).all() and wav.abs().max() <= 1


# ---- relative attention ----------------------------------------------------------------------------


def naive_relative_attention(attn: RelativeSelfAttention, x: torch.Tensor) -> torch.Tensor:
    """Spec §3.3 written as loops: per (i, j), relative term only when |j - i| <= window."""
    h, d, w = attn.n_heads, attn.k_channels, attn.window_size
    t = x.shape[-1]
    q, k, v = attn.conv_q(x)[0], attn.conv_k(x)[0], attn.conv_v(x)[0]  # [C, T]
    ek, ev = attn.emb_rel_k[0], attn.emb_rel_v[0]
    out = torch.zeros_like(q)
    for head in range(h):
        sl = slice(head * d, (head + 1) * d)
        for i in range(t):
            qi = q[sl, i] / math.sqrt(d)
            scores = torch.stack([qi @ k[sl, j] + (qi @ ek[j - i + w] if abs(j - i) <= w else 0.0) for j in range(t)])
            p = torch.softmax(scores, dim=0)
            o = sum(p[j] * v[sl, j] for j in range(t))
            o = o + sum(p[j] * ev[j - i + w] for j in range(t) if abs(j - i) <= w)
            out[sl, i] = o
    return attn.conv_o(out[None])


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 9, 10, 13])
def test_relative_attention_matches_the_definition_at_every_length(length):
    torch.manual_seed(length)
    attn = RelativeSelfAttention(channels=8, n_heads=2, window_size=4)
    x = torch.randn(1, 8, length)
    with torch.no_grad():
        torch.testing.assert_close(attn(x), naive_relative_attention(attn, x), rtol=1e-5, atol=1e-5)


# ---- speed -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "speed"), [(80, 1.25), (80, 0.8), (7, 1.1), (1, 2.0), (33, 0.5), (50, 1.0)])
def test_linear_resize_matches_interpolate(length, speed):
    x = torch.randn(2, 3, length)
    size = speed_length(length, speed)
    assert size == (length if speed == 1 else int(length / speed) + 1)
    expected = F.interpolate(x, size=size, mode="linear") if speed != 1 else x
    # F.interpolate's kernel rounds its weights a little differently: a few float32 ulps.
    torch.testing.assert_close(linear_resize(x, size), expected, rtol=1e-5, atol=1e-5)
    as_tensor = speed_length(torch.tensor(length), torch.tensor(speed, dtype=torch.float64))
    assert int(as_tensor) == size


# ---- export readiness --------------------------------------------------------------------------------


def small_config(version: str = "v2") -> SoVITSConfig:
    return SoVITSConfig(
        version=version,
        filter_channels=64,
        n_layers=2,
        upsample_initial_channel=32,
        gin_channels=512 if version == "v2" else 64,
    )


class _Decode(torch.nn.Module):
    def __init__(self, model: SoVITS) -> None:
        super().__init__()
        self.model = model

    def forward(self, codes, phones, ge, noise, speed):
        return self.model.decode(codes, phones, ge, noise_scale=0.5, speed=speed, noise=noise)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.trace: still what the ONNX exporter uses
def test_traced_decode_generalises_to_other_lengths_and_speeds():
    """A graph traced at one length must run every other length (incl. shorter than the window)."""
    torch.manual_seed(0)
    model = SoVITS(small_config("v2ProPlus")).eval()
    ge = model.style(torch.rand(1, 1025, 12), torch.rand(1, 20480)).detach()

    def inputs(tg: int, nt: int, speed: float):
        codes, phones = torch.randint(0, 1024, (1, 1, tg)), torch.randint(0, 732, (1, nt))
        frames = speed_length(2 * tg, speed)
        return codes, phones, ge, torch.randn(1, 192, frames), torch.tensor(speed)

    wrapper = _Decode(model)
    with torch.no_grad():
        traced = torch.jit.trace(wrapper, inputs(6, 5, 1.0), check_trace=False)
        for tg, nt, speed in [(1, 1, 1.0), (2, 3, 1.0), (9, 12, 1.0), (5, 4, 1.25), (3, 2, 0.8)]:
            args = inputs(tg, nt, speed)
            expected = wrapper(*args)
            assert expected.shape[-1] == 640 * speed_length(2 * tg, speed)
            torch.testing.assert_close(traced(*args), expected, rtol=1e-5, atol=1e-5)

def test_config_rejects_inconsistent_sizes():
    with pytest.raises(ValueError, match="hop_length"):
        SoVITSConfig(upsample_rates=(10, 8, 2, 2, 1), upsample_kernel_sizes=(16, 16, 8, 2, 1))
    with pytest.raises(ValueError, match="gin_channels"):
        SoVITSConfig(version="v2", gin_channels=1024)
    with pytest.raises(ValueError, match="version"):
        SoVITSConfig(version="v4")
