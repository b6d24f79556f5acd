"""The demo bundle: randomly initialised weights, so ``relaytts demo`` runs with no checkpoints at all.

Its audio is noise-like by construction; it proves the pipeline (export, workers, relay, edge
vocoder), not a voice. The default is a reduced size (6-layer T2S, slimmer SoVITS) so a fresh
machine builds and speaks within a minute; ``full_size=True`` gives upstream's v2 sizes.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bundle import Bundle, Precision
from exporter.onnx.bundle_export import export_bundle
from exporter.random_weights import write_random_checkpoints
from exporter.t2s.config import T2SConfig

__all__ = ["DEMO_NOTICE", "build_demo_bundle"]

DEMO_NOTICE = (
    "demo bundle: randomly initialised weights, so the audio is noise-like by design; it proves the "
    "pipeline, not a voice. Export your own checkpoints with `relaytts export` for real speech."
)
SMALL_T2S = T2SConfig(hidden_dim=256, embedding_dim=256, num_heads=8, num_layers=6)
SMALL_SOVITS = {"filter_channels": 256, "n_layers": 3, "upsample_initial_channel": 128}


def build_demo_bundle(out: str | Path, full_size: bool = False, seed: int = 0) -> Bundle:
    """Write (or reuse) a demo bundle at ``out``; returns it opened and verified."""
    out = Path(out)
    if (out / "manifest.json").is_file():
        return Bundle.open(out)
    with tempfile.TemporaryDirectory() as tmp:
        if full_size:
            gpt, sovits = write_random_checkpoints(tmp, "v2", seed)
        else:
            gpt, sovits = write_random_checkpoints(tmp, "v2", seed, t2s_config=SMALL_T2S, **SMALL_SOVITS)
        partial = out.with_name(out.name + ".building")
        shutil.rmtree(partial, ignore_errors=True)
        export_bundle(gpt, sovits, partial, (Precision.FP32,), force=True)
        partial.rename(out)
    return Bundle.open(out)
