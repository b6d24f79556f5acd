"""SoVITS reimplementation vs reference arrays computed by upstream's own code from the same files.

Both fixture checkpoints (v2 with prefix ``v2_``, v2ProPlus with ``v2pp_``) are loaded through
``load_sovits`` and every stage is compared with upstream's float32 outputs (max abs diff 1e-4;
upstream's own fp64-vs-fp32 noise is <= 2e-5, see the fixture README).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from exporter.checkpoint_io import read_checkpoint
from exporter.sovits import SoVITS, linear_spectrogram, load_sovits

UPSTREAM = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "upstream"
if not (UPSTREAM / "reference.npz").is_file():
    pytest.skip(
        f"upstream fixtures not found at {UPSTREAM.resolve()} (the shared/ folder beside the repo is absent)",
        allow_module_level=True,
    )

TOL = 1e-4
MODELS = {"v2_": ("sovits_v2.pth", "v2"), "v2pp_": ("sovits_v2proplus.pth", "v2ProPlus")}


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(UPSTREAM / "reference.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module", params=sorted(MODELS), ids=lambda p: p.rstrip("_"))
def case(request, ref):
    """(prefix, model, ge computed from the reference ``ref_spec``)."""
    prefix = request.param
    model = load_sovits(UPSTREAM / MODELS[prefix][0])
    sv = torch.from_numpy(ref["sv_emb"]) if model.config.is_pro else None
    with torch.inference_mode():
        ge = model.style(torch.from_numpy(ref["ref_spec"]), sv)
    return prefix, model, ge


def t(ref: dict[str, np.ndarray], key: str) -> torch.Tensor:
    return torch.from_numpy(ref[key])


def assert_close(actual: torch.Tensor, ref: dict[str, np.ndarray], key: str, tol: float = TOL) -> None:
    expected = ref[key]
    assert tuple(actual.shape) == expected.shape, f"{key}: shape {tuple(actual.shape)} != {expected.shape}"
    diff = float((actual.detach().float() - torch.from_numpy(expected)).abs().max())
    assert diff <= tol, f"{key}: max abs diff {diff:.3g} > {tol:g}"


def test_loads_as_expected_version_in_float32_eval(case):
    prefix, model, _ = case
    assert isinstance(model, SoVITS)
    assert model.version == MODELS[prefix][1]
    assert not model.training
    assert all(p.dtype == torch.float32 for p in model.state_dict().values())
    # Architecture comes from the file's own config, not from upstream's defaults.
    stored = read_checkpoint(UPSTREAM / MODELS[prefix][0]).config["model"]
    cfg = model.config
    for name in ("filter_channels", "n_layers", "upsample_initial_channel", "gin_channels", "hidden_channels"):
        assert getattr(cfg, name) == stored[name], name
    assert cfg.upsample_kernel_sizes == tuple(stored["upsample_kernel_sizes"])


def test_extract_latent_codes_identical(case, ref):
    prefix, model, _ = case
    with torch.inference_mode():
        codes = model.extract_latent(t(ref, "ssl"))
    assert codes.dtype == torch.int64
    np.testing.assert_array_equal(codes.numpy(), ref[prefix + "prompt_codes"])


def test_linear_spectrogram_matches_upstream(case, ref):
    _, model, _ = case
    spec = linear_spectrogram(t(ref, "ref_audio_32k")[None], model.config)
    assert_close(spec, ref, "ref_spec")


def test_style_vector(case, ref):
    prefix, model, ge = case
    assert_close(ge, ref, prefix + "ge")
    if model.config.is_pro:
        with torch.inference_mode():
            raw = model.ref_enc(t(ref, "ref_spec")[:, :704])
            assert_close(raw, ref, prefix + "ge_refenc")
            assert_close(model.mrte_style(ge), ref, prefix + "ge512")


def test_style_from_our_spectrogram(case, ref):
    """End to end from audio: our spectrogram feeding the style encoder gives upstream's ge."""
    prefix, model, _ = case
    sv = t(ref, "sv_emb") if model.config.is_pro else None
    with torch.inference_mode():
        ge = model.style(linear_spectrogram(t(ref, "ref_audio_32k")[None], model.config), sv)
    assert_close(ge, ref, prefix + "ge")


def test_encoder_prior(case, ref):
    prefix, model, ge = case
    with torch.inference_mode():
        m_p, logs_p = model.encode(t(ref, "decode_codes"), t(ref, "decode_phones"), ge)
    assert_close(m_p, ref, prefix + "enc_m_p")
    assert_close(logs_p, ref, prefix + "enc_logs_p")


def test_flow_reverse(case, ref):
    prefix, model, ge = case
    with torch.inference_mode():
        z = model.flow_reverse(t(ref, prefix + "enc_m_p"), ge)
    assert_close(z, ref, prefix + "flow_z")


def test_decode_without_noise(case, ref):
    prefix, model, ge = case
    with torch.inference_mode():
        wav = model.decode(t(ref, "decode_codes"), t(ref, "decode_phones"), ge, noise_scale=0.0)
    assert wav.shape[-1] == model.config.samples_per_token * ref["decode_codes"].shape[-1]
    assert_close(wav, ref, prefix + "decode_wav")


def test_encoder_prior_speed_125(case, ref):
    prefix, model, ge = case
    with torch.inference_mode():
        m_p, _ = model.encode(t(ref, "decode_codes"), t(ref, "decode_phones"), ge, speed=1.25)
    assert m_p.shape[-1] == int(2 * ref["decode_codes"].shape[-1] / 1.25) + 1
    assert_close(m_p, ref, prefix + "enc_m_p_speed125")


def test_decode_speed_125(case, ref):
    prefix, model, ge = case
    with torch.inference_mode():
        wav = model.decode(t(ref, "decode_codes"), t(ref, "decode_phones"), ge, noise_scale=0.0, speed=1.25)
    assert_close(wav, ref, prefix + "decode_wav_speed125")


def test_decode_with_given_noise(case, ref):
    prefix, model, ge = case
    with torch.inference_mode():
        wav = model.decode(
            t(ref, "decode_codes"), t(ref, "decode_phones"), ge, noise_scale=0.5, noise=t(ref, "decode_eps")
        )
    assert_close(wav, ref, prefix + "decode_wav_ns05")


def test_decode_draws_noise_from_the_generator(case, ref):
    _, model, ge = case
    codes, phones = t(ref, "decode_codes")[:, :, :6], t(ref, "decode_phones")[:, :5]
    with torch.inference_mode():
        drawn = model.decode(codes, phones, ge, generator=torch.Generator().manual_seed(7))
        eps = torch.randn(1, model.config.inter_channels, 12, generator=torch.Generator().manual_seed(7))
        given = model.decode(codes, phones, ge, noise=eps)
        other = model.decode(codes, phones, ge, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(drawn, given, rtol=0, atol=0)
    assert not torch.equal(drawn, other)


def test_pro_style_requires_sv_emb(ref):
    model = load_sovits(UPSTREAM / MODELS["v2pp_"][0])
    with pytest.raises(ValueError, match="sv_emb"):
        model.style(t(ref, "ref_spec"))


def test_state_dict_keys_are_upstream_keys_with_weight_norm_folded(case):
    """Our keys == the file's keys with weight_g/weight_v -> weight and training buffers dropped."""
    from exporter.checkpoint_io import read_checkpoint

    prefix, model, _ = case
    raw = read_checkpoint(UPSTREAM / MODELS[prefix][0])
    upstream = set()
    for key in raw.weights:
        if key.endswith(("._codebook.embed_avg", "._codebook.cluster_size", "._codebook.inited")):
            continue
        upstream.add(key[: -len("_g")] if key.endswith((".weight_g", ".weight_v")) else key)
    assert set(model.state_dict()) == upstream
