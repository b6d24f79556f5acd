"""The demo bundle: randomly initialised weights, so ``relaytts demo`` runs with no checkpoints at all.

Its audio is noise-like by construction; it proves the pipeline (export, workers, relay, edge
vocoder), not a voice. The default is a reduced size (6-layer T2S, slimmer SoVITS) so a fresh
machine builds and speaks within a minute; ``full_size=True`` gives upstream's sizes. ``version`` picks the
SoVITS preset: v2, or v2Pro / v2ProPlus with a random ERes2NetV2 ``sv`` graph (reduced split width unless
full size; its 20480-d output and the 1024->2048 downsampling conv cannot shrink, so it adds ~110 MB).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bundle import Bundle, Precision
from exporter.onnx.bundle_export import export_bundle
from exporter.random_weights import write_random_checkpoints, write_random_sv
from exporter.sv.model import ERes2NetV2Config
from exporter.t2s.config import T2SConfig
from relaytts.errors import InvalidArgument

__all__ = ["DEMO_NOTICE", "build_demo_bundle"]

DEMO_NOTICE = (
    "demo bundle: randomly initialised weights, so the audio is noise-like by design; it proves the "
    "pipeline, not a voice. Export your own checkpoints with `relaytts export` for real speech."
)
SMALL_T2S = T2SConfig(hidden_dim=256, embedding_dim=256, num_heads=8, num_layers=6)
SMALL_SOVITS = {"filter_channels": 256, "n_layers": 3, "upsample_initial_channel": 128}
SMALL_SV = ERes2NetV2Config(base_width=4, embedding_size=16)
"""The demo's speaker net: upstream's architecture with split width 4 instead of 24 (what the fixtures use)."""


def build_demo_bundle(out: str | Path, full_size: bool = False, seed: int = 0, version: str = "v2") -> Bundle:
    """Write (or reuse) a demo bundle of SoVITS ``version`` at ``out``; returns it opened and verified."""
    out = Path(out)
    if (out / "manifest.json").is_file():
        bundle = Bundle.open(out)
        if bundle.manifest.model_version != version:
            raise InvalidArgument(f"{out} holds a {bundle.manifest.model_version} demo bundle, not {version}; "
                                  "pass another --bundle directory")
        return bundle
    with tempfile.TemporaryDirectory() as tmp:
        if full_size:
            gpt, sovits = write_random_checkpoints(tmp, version, seed)
        else:
            gpt, sovits = write_random_checkpoints(tmp, version, seed, t2s_config=SMALL_T2S, **SMALL_SOVITS)
        sv = None
        if version != "v2":
            sv = write_random_sv(tmp, seed + 2, None if full_size else SMALL_SV)
        partial = out.with_name(out.name + ".building")
        shutil.rmtree(partial, ignore_errors=True)
        export_bundle(gpt, sovits, partial, (Precision.FP32,), force=True, sv_path=sv)
        partial.rename(out)
    return Bundle.open(out)
