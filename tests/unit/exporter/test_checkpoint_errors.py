"""Bad checkpoint files fail with one CheckpointError that names the file and the problem."""

from __future__ import annotations

import os
import pickle
import sys
import types
from pathlib import Path

import pytest
import torch

from exporter.checkpoint_io import read_checkpoint
from exporter.t2s import T2SConfig, Text2SemanticDecoder, load_t2s, save_t2s_checkpoint
from relaytts.errors import CheckpointError, UnsupportedModelVersion


def check_error(exc_info: pytest.ExceptionInfo, path: Path, *words: str) -> None:
    message = str(exc_info.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    assert "\n" not in message  # one line, fit for the CLI


def test_missing_file(tmp_path):
    path = tmp_path / "nope.ckpt"
    with pytest.raises(CheckpointError) as err:
        load_t2s(path)
    check_error(err, path, "no such file")


def test_directory(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_t2s(tmp_path)
    check_error(err, tmp_path, "directory")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.ckpt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError) as err:
        load_t2s(path)
    check_error(err, path, "does not look like")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_truncated(upstream_dir, tmp_path, keep):
    data = (upstream_dir / "gpt_v2.ckpt").read_bytes()
    path = tmp_path / "cut.ckpt"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError) as err:
        load_t2s(path)
    check_error(err, path, "truncated or corrupt")


def test_sovits_given_as_gpt(upstream_dir):
    for name, words in [("sovits_v2.pth", ("SoVITS", "not a GPT")), ("sovits_v2proplus.pth", ("v2ProPlus",))]:
        with pytest.raises(CheckpointError) as err:
            load_t2s(upstream_dir / name)
        check_error(err, upstream_dir / name, *words)


def test_v1_gpt_is_refused_by_name(tmp_path):
    model = Text2SemanticDecoder(T2SConfig(phoneme_vocab_size=512, hidden_dim=64, embedding_dim=64,
                                           num_heads=2, num_layers=1))
    path = save_t2s_checkpoint(model, tmp_path / "v1.ckpt")
    with pytest.raises(UnsupportedModelVersion) as err:
        load_t2s(path)
    check_error(err, path, "v1")


def test_weights_that_contradict_the_config(tmp_path):
    model = Text2SemanticDecoder(T2SConfig(hidden_dim=64, embedding_dim=64, num_heads=2, num_layers=2))
    path = save_t2s_checkpoint(model, tmp_path / "gpt.ckpt")
    payload = torch.load(path, weights_only=True)
    payload["config"]["model"]["n_layer"] = 3
    torch.save(payload, path)
    with pytest.raises(CheckpointError) as err:
        load_t2s(path)
    check_error(err, path, "missing")


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.ckpt"
    torch.save({"weight": {"model.x": torch.zeros(1)}, "config": Boom(), "info": ""}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    check_error(err, path, "not safe to load")


def test_a_torch_file_without_weights(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    check_error(err, path, "without 'weight'")


def test_pickled_hparams_config_loads(upstream_dir, tmp_path, monkeypatch):
    """Fine-tuned SoVITS files pickle upstream's utils.HParams; it must load with no upstream code around."""
    raw = read_checkpoint(upstream_dir / "sovits_v2.pth")

    class HParams:  # shaped like upstream's: nested dicts become nested HParams
        def __init__(self, **kwargs):
            for key, value in kwargs.items():
                setattr(self, key, HParams(**value) if isinstance(value, dict) else value)

    fake = types.ModuleType("utils")
    fake.HParams = HParams
    HParams.__module__, HParams.__qualname__ = "utils", "HParams"
    monkeypatch.setitem(sys.modules, "utils", fake)
    path = tmp_path / "finetune.pth"
    torch.save({"weight": raw.weights, "config": HParams(**raw.config), "info": "8epoch_100iteration"}, path)
    monkeypatch.delitem(sys.modules, "utils")

    again = read_checkpoint(path)
    assert again.config == raw.config
    assert again.config["model"]["gin_channels"] == 512
    assert again.info == "8epoch_100iteration"


def test_version_tag_header_is_read(upstream_dir):
    raw = read_checkpoint(upstream_dir / "sovits_v2proplus.pth")
    assert raw.header == b"06" and raw.header_version == "v2ProPlus"
    assert read_checkpoint(upstream_dir / "sovits_v2.pth").header_version is None
