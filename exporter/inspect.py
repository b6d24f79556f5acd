"""What a checkpoint file is: kind, version and size, proven by actually loading it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from exporter.checkpoint_io import read_checkpoint

__all__ = ["CheckpointSummary", "describe_checkpoint"]


@dataclass(frozen=True)
class CheckpointSummary:
    path: Path
    kind: str
    """``gpt`` (T2S), ``sovits`` or ``sv`` (the ERes2NetV2 speaker-verification net of v2Pro / v2ProPlus)."""
    version: str
    architecture: str
    parameters: int
    load_seconds: float

    def as_row(self) -> list[object]:
        return [self.path.name, self.kind, self.version, self.architecture, f"{self.parameters:,}",
                round(self.load_seconds, 2)]


def describe_checkpoint(path: str | Path) -> CheckpointSummary:
    """Load ``path`` with the matching loader (errors are the loaders' CheckpointErrors)."""
    from exporter.sovits import load_sovits
    from exporter.t2s import load_t2s
    from relaytts.errors import CheckpointError

    start = time.perf_counter()
    try:
        raw = read_checkpoint(path)
    except CheckpointError as error:
        summary = _describe_sv(Path(path), start)
        if summary is None:
            raise error from None
        return summary
    if all(key.startswith("model.") for key in raw.weights):
        t2s = load_t2s(raw)
        cfg = t2s.config
        return CheckpointSummary(
            path=Path(path), kind="gpt", version="v2 (732 symbols)",
            architecture=f"{cfg.num_layers} layers x {cfg.hidden_dim}, {cfg.num_heads} heads",
            parameters=sum(p.numel() for p in t2s.parameters()),
            load_seconds=time.perf_counter() - start,
        )
    sovits = load_sovits(raw)
    cfg = sovits.config
    return CheckpointSummary(
        path=Path(path), kind="sovits", version=cfg.version,
        architecture=f"gin {cfg.gin_channels}, generator {cfg.upsample_initial_channel} ch",
        parameters=sum(p.numel() for p in sovits.parameters()),
        load_seconds=time.perf_counter() - start,
    )


def _describe_sv(path: Path, start: float) -> CheckpointSummary | None:
    """The summary of an ERes2NetV2 state dict (upstream ships it bare, not in a GPT-SoVITS wrapper), else None."""
    from exporter.sv import load_sv
    from relaytts.errors import CheckpointError

    try:
        net = load_sv(path)
    except CheckpointError:
        return None
    cfg = net.config
    return CheckpointSummary(
        path=path, kind="sv", version="ERes2NetV2 (v2Pro/v2ProPlus)",
        architecture=f"m{cfg.m_channels}, split {cfg.width(0)}, scale {cfg.scale}, expansion {cfg.expansion}, "
        f"embedding {cfg.embedding_dim}",
        parameters=sum(p.numel() for p in net.parameters()),
        load_seconds=time.perf_counter() - start,
    )
