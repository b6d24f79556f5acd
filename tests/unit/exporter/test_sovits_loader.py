"""``load_sovits``: version detection from content, upstream file variants, and clear refusals.

Variant files are written to a temp dir from the upstream fixtures (same bytes layout upstream
writes: torch zip, optional 2-byte version tag, dict or pickled ``utils.HParams`` config).
"""

from __future__ import annotations

import copy
import io
import logging
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from exporter.checkpoint_io import read_checkpoint
from exporter.sovits import fold_weight_norm, load_sovits
from relaytts.errors import CheckpointError, UnsupportedModelVersion

UPSTREAM = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "upstream"
if not (UPSTREAM / "reference.npz").is_file():
    pytest.skip(
        f"upstream fixtures not found at {UPSTREAM.resolve()} (the shared/ folder beside the repo is absent)",
        allow_module_level=True,
    )

V2 = UPSTREAM / "sovits_v2.pth"
V2PP = UPSTREAM / "sovits_v2proplus.pth"


@pytest.fixture(scope="module")
def v2_raw():
    return read_checkpoint(V2)


@pytest.fixture(scope="module")
def v2pp_raw():
    return read_checkpoint(V2PP)


def write_pth(path: Path, weights: dict, config, header: bytes = b"PK", info: str = "1epoch_1iteration") -> Path:
    """torch.save like upstream, then overwrite the first two bytes with ``header`` (as my_save2 does)."""
    buffer = io.BytesIO()
    torch.save({"weight": weights, "config": config, "info": info}, buffer)
    path.write_bytes(header + buffer.getvalue()[2:])
    return path


def assert_one_error(exc: CheckpointError, path: Path, *words: str) -> None:
    message = str(exc)
    assert str(path) in message, message
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"


# ---- versions that load --------------------------------------------------------------------------


def test_fixtures_load_with_versions_from_content():
    assert load_sovits(V2).version == "v2"
    assert load_sovits(V2PP).version == "v2ProPlus"


def test_untagged_pro_file_is_told_apart_by_its_weights(tmp_path, v2pp_raw):
    path = write_pth(tmp_path / "plain_proplus.pth", v2pp_raw.weights, v2pp_raw.config, b"PK")
    assert load_sovits(path).version == "v2ProPlus"


def _pro_shaped(raw) -> tuple[dict, dict]:
    """The ProPlus fixture turned into a v2Pro-shaped model: first upsampling kernel 16 instead of 20."""
    weights = dict(raw.weights)
    g = torch.Generator().manual_seed(3)
    c_in, c_out, _ = raw.weights["dec.ups.0.weight_v"].shape  # the file's generator widths
    weights["dec.ups.0.weight_v"] = torch.randn(c_in, c_out, 16, generator=g).half()
    config = copy.deepcopy(raw.config)
    config["model"]["upsample_kernel_sizes"] = [16, *config["model"]["upsample_kernel_sizes"][1:]]
    config["model"]["version"] = "v2Pro"
    return weights, config


def test_tag_05_loads_as_v2pro_when_the_weights_are_v2pro(tmp_path, v2pp_raw):
    weights, config = _pro_shaped(v2pp_raw)
    model = load_sovits(write_pth(tmp_path / "pro.pth", weights, config, b"05"))
    assert model.version == "v2Pro"
    with torch.inference_mode():
        ge = model.style(torch.rand(1, model.config.spec_channels, 30), torch.rand(1, model.config.sv_dim))
        wav = model.decode(torch.randint(0, 1024, (1, 1, 3)), torch.randint(0, 732, (1, 4)), ge)
    assert wav.shape == (1, 1, 3 * model.config.samples_per_token)


def test_tag_05_on_proplus_weights_loads_as_what_the_weights_are(tmp_path, caplog):
    data = bytearray(V2PP.read_bytes())
    data[:2] = b"05"
    path = tmp_path / "mislabelled.pth"
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="exporter.sovits.loader"):
        model = load_sovits(path)
    # Both Pro variants run the same graph; the label follows the generator that will actually run.
    assert model.version == "v2ProPlus"
    assert any("v2Pro" in r.getMessage() and "v2ProPlus" in r.getMessage() for r in caplog.records)


def test_pro_tag_without_speaker_branch_is_refused(tmp_path):
    data = bytearray(V2.read_bytes())
    data[:2] = b"06"
    path = tmp_path / "v2_tagged_06.pth"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        load_sovits(path)
    assert_one_error(info.value, path, "v2ProPlus", "sv_emb")


def test_pickled_hparams_config_loads(tmp_path, v2_raw):
    """Fine-tuned files pickle ``config`` as upstream's ``utils.HParams``; that must load without upstream."""

    class HParams:
        def __init__(self, **kwargs):
            for key, value in kwargs.items():
                setattr(self, key, HParams(**value) if isinstance(value, dict) else value)

    HParams.__module__ = "utils"
    HParams.__qualname__ = "HParams"
    fake = types.ModuleType("utils")
    fake.HParams = HParams
    saved = sys.modules.get("utils")
    sys.modules["utils"] = fake
    try:
        path = write_pth(tmp_path / "finetune.pth", v2_raw.weights, HParams(**copy.deepcopy(v2_raw.config)))
    finally:
        if saved is None:
            del sys.modules["utils"]
        else:
            sys.modules["utils"] = saved
    assert b"utils" in path.read_bytes()  # really pickled as utils.HParams

    model = load_sovits(path)
    reference = load_sovits(V2)
    assert model.version == "v2"
    assert model.config == reference.config
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


# ---- refusals ------------------------------------------------------------------------------------


def test_truncated_file(tmp_path):
    path = tmp_path / "truncated.pth"
    path.write_bytes(V2.read_bytes()[:5_000_000])
    with pytest.raises(CheckpointError) as info:
        load_sovits(path)
    assert_one_error(info.value, path, "truncated")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.pth"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError) as info:
        load_sovits(path)
    assert_one_error(info.value, path, "checkpoint")


def test_gpt_checkpoint_given_as_sovits():
    path = UPSTREAM / "gpt_v2.ckpt"
    with pytest.raises(CheckpointError) as info:
        load_sovits(path)
    assert_one_error(info.value, path, "GPT")


def test_v3_like_file_with_cfm_weights(tmp_path, v2_raw):
    weights = dict(v2_raw.weights, **{"cfm.x": torch.zeros(3, dtype=torch.float16)})
    path = write_pth(tmp_path / "v3.pth", weights, v2_raw.config)
    with pytest.raises(UnsupportedModelVersion) as info:
        load_sovits(path)
    assert_one_error(info.value, path, "v3/v4", "cfm")


def test_v1_like_file_with_322_symbols(tmp_path, v2_raw):
    weights = dict(v2_raw.weights)
    weights["enc_p.text_embedding.weight"] = weights["enc_p.text_embedding.weight"][:322].clone()
    path = write_pth(tmp_path / "v1.pth", weights, v2_raw.config)
    with pytest.raises(UnsupportedModelVersion) as info:
        load_sovits(path)
    assert_one_error(info.value, path, "v1", "322")


@pytest.mark.parametrize(("tag", "name"), [(b"03", "v3"), (b"04", "v4")])
def test_lora_tagged_file(tmp_path, tag, name):
    data = bytearray(V2.read_bytes())
    data[:2] = tag
    path = tmp_path / f"lora_{name}.pth"
    path.write_bytes(bytes(data))
    with pytest.raises(UnsupportedModelVersion) as info:
        load_sovits(path)
    assert_one_error(info.value, path, name, "LoRA")


def test_missing_weights_are_listed(tmp_path, v2_raw):
    weights = {k: v for k, v in v2_raw.weights.items() if not k.startswith("flow.flows.2.")}
    path = write_pth(tmp_path / "missing.pth", weights, v2_raw.config)
    with pytest.raises(CheckpointError) as info:
        load_sovits(path)
    assert_one_error(info.value, path, "missing", "flow.flows.2.")


def test_unexpected_weights_are_listed(tmp_path, v2_raw):
    weights = dict(v2_raw.weights, **{"dec.extra.weight": torch.zeros(2, dtype=torch.float16)})
    path = write_pth(tmp_path / "extra.pth", weights, v2_raw.config)
    with pytest.raises(CheckpointError) as info:
        load_sovits(path)
    assert_one_error(info.value, path, "unexpected", "dec.extra.weight")


def test_config_that_does_not_describe_the_weights(tmp_path, v2_raw):
    config = copy.deepcopy(v2_raw.config)
    config["model"]["filter_channels"] += 128  # not what the weights were trained with
    path = write_pth(tmp_path / "wrong_config.pth", v2_raw.weights, config)
    with pytest.raises(CheckpointError) as info:
        load_sovits(path)
    assert_one_error(info.value, path, "shape", "ffn_layers")


def test_training_only_weights_are_ignored(tmp_path, v2_raw):
    weights = dict(v2_raw.weights, **{"enc_q.pre.weight": torch.zeros(192, 1025, 1, dtype=torch.float16)})
    path = write_pth(tmp_path / "with_enc_q.pth", weights, v2_raw.config)
    assert load_sovits(path).version == "v2"


# ---- weight-norm folding -------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::FutureWarning")  # legacy weight_norm: the form upstream files use
def test_fold_weight_norm_matches_torch_weight_norm_for_conv_and_transposed_conv():
    from torch.nn.utils import weight_norm

    torch.manual_seed(0)
    for module in (torch.nn.Conv1d(4, 6, 3), torch.nn.ConvTranspose1d(6, 3, 8, 4)):
        wn = weight_norm(module)  # legacy form, dim=0, as upstream saved them
        with torch.no_grad():
            wn.weight_g.mul_(torch.rand_like(wn.weight_g) + 0.5)  # g != ||v||
        state = {f"m.{k}": v for k, v in wn.state_dict().items()}
        folded = fold_weight_norm(state)
        assert set(folded) == {"m.weight", "m.bias"}
        wn(torch.randn(1, module.in_channels, 10))  # recompute .weight from g and v
        torch.testing.assert_close(folded["m.weight"], wn.weight.detach(), rtol=1e-6, atol=1e-7)
