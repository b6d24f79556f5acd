"""Test material for the voice library: a tiny HuBERT folder, real speech from espeak-ng, derived bundles.

Nothing is downloaded. The HuBERT is a randomly initialised ``transformers.HubertModel`` with the
chinese-hubert-base architecture (same class, same 768-d features, same 320-sample frame hop) but 2
layers and narrow convolutions, so export and conditioning take a fraction of a second. Speech comes
from the ``espeak-ng`` binary (``apt-get install -y espeak-ng``); tests that need it skip, saying so,
where it is missing.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np

#: What the registered speech says (about 5 s from espeak-ng at its default rate).
SPEECH_TEXT = "The quick brown fox jumps over the lazy dog, and then it runs away into the forest."


def write_tiny_hubert(folder: Path, seed: int = 0) -> Path:
    """Save a random HuBERT-base-shaped ``HubertModel`` (2 layers, 128-wide convs) into ``folder``."""
    import torch
    from transformers import HubertConfig, HubertModel

    config = HubertConfig(num_hidden_layers=2, intermediate_size=1024, conv_dim=(128,) * 7)
    torch.manual_seed(seed)
    HubertModel(config).eval().save_pretrained(folder)
    return folder


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_wav(text: str = SPEECH_TEXT, *, voice: str = "en", pitch: int = 50, speed: int = 175) -> bytes:
    """A WAV file (22.05 kHz, 16-bit mono) of espeak-ng speaking ``text``."""
    proc = subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "--stdout", text],
                          capture_output=True, check=True, timeout=60)
    return proc.stdout


def wav_bytes(samples: np.ndarray, rate: int, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    """``samples`` written as an audio file in memory (soundfile formats: WAV, FLAC, OGG, MP3, AIFF...)."""
    import soundfile

    out = io.BytesIO()
    soundfile.write(out, samples, rate, format=fmt, subtype=subtype)
    return out.getvalue()


def speech_samples(data: bytes) -> tuple[np.ndarray, int]:
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def derive_bundle(source: Path, dest: Path, hubert_dir: Path) -> Path:
    """A copy of bundle ``source`` whose hubert graph is exported from ``hubert_dir``: the same T2S and SoVITS,
    another HuBERT, hence another bundle id (what a deployment that re-exported its bundle looks like)."""
    from bundle import Bundle
    from bundle.manifest import MANIFEST_NAME, Role, sha256_file
    from exporter.onnx.hubert_export import export_hubert, load_hubert

    shutil.copytree(source, dest)
    graph = dest / "hubert.onnx"
    graph.unlink()
    exported = export_hubert(hubert_dir, graph)
    manifest = Bundle.open(source).manifest
    files = [dataclasses.replace(f, sha256=sha256_file(graph), size_bytes=graph.stat().st_size,
                                 parity=exported.parity) if f.role is Role.HUBERT else f for f in manifest.files]
    sources = manifest.sources | {"hubert": load_hubert(hubert_dir).source()}
    (dest / MANIFEST_NAME).write_text(dataclasses.replace(manifest, files=files, sources=sources).to_json())
    return dest
