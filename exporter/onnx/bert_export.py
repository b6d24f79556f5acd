"""Export the optional ``bert`` graph: Chinese RoBERTa features per character, as upstream feeds T2S.

Upstream runs ``chinese-roberta-wwm-ext-large`` (a ``BertForMaskedLM`` checkpoint in Hugging Face
format) on the normalised Chinese text with ``output_hidden_states=True`` and keeps
``hidden_states[-3]`` without the ``[CLS]``/``[SEP]`` rows: one 1024-d vector per character (spec §1.6).

The graph computes exactly that and nothing more: the embeddings and the first ``num_layers - 2``
transformer layers (the last two layers and the MLM head do not contribute to ``hidden_states[-3]``
and are left out of the file)::

    input_ids      int64   [1, T]        [CLS] + one vocabulary id per character + [SEP]
    char_features  float32 [T - 2, H]    H = hidden size (1024)

No attention mask: batch is 1 and nothing is padded. ``T`` is dynamic up to the model's
``max_position_embeddings`` (512, i.e. 510 characters).

The tokenizer travels with the graph: its vocabulary is written beside it as ``bert_vocab.txt``, and
the graph's ONNX metadata (``metadata_props``) names that file, its sha256 and the normalisation
flags, so the manifest's hash of ``bert.onnx`` pins the vocabulary too. The runtime side
(``workers/frontend/bert_onnx.py``) reads only the graph, its metadata and the vocabulary file.

``transformers`` is imported lazily: exporting a bundle without ``--bert`` does not need it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bundle.manifest import sha256_file
from relaytts.errors import InvalidArgument

__all__ = [
    "BERT_DIM",
    "BertExport",
    "LoadedBert",
    "PARITY_CHARS",
    "VOCAB_FILE",
    "bert_parity",
    "export_bert",
    "export_bert_graph",
    "load_bert",
    "read_tokenizer_settings",
]

OPSET = 17
BERT_DIM = 1024
"""Width T2S's ``bert_proj`` reads (the hidden size of chinese-roberta-wwm-ext-large)."""
HIDDEN_STATE = -3
"""Which ``hidden_states`` entry upstream uses (output of layer 22 of 24)."""
VOCAB_FILE = "bert_vocab.txt"
#: Character counts the parity check runs: a single character, short, typical, long.
PARITY_CHARS = (1, 7, 64, 300)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
SPECIAL_TOKENS = {"cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]"}


@dataclass(frozen=True)
class TokenizerSettings:
    """What the runtime needs to turn normalised text into the ids the model was trained on."""

    vocab: list[str]
    """Tokens in id order (line ``i`` of ``bert_vocab.txt`` is id ``i``)."""
    do_lower_case: bool = True
    strip_accents: bool | None = None
    """``None``: follow ``do_lower_case`` (BERT's default)."""
    special: dict[str, str] = field(default_factory=lambda: dict(SPECIAL_TOKENS))


@dataclass(frozen=True)
class LoadedBert:
    """A BERT checkpoint folder loaded for export."""

    model_dir: Path
    model: Any
    """``transformers.BertModel`` in eval mode, fp32."""
    tokenizer: TokenizerSettings
    weights_file: Path

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def max_chars(self) -> int:
        return int(self.model.config.max_position_embeddings) - 2

    def source(self) -> dict[str, str]:
        """Entry for ``Manifest.sources``."""
        return {
            "file": f"{self.model_dir.name}/{self.weights_file.name}",
            "sha256": sha256_file(self.weights_file),
            "info": f"BERT {self.num_layers} layers, hidden {self.hidden_size}, features = hidden_states[-3]",
        }


@dataclass(frozen=True)
class BertExport:
    """What ``export_bert`` wrote and measured."""

    graph: Path
    vocab: Path
    parity: dict[str, float]


def read_tokenizer_settings(model_dir: Path) -> TokenizerSettings:
    """Vocabulary and normalisation flags of a Hugging Face BERT folder.

    The vocabulary comes from ``vocab.txt``, or from ``tokenizer.json`` (WordPiece ``model.vocab``) for
    folders that only ship the fast tokenizer (GPT-SoVITS's copy of chinese-roberta-wwm-ext-large has
    config.json, pytorch_model.bin and tokenizer.json only). The flags follow what ``AutoTokenizer``
    ends up using: ``tokenizer_config.json``'s ``do_lower_case`` / ``strip_accents``, defaulting to
    lower-casing with accent stripping (``BertTokenizerFast`` re-applies its init flags over the
    normaliser stored in tokenizer.json).
    """
    vocab_txt, tokenizer_json = model_dir / "vocab.txt", model_dir / "tokenizer.json"
    if vocab_txt.is_file():
        with open(vocab_txt, encoding="utf-8") as reader:  # as transformers' load_vocab reads it
            vocab = [line.rstrip("\n") for line in reader.readlines()]
    elif tokenizer_json.is_file():
        vocab = _vocab_from_tokenizer_json(tokenizer_json)
    else:
        raise InvalidArgument(f"{model_dir}: no vocab.txt or tokenizer.json; the BERT tokenizer cannot be exported")
    config: dict[str, Any] = {}
    if (model_dir / "tokenizer_config.json").is_file():
        config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    special = dict(SPECIAL_TOKENS)
    for key in special:
        value = config.get(key)
        if isinstance(value, dict):  # AddedToken serialised as a dict
            value = value.get("content")
        if isinstance(value, str):
            special[key] = value
    missing = [tok for tok in special.values() if tok not in set(vocab)]
    if missing:
        raise InvalidArgument(f"{model_dir}: the BERT vocabulary lacks {', '.join(missing)}")
    strip = config.get("strip_accents")
    return TokenizerSettings(vocab=vocab, do_lower_case=bool(config.get("do_lower_case", True)),
                             strip_accents=None if strip is None else bool(strip), special=special)


def _vocab_from_tokenizer_json(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model") or {}
    if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        raise InvalidArgument(f"{path}: not a WordPiece (BERT) tokenizer")
    by_id = {int(i): tok for tok, i in model["vocab"].items()}
    for added in data.get("added_tokens") or []:
        by_id.setdefault(int(added["id"]), added["content"])
    if sorted(by_id) != list(range(len(by_id))):
        raise InvalidArgument(f"{path}: vocabulary ids are not 0..{len(by_id) - 1} without gaps")
    return [by_id[i] for i in range(len(by_id))]


def load_bert(model_dir: str | Path) -> LoadedBert:
    """Load a local BertModel folder (config.json + weights + vocab) in fp32; never downloads."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise InvalidArgument(f"{model_dir}: not a Hugging Face model folder (no config.json)")
    weights = next((model_dir / name for name in WEIGHT_FILES if (model_dir / name).is_file()), None)
    if weights is None:
        raise InvalidArgument(f"{model_dir}: no {' or '.join(WEIGHT_FILES)}")
    tokenizer = read_tokenizer_settings(model_dir)
    from transformers import BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    config = BertConfig.from_pretrained(model_dir, local_files_only=True)
    if config.model_type != "bert" or config.is_decoder:
        raise InvalidArgument(f"{model_dir}: a {config.model_type} model{' decoder' if config.is_decoder else ''}; "
                              "expected a BERT encoder (chinese-roberta-wwm-ext-large)")
    if config.hidden_size != BERT_DIM:
        raise InvalidArgument(f"{model_dir}: hidden size {config.hidden_size}; T2S reads {BERT_DIM}-d BERT features")
    if config.num_hidden_layers < 2:
        raise InvalidArgument(f"{model_dir}: {config.num_hidden_layers} layer(s); hidden_states[-3] needs at least 2")
    if config.vocab_size != len(tokenizer.vocab):
        raise InvalidArgument(f"{model_dir}: config vocab_size {config.vocab_size} but the tokenizer has "
                              f"{len(tokenizer.vocab)} tokens")
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "weights of BertForMaskedLM not used (cls.*)" is expected
    try:
        model = BertModel.from_pretrained(model_dir, config=config, local_files_only=True, add_pooling_layer=False,
                                          attn_implementation="eager", torch_dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(verbosity)
    return LoadedBert(model_dir=model_dir, model=model.eval(), tokenizer=tokenizer, weights_file=weights)


class BertCharFeatures(torch.nn.Module):
    """``input_ids [1, T]`` -> ``hidden_states[-3][0, 1:-1]``: embeddings + all but the last two layers."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.embeddings = model.embeddings
        layers = model.encoder.layer
        self.layers = torch.nn.ModuleList(layers[: len(layers) + HIDDEN_STATE + 1])

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.embeddings(input_ids=input_ids)
        for layer in self.layers:
            out = layer(hidden)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden[0, 1:-1]


def _reference(bert: LoadedBert, input_ids: torch.Tensor) -> torch.Tensor:
    """What upstream computes, through transformers' own forward."""
    out = bert.model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), output_hidden_states=True)
    return out.hidden_states[HIDDEN_STATE][0, 1:-1]


def _example_ids(bert: LoadedBert, n_chars: int, generator: torch.Generator) -> torch.Tensor:
    vocab = bert.tokenizer.vocab
    cls_id, sep_id = vocab.index(bert.tokenizer.special["cls_token"]), vocab.index(bert.tokenizer.special["sep_token"])
    body = torch.randint(0, len(vocab), (n_chars,), generator=generator)
    return torch.cat([torch.tensor([cls_id]), body, torch.tensor([sep_id])]).unsqueeze(0)


def export_bert_graph(bert: LoadedBert, path: Path) -> Path:
    """Write the fp32 ``bert`` graph to ``path`` and the vocabulary beside it as ``bert_vocab.txt``."""
    import onnx

    vocab_path = path.with_name(VOCAB_FILE)
    vocab_path.write_text("".join(f"{tok}\n" for tok in bert.tokenizer.vocab), encoding="utf-8")
    graph = BertCharFeatures(bert.model).eval()
    example = _example_ids(bert, 5, torch.Generator().manual_seed(0))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic are expected here
        torch.onnx.export(graph, (example,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["input_ids"], output_names=["char_features"],
                          dynamic_axes={"input_ids": {1: "tokens"}, "char_features": {0: "chars"}})
    tok = bert.tokenizer
    props = {
        "relaytts.role": "bert",
        "vocab_file": VOCAB_FILE,
        "vocab_sha256": sha256_file(vocab_path),
        "do_lower_case": str(tok.do_lower_case).lower(),
        "strip_accents": "none" if tok.strip_accents is None else str(tok.strip_accents).lower(),
        "cls_token": tok.special["cls_token"],
        "sep_token": tok.special["sep_token"],
        "unk_token": tok.special["unk_token"],
        "max_chars": str(bert.max_chars),
        "hidden_size": str(bert.hidden_size),
        "hidden_state": str(HIDDEN_STATE),
    }
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


def bert_parity(bert: LoadedBert, session, lengths: tuple[int, ...] = PARITY_CHARS, seed: int = 0) -> dict[str, float]:
    """Max / mean abs difference, ORT vs transformers' ``hidden_states[-3][1:-1]``, on random ids."""
    generator = torch.Generator().manual_seed(seed)
    errors: list[np.ndarray] = []
    with torch.no_grad():
        for n_chars in lengths:
            ids = _example_ids(bert, min(n_chars, bert.max_chars), generator)
            want = _reference(bert, ids).numpy()
            got = session.run(["char_features"], {"input_ids": ids.numpy()})[0]
            if got.shape != want.shape:
                raise AssertionError(f"bert graph gave {got.shape} for {ids.shape[1]} tokens; expected {want.shape}")
            errors.append(np.abs(got - want).ravel())
    err = np.concatenate(errors)
    return {"char_features_max_abs": float(err.max()), "char_features_mean_abs": float(err.mean())}


def export_bert(model_dir: str | Path, out_path: str | Path) -> BertExport:
    """Load ``model_dir``, write ``out_path`` (+ ``bert_vocab.txt`` beside it) and measure it with ONNX Runtime.

    The caller judges the figures (``relaytts export`` stops above 1e-4 on ``char_features_max_abs``).
    """
    from bundle.session import SessionOptions, create_session

    bert = load_bert(model_dir)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    export_bert_graph(bert, out_path)
    parity = bert_parity(bert, create_session(out_path, SessionOptions(device="cpu")))
    return BertExport(graph=out_path, vocab=out_path.with_name(VOCAB_FILE), parity=parity)
