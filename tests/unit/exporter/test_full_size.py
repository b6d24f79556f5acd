"""Full-size v2 weights (24-layer GPT, default SoVITS) in upstream's formats load and run here."""

from __future__ import annotations

import pytest
import torch

from exporter.random_weights import write_random_checkpoints
from exporter.sovits import load_sovits
from exporter.t2s import load_t2s

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full_size(tmp_path_factory):
    return write_random_checkpoints(tmp_path_factory.mktemp("full"), "v2")


def test_full_size_gpt_loads_and_decodes(full_size):
    model = load_t2s(full_size[0])
    cfg = model.config
    assert (cfg.num_layers, cfg.hidden_dim, cfg.num_heads) == (24, 512, 16)
    assert sum(p.numel() for p in model.parameters()) == 77_606_402  # upstream's v2 count
    with torch.inference_mode():
        logits, k, v = model.prefill(torch.randint(0, 732, (1, 40)), torch.randn(1, 1024, 40),
                                     torch.randint(0, 1024, (1, 30)))
        logits, k, v = model.step(logits.argmax(-1, keepdim=True), 30, k, v)
    assert logits.shape == (1, 1025) and k.shape == (24, 1, 71, 512)
    assert torch.isfinite(logits).all()


def test_full_size_sovits_loads_and_decodes(full_size):
    model = load_sovits(full_size[1])
    assert model.config.version == "v2" and model.config.upsample_initial_channel == 512
    with torch.inference_mode():
        wav = model.decode(torch.randint(0, 1024, (1, 1, 25)), torch.randint(0, 732, (1, 12)),
                           torch.randn(1, 512, 1), noise_scale=0.0)
    assert wav.shape == (1, 1, 25 * 1280)
    assert torch.isfinite(wav).all()


@pytest.mark.parametrize("version", ["v2", "v2Pro", "v2ProPlus"])
def test_written_sovits_files_are_read_back_as_their_version(tmp_path, version):
    from exporter.random_weights import random_sovits, save_sovits_checkpoint

    model = random_sovits(version, upsample_initial_channel=64, filter_channels=256, n_layers=2)
    path = save_sovits_checkpoint(model, tmp_path / "s.pth")
    assert path.read_bytes()[:2] == {"v2": b"PK", "v2Pro": b"05", "v2ProPlus": b"06"}[version]
    loaded = load_sovits(path)
    assert loaded.config == model.config
    for key, value in model.state_dict().items():
        assert torch.allclose(loaded.state_dict()[key], value, atol=2e-3, rtol=2e-3), key  # fp16 on disk
