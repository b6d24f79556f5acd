"""Architecture of a SoVITS v2 / v2Pro / v2ProPlus model, read from the checkpoint's own config.

Upstream builds ``SynthesizerTrn`` from the training config stored in each ``.pth`` file, so
fine-tunes (and our shrunk fixtures) can have non-default sizes. Everything the model needs is a
field here; the few sizes upstream hard-codes (SSL dim, codebook, MRTE width, flow depth, style
encoder width) are fields with those values so nothing else in the package has magic numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SUPPORTED_VERSIONS", "SoVITSConfig"]

#: Model versions this package implements (one graph; Pro variants add the speaker-verification branch).
SUPPORTED_VERSIONS: tuple[str, ...] = ("v2", "v2Pro", "v2ProPlus")


def _ints(value: Any, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"config value {name!r} must be a list of integers, got {value!r}") from None


@dataclass(frozen=True)
class SoVITSConfig:
    """Hyper-parameters of ``SynthesizerTrn`` at inference (defaults: upstream ``s2.json``, v2)."""

    version: str = "v2"
    """Model version decided by the loader from the file's content: ``v2``, ``v2Pro`` or ``v2ProPlus``."""

    # ---- data section -------------------------------------------------------------------------
    sampling_rate: int = 32000
    """Output (and reference-spectrogram) sample rate in Hz."""
    filter_length: int = 2048
    """STFT size (n_fft) of the reference linear spectrogram; gives ``filter_length // 2 + 1`` bins."""
    hop_length: int = 640
    """STFT hop of the reference spectrogram; equals the generator's total upsampling (samples per frame)."""
    win_length: int = 2048
    """STFT window length (periodic Hann) of the reference spectrogram."""

    # ---- model section ------------------------------------------------------------------------
    inter_channels: int = 192
    """Latent channels of ``z`` (flow and generator input); ``enc_p`` emits 2x this (mean, log-std)."""
    hidden_channels: int = 192
    """Width of the relative-position encoders, flow WaveNets and MRTE content side."""
    filter_channels: int = 768
    """Hidden width of the encoders' convolutional FFN."""
    n_heads: int = 2
    """Attention heads of the relative-position encoders (head size ``hidden_channels // n_heads``)."""
    n_layers: int = 6
    """Layers of ``enc_p.encoder_text``; ``encoder_ssl`` and ``encoder2`` have ``n_layers // 2`` each."""
    kernel_size: int = 3
    """Kernel of the encoders' FFN convolutions ("same" padding)."""
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    """Kernels of the parallel ResBlock1 branches averaged after each generator upsampling stage."""
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    """Dilations of the three convolutions inside each ResBlock1 branch (one tuple per branch)."""
    upsample_rates: tuple[int, ...] = (10, 8, 2, 2, 2)
    """Stride of each generator ConvTranspose1d stage; their product is the hop (640)."""
    upsample_initial_channel: int = 512
    """Generator width after ``conv_pre``; halves at every stage (v2ProPlus: 768)."""
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 8, 2, 2)
    """Kernel of each generator ConvTranspose1d stage (v2ProPlus: first one is 20)."""
    gin_channels: int = 512
    """Width of the global style vector ``ge`` that conditions flow and generator (v2Pro/Plus: 1024)."""

    # ---- sizes upstream hard-codes ------------------------------------------------------------
    ssl_dim: int = 768
    """Channels of the HuBERT features and of the VQ codebook vectors."""
    codebook_size: int = 1024
    """Rows of the single VQ codebook (semantic token vocabulary without EOS)."""
    n_symbols: int = 732
    """Rows of the phoneme embedding (v2 symbol table; v1's 322 is refused by the loader)."""
    window_size: int = 4
    """Relative-attention window: distances beyond +-window get no relative embedding."""
    mrte_hidden: int = 512
    """Width of the MRTE cross-attention (and of the ``ge`` it adds; v2Pro uses ``ge_to512``)."""
    mrte_heads: int = 4
    """Heads of the MRTE cross-attention."""
    style_bins: int = 704
    """Lowest spectrogram bins fed to the style encoder (v2 family; ~0-11 kHz)."""
    style_hidden: int = 128
    """Width of the MelStyleEncoder."""
    style_heads: int = 2
    """Heads of the MelStyleEncoder self-attention."""
    style_kernel: int = 5
    """Kernel of the MelStyleEncoder temporal GLU convolutions."""
    flow_kernel: int = 5
    """Kernel of the flow WaveNet convolutions."""
    flow_wn_layers: int = 4
    """WaveNet layers per coupling."""
    n_flows: int = 4
    """Coupling layers in the flow (each followed by a channel flip)."""
    sv_dim: int = 20480
    """Size of the ERes2NetV2 speaker-verification embedding (v2Pro/ProPlus only)."""

    def __post_init__(self) -> None:
        if self.version not in SUPPORTED_VERSIONS:
            raise ValueError(f"unsupported SoVITS version {self.version!r}; expected one of {SUPPORTED_VERSIONS}")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes must have the same length")
        if math.prod(self.upsample_rates) != self.hop_length:
            raise ValueError(
                f"generator upsampling {math.prod(self.upsample_rates)} does not equal hop_length {self.hop_length}"
            )
        for k, u in zip(self.upsample_kernel_sizes, self.upsample_rates, strict=True):
            if (k - u) % 2:
                raise ValueError(f"upsample kernel {k} with stride {u} cannot give an exact x{u} length")
        if self.upsample_initial_channel % (2 ** len(self.upsample_rates)):
            raise ValueError("upsample_initial_channel must stay an integer through every halving stage")
        if self.hidden_channels % self.n_heads:
            raise ValueError("hidden_channels must be divisible by n_heads")
        if self.inter_channels % 2:
            raise ValueError("inter_channels must be even (the flow splits it in halves)")
        if not self.is_pro and self.gin_channels != self.mrte_hidden:
            # v2 adds ge straight onto the MRTE output, so the widths must agree.
            raise ValueError(f"v2 needs gin_channels == {self.mrte_hidden}, got {self.gin_channels}")

    @property
    def is_pro(self) -> bool:
        """True for v2Pro / v2ProPlus (speaker-verification branch, ``ge_to512``)."""
        return self.version in ("v2Pro", "v2ProPlus")

    @property
    def spec_channels(self) -> int:
        """Bins of the reference linear spectrogram (1025 for n_fft 2048)."""
        return self.filter_length // 2 + 1

    @property
    def samples_per_frame(self) -> int:
        """Output samples per 50 Hz latent frame (640); a 25 Hz semantic token is two frames."""
        return math.prod(self.upsample_rates)

    @property
    def samples_per_token(self) -> int:
        """Output samples per semantic token (1280 at 32 kHz)."""
        return 2 * self.samples_per_frame

    @classmethod
    def from_checkpoint_config(cls, config: Mapping[str, Any], version: str) -> SoVITSConfig:
        """Build from a checkpoint's ``config`` dict (``model`` and ``data`` sections).

        Missing keys take the ``s2.json`` defaults; the loader's strict shape check then catches a
        config that does not describe the weights. Raises ``ValueError`` on malformed values.
        """
        model = config.get("model") or {}
        data = config.get("data") or {}
        if not isinstance(model, Mapping) or not isinstance(data, Mapping):
            raise ValueError("config 'model' and 'data' sections must be mappings")
        resblock = str(model.get("resblock", "1"))
        if resblock != "1":
            raise ValueError(f"only resblock '1' is implemented (upstream v2 family), config has {resblock!r}")
        defaults = cls()
        kwargs: dict[str, Any] = {"version": version}
        for name in ("sampling_rate", "filter_length", "hop_length", "win_length"):
            kwargs[name] = int(data.get(name, getattr(defaults, name)))
        for name in (
            "inter_channels",
            "hidden_channels",
            "filter_channels",
            "n_heads",
            "n_layers",
            "kernel_size",
            "upsample_initial_channel",
            "gin_channels",
        ):
            kwargs[name] = int(model.get(name, getattr(defaults, name)))
        for name in ("resblock_kernel_sizes", "upsample_rates", "upsample_kernel_sizes"):
            kwargs[name] = _ints(model.get(name, getattr(defaults, name)), name)
        dilations = model.get("resblock_dilation_sizes", defaults.resblock_dilation_sizes)
        try:
            kwargs["resblock_dilation_sizes"] = tuple(_ints(d, "resblock_dilation_sizes") for d in dilations)
        except TypeError:
            raise ValueError(f"config value 'resblock_dilation_sizes' is malformed: {dilations!r}") from None
        return cls(**kwargs)
