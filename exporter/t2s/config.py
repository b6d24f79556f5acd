"""T2S ("GPT") architecture, read from a checkpoint's own config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

#: Upstream s1longer-v2 defaults (the released v2 / s1v3 GPT weights).
DEFAULT_HIDDEN_DIM: Final = 512
DEFAULT_HEADS: Final = 16
DEFAULT_LAYERS: Final = 24
DEFAULT_MAX_SEC: Final = 54
BERT_DIM: Final = 1024
"""Width of the Chinese RoBERTa features the text side adds (hard-wired upstream)."""


@dataclass(frozen=True)
class T2SConfig:
    """Sizes of the Text2SemanticDecoder; every field comes from ``config["model"]``."""

    vocab_size: int = 1025
    """Semantic tokens incl. EOS (1024 codebook entries + 1)."""
    phoneme_vocab_size: int = 732
    """Rows of the phoneme embedding (732 for v2 symbols, 512 in v1 checkpoints)."""
    embedding_dim: int = DEFAULT_HIDDEN_DIM
    hidden_dim: int = DEFAULT_HIDDEN_DIM
    num_heads: int = DEFAULT_HEADS
    num_layers: int = DEFAULT_LAYERS
    eos: int = 1024
    """End-of-speech token id; upstream asserts it is ``vocab_size - 1``."""
    max_sec: int = DEFAULT_MAX_SEC
    """``data.max_sec``; upstream's default early-stop limit is 50 * max_sec tokens."""

    @property
    def head_dim(self) -> int:
        return self.hidden_dim // self.num_heads

    @property
    def ffn_dim(self) -> int:
        # Upstream hard-wires the FFN at 4x the model width; ``linear_units`` is never read.
        return 4 * self.hidden_dim

    @property
    def default_early_stop(self) -> int:
        # Upstream computes hz * max_sec with hz = 50 (a misnomer: tokens are 25 Hz).
        return 50 * self.max_sec

    @classmethod
    def from_checkpoint_config(cls, config: dict[str, Any]) -> T2SConfig:
        """Build from the ``config`` dict stored in a ``.ckpt`` (``model`` and ``data`` sections)."""
        model = config.get("model", {})
        data = config.get("data", {})
        return cls(
            vocab_size=int(model.get("vocab_size", 1025)),
            phoneme_vocab_size=int(model.get("phoneme_vocab_size", 732)),
            embedding_dim=int(model.get("embedding_dim", DEFAULT_HIDDEN_DIM)),
            hidden_dim=int(model.get("hidden_dim", DEFAULT_HIDDEN_DIM)),
            num_heads=int(model.get("head", DEFAULT_HEADS)),
            num_layers=int(model.get("n_layer", DEFAULT_LAYERS)),
            eos=int(model.get("EOS", 1024)),
            max_sec=int(data.get("max_sec", DEFAULT_MAX_SEC)),
        )

    def to_checkpoint_config(self) -> dict[str, Any]:
        """The inverse of :meth:`from_checkpoint_config` (used to write test checkpoints)."""
        return {
            "model": {
                "vocab_size": self.vocab_size,
                "phoneme_vocab_size": self.phoneme_vocab_size,
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "head": self.num_heads,
                "linear_units": self.ffn_dim,
                "n_layer": self.num_layers,
                "dropout": 0,
                "EOS": self.eos,
            },
            "data": {"max_sec": self.max_sec},
        }
