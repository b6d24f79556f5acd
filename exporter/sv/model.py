"""ERes2NetV2 (3D-Speaker), the speaker-verification net of GPT-SoVITS v2Pro / v2ProPlus, as upstream uses it.

State-dict keys equal upstream's (``GPT_SoVITS/eres2net/ERes2NetV2.py``), so a ``pretrained_eres2netv2w24s4ep4.ckpt``
loads strictly. Only ``forward3`` is implemented, because it is the only path upstream calls: the fused last
stage ``[B, m*8*expansion, feat_dim/8, T/8]`` is flattened channel-major to ``[B, C*F, T/8]`` and averaged over
time (20480 values for m_channels 64, expansion 4, 80 bins). The pooling and ``seg_1`` embedding head are
kept as modules only so their weights load (they are in every file); nothing reads them.

Two activations, on purpose: the stem uses a plain ReLU; inside the blocks upstream's ``ReLU`` is
``Hardtanh(0, 20)``, which clips at 20 (trained weights can get there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ERes2NetV2", "ERes2NetV2Config"]

BLOCK_CLIP = 20.0
"""Upper bound of the blocks' ``ReLU`` (upstream subclasses ``nn.Hardtanh(0, 20)``)."""
AFF_REDUCTION = 4
"""Channel reduction of the attentional feature fusion's bottleneck (upstream ``AFF(r=4)``)."""


@dataclass(frozen=True)
class ERes2NetV2Config:
    """Constructor arguments of upstream's ``ERes2NetV2`` (defaults: what GPT-SoVITS' ``sv.py`` builds)."""

    m_channels: int = 64
    """Stem width; stage i has ``m_channels * 2**i`` planes and ``expansion`` times that many outputs."""
    feat_dim: int = 80
    """Mel bins of the fbank input; the last stage has ``feat_dim // 8`` frequency rows."""
    embedding_size: int = 192
    """Width of the (unused by GPT-SoVITS) ``seg_1`` embedding head."""
    num_blocks: tuple[int, ...] = (3, 4, 6, 3)
    """Residual blocks per stage; stages 3 and 4 use the AFF-fused block."""
    base_width: float = 24.0
    """Res2Net split width per 64 planes: a stage's split is ``floor(planes * base_width / 64)``."""
    scale: int = 4
    """Splits per block."""
    expansion: int = 4
    """Output channels per plane of each block."""
    two_emb_layer: bool = False
    """Upstream option adding ``seg_2``; GPT-SoVITS leaves it off."""

    def width(self, stage: int) -> int:
        """Split width of stage ``stage`` (0-based)."""
        return int(math.floor(self.m_channels * 2**stage * (self.base_width / 64.0)))

    @property
    def out_channels(self) -> int:
        """Channels of the fused last stage (2048 upstream)."""
        return self.m_channels * 8 * self.expansion

    @property
    def embedding_dim(self) -> int:
        """Size of the ``forward3`` embedding: channels x frequency rows (20480 upstream)."""
        return self.out_channels * (self.feat_dim // 8)


class _ClippedReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, 0.0, BLOCK_CLIP)


class AFF(nn.Module):
    """Attentional feature fusion: ``x * (1 + tanh(a)) + y * (1 - tanh(a))``, a from both inputs."""

    def __init__(self, channels: int, r: int = AFF_REDUCTION) -> None:
        super().__init__()
        inter = channels // r
        self.local_att = nn.Sequential(
            nn.Conv2d(channels * 2, inter, kernel_size=1),
            nn.BatchNorm2d(inter),
            nn.SiLU(),
            nn.Conv2d(inter, channels, kernel_size=1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gate = 1.0 + torch.tanh(self.local_att(torch.cat((x, y), dim=1)))
        return x * gate + y * (2.0 - gate)


class _Block(nn.Module):
    """Res2Net bottleneck: 1x1 -> ``scale`` chained 3x3 splits (summed, or AFF-fused) -> 1x1, plus shortcut."""

    def __init__(
        self, in_planes: int, planes: int, stride: int, width: int, scale: int, expansion: int, fused: bool
    ) -> None:
        super().__init__()
        self.width, self.scale = width, scale
        self.conv1 = nn.Conv2d(in_planes, width * scale, kernel_size=1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scale)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1, bias=False) for _ in range(scale))
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(scale))
        if fused:
            self.fuse_models = nn.ModuleList(AFF(width) for _ in range(scale - 1))
        self.fused = fused
        self.relu = _ClippedReLU()
        self.conv3 = nn.Conv2d(width * scale, planes * expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * expansion)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes * expansion:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes * expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * expansion),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        splits = torch.split(self.relu(self.bn1(self.conv1(x))), self.width, dim=1)
        outs: list[torch.Tensor] = []
        sp = splits[0]
        for i in range(self.scale):
            if i > 0:
                sp = self.fuse_models[i - 1](sp, splits[i]) if self.fused else sp + splits[i]
            sp = self.relu(self.bns[i](self.convs[i](sp)))
            outs.append(sp)
        out = self.bn3(self.conv3(torch.cat(outs, dim=1)))
        return self.relu(out + self.shortcut(x))


class ERes2NetV2(nn.Module):
    """fbank ``[B, T, feat_dim]`` -> speaker embedding ``[B, C * feat_dim/8]`` (upstream ``forward3``)."""

    def __init__(self, config: ERes2NetV2Config | None = None) -> None:
        super().__init__()
        cfg = config or ERes2NetV2Config()
        self.config = cfg
        m = cfg.m_channels
        self.conv1 = nn.Conv2d(1, m, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m)
        in_planes = m
        for stage, blocks in enumerate(cfg.num_blocks):
            planes = m * 2**stage
            layer = []
            for i in range(blocks):
                stride = (1 if stage == 0 else 2) if i == 0 else 1
                layer.append(
                    _Block(in_planes, planes, stride, cfg.width(stage), cfg.scale, cfg.expansion, fused=stage >= 2)
                )
                in_planes = planes * cfg.expansion
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layer))
        self.layer3_ds = nn.Conv2d(m * 4 * cfg.expansion, cfg.out_channels, 3, stride=2, padding=1, bias=False)
        self.fuse34 = AFF(cfg.out_channels)
        # Unused by forward3, present in every checkpoint: TSTP pooling (no weights) feeds mean+std to seg_1.
        stats_dim = (cfg.feat_dim // 8) * m * 8 * cfg.expansion
        self.seg_1 = nn.Linear(stats_dim * 2, cfg.embedding_size)
        if cfg.two_emb_layer:
            self.seg_bn_1 = nn.BatchNorm1d(cfg.embedding_size, affine=False)
            self.seg_2 = nn.Linear(cfg.embedding_size, cfg.embedding_size)

    def trunk(self, fbank: torch.Tensor) -> torch.Tensor:
        """fbank ``[B, T, F]`` -> fused last stage ``[B, C, F/8, T/8]`` (rounded up at every stride 2)."""
        x = fbank.transpose(1, 2).unsqueeze(1)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer2(self.layer1(out))
        out3 = self.layer3(out)
        return self.fuse34(self.layer4(out3), self.layer3_ds(out3))

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        """Upstream's ``forward3``: channel-major flatten of the last stage, mean over time."""
        return self.trunk(fbank).flatten(1, 2).mean(dim=-1)
