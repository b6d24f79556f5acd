"""Letters → ARPAbet for out-of-vocabulary words: g2p_en's GRU seq2seq checkpoint, run in numpy.

The ``g2p_en`` wheel ships ``checkpoint20.npz`` (a 1-layer GRU encoder over letters and a 1-layer GRU
decoder over phonemes, 256 units, greedy decoding). Importing ``g2p_en`` itself would call
``nltk.download`` (no network at run time), so we locate the package directory with
``importlib.util.find_spec`` — which does not execute the package — and read the weights ourselves.
The vocabularies below are the ones the checkpoint was trained with (their order is the embedding
row order).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from relaytts.errors import BundleError

__all__ = ["NeuralG2P", "g2p_en_dir"]

GRAPHEMES = ("<pad>", "<unk>", "</s>", *"abcdefghijklmnopqrstuvwxyz")
PHONEMES = (
    "<pad>", "<unk>", "<s>", "</s>",
    "AA0", "AA1", "AA2", "AE0", "AE1", "AE2", "AH0", "AH1", "AH2", "AO0", "AO1", "AO2", "AW0", "AW1", "AW2",
    "AY0", "AY1", "AY2", "B", "CH", "D", "DH", "EH0", "EH1", "EH2", "ER0", "ER1", "ER2", "EY0", "EY1", "EY2",
    "F", "G", "HH", "IH0", "IH1", "IH2", "IY0", "IY1", "IY2", "JH", "K", "L", "M", "N", "NG", "OW0", "OW1",
    "OW2", "OY0", "OY1", "OY2", "P", "R", "S", "SH", "T", "TH", "UH0", "UH1", "UH2", "UW", "UW0", "UW1", "UW2",
    "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
_START, _END = PHONEMES.index("<s>"), PHONEMES.index("</s>")
_MAX_STEPS = 20  # g2p_en decodes at most 20 phonemes, whatever the word's length
_DROPPED = frozenset(("<pad>", "<s>", "UW"))
_G2I = {g: i for i, g in enumerate(GRAPHEMES)}


def g2p_en_dir() -> Path:
    """The installed ``g2p_en`` package directory, found without importing the package."""
    spec = importlib.util.find_spec("g2p_en")
    if spec is None or not spec.submodule_search_locations:
        raise BundleError("the `g2p_en` package (English OOV model) is not installed: pip install g2p-en")
    return Path(next(iter(spec.submodule_search_locations)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class NeuralG2P:
    """Greedy GRU encoder-decoder that spells a lowercase word as ARPAbet phones."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self._w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        w = self._w
        self._hidden = w["enc_w_hh"].shape[1]
        # The decoder's input projection depends only on the previous phoneme: precompute it per phoneme.
        self._dec_in = w["dec_emb"] @ w["dec_w_ih"].T + w["dec_b_ih"]
        self._enc_in = w["enc_emb"] @ w["enc_w_ih"].T + w["enc_b_ih"]

    @classmethod
    def load(cls, path: Path | None = None) -> NeuralG2P:
        """Load the checkpoint (default: ``checkpoint20.npz`` inside the installed ``g2p_en``)."""
        path = path or g2p_en_dir() / "checkpoint20.npz"
        with np.load(path) as data:
            return cls({k: data[k] for k in data.files})

    def _step(self, x_proj: np.ndarray, h: np.ndarray, w_hh: np.ndarray, b_hh: np.ndarray) -> np.ndarray:
        # PyTorch GRU gate layout: rows are [reset; update; new].
        hh = w_hh @ h + b_hh
        n = self._hidden
        r = _sigmoid(x_proj[:n] + hh[:n])
        z = _sigmoid(x_proj[n : 2 * n] + hh[n : 2 * n])
        cand = np.tanh(x_proj[2 * n :] + r * hh[2 * n :])
        return (1.0 - z) * cand + z * h

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one long-lived instance per process
    def predict(self, word: str) -> tuple[str, ...]:
        """Return the phones for ``word`` as upstream keeps them (letters a–z; anything else reads as ``<unk>``)."""
        w = self._w
        h = np.zeros(self._hidden, dtype=np.float32)
        for ch in [*word.lower(), "</s>"]:
            h = self._step(self._enc_in[_G2I.get(ch, 1)], h, w["enc_w_hh"], w["enc_b_hh"])
        out: list[str] = []
        prev = _START
        for _ in range(_MAX_STEPS):
            h = self._step(self._dec_in[prev], h, w["dec_w_hh"], w["dec_b_hh"])
            prev = int(np.argmax(w["fc_w"] @ h + w["fc_b"]))
            if prev == _END:
                break
            out.append(PHONEMES[prev])
        # Upstream drops <pad>, <s> and the stressless "UW" (not in the v2 table) and writes <unk> as UNK.
        return tuple("UNK" if p == "<unk>" else p for p in out if p not in _DROPPED)
