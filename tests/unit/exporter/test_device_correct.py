"""The PyTorch reference is device-correct: every tensor it makes takes its inputs' device.

Run on ``meta`` (no memory, no kernels): an operation mixing a meta tensor with a CPU one that a
model created on its own raises, so this finds what would break on CUDA without a GPU.
"""

from __future__ import annotations

import pytest
import torch

from exporter.checkpoint_io import read_checkpoint
from exporter.sovits import load_sovits
from exporter.t2s import load_t2s
from exporter.t2s.model import sinusoidal_positions


def test_sinusoidal_positions_follow_the_positions_device():
    table = sinusoidal_positions(torch.arange(5, device="meta"), 16)
    assert table.device.type == "meta" and table.shape == (5, 16)
    assert torch.equal(sinusoidal_positions(torch.arange(3), 8)[0, 1::2], torch.ones(4))  # cos(0) = 1


def test_t2s_prefill_and_step_run_on_meta(upstream_dir):
    model = load_t2s(read_checkpoint(upstream_dir / "gpt_v2.ckpt")).to("meta")
    phones = torch.zeros(1, 7, dtype=torch.long, device="meta")
    bert = torch.zeros(1, 1024, 7, device="meta")
    prompt = torch.zeros(1, 5, dtype=torch.long, device="meta")
    logits, k, v = model.prefill(phones, bert, prompt)
    assert logits.device.type == "meta"
    logits, k, v = model.step(torch.zeros(1, 1, dtype=torch.long, device="meta"), 5, k, v)
    assert logits.device.type == k.device.type == "meta"


@pytest.mark.parametrize("speed", [1.0, 1.25])
def test_sovits_decode_runs_on_meta(upstream_dir, speed):
    model = load_sovits(read_checkpoint(upstream_dir / "sovits_v2.pth")).to("meta")
    codes = torch.zeros(1, 1, 10, dtype=torch.long, device="meta")
    phones = torch.zeros(1, 6, dtype=torch.long, device="meta")
    ge = torch.zeros(1, model.config.gin_channels, 1, device="meta")
    wav = model.decode(
        codes,
        phones,
        ge,
        noise_scale=0.5,
        speed=speed,  # a float: meta has no values
        noise=None,
        generator=None,
    )
    assert wav.device.type == "meta"
