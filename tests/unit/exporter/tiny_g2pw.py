"""A small G2PWModel folder laid out as GPT-SoVITS's (never downloaded): an ONNX graph with G2PW's inputs and
output, built here with torch, plus the tables upstream reads, and upstream's correction files beside it.

The folder mirrors an install: ``<root>/GPT_SoVITS/text/G2PWModel`` (graph, config.py, character lists, bopomofo
table, a ``bert-base-chinese`` vocabulary) and ``<root>/GPT_SoVITS/text/g2pw/polyphonic*.rep``.

Two graphs of the same interface: ``random`` (randomly initialised embeddings and a linear layer, like an
untrained G2PW, mixing the query token with the mean of the clause's tokens) and ``probe``, whose answer is
known in advance: among the query character's candidate labels (sorted label order), the last when the
token at ``position_ids`` has an even vocabulary id, else the first. That lets a test check tokenization,
positions, masks and label decoding end to end.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

#: Polyphonic characters (Taiwan-traditional, as OpenCC s2tw writes them) and their bopomofo candidates.
POLYPHONIC = {
    "行": ["ㄒㄧㄥ2", "ㄏㄤ2"],
    "長": ["ㄔㄤ2", "ㄓㄤ3"],
    "重": ["ㄓㄨㄥ4", "ㄔㄨㄥ2"],
    "樂": ["ㄌㄜ4", "ㄩㄝ4"],
    "還": ["ㄏㄞ2", "ㄏㄨㄢ2"],
    "一": ["ㄧ1", "ㄧ2"],  # on upstream's exclusion list: never a query
}
#: A monophonic entry with an unusual reading, so a test can see the table (not pypinyin) was used.
MONOPHONIC = {"家": "ㄍㄨ1", "銀": "ㄧㄣ2"}
BOPOMOFO_TO_PINYIN = {
    "ㄒㄧㄥ": "xing", "ㄏㄤ": "hang", "ㄔㄤ": "chang", "ㄓㄤ": "zhang", "ㄓㄨㄥ": "zhong", "ㄔㄨㄥ": "chong",
    "ㄌㄜ": "le", "ㄩㄝ": "yue", "ㄏㄞ": "hai", "ㄏㄨㄢ": "huan", "ㄧ": "yi", "ㄍㄨ": "gu", "ㄧㄣ": "yin",
}  # fmt: skip
#: Upstream's correction files: a whole-word entry and a single-character entry (``-fix`` wins).
REP = "银行: ['yin2', 'hang2']\n音乐: ['yin1', 'le4']\n"
REP_FIX = "音乐: ['yin1', 'yue4']\n还: ['huan2']\n"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def labels() -> list[str]:
    """The model's output classes as upstream derives them (sorted distinct bopomofo)."""
    return sorted({p for cands in POLYPHONIC.values() for p in cands})


def vocabulary(chars: str) -> list[str]:
    """Specials, punctuation, ASCII, WordPiece suffixes, then ``chars`` (hanzi of the test sentences)."""
    base = SPECIALS + list(",.!?…-") + list("0123456789abcdefghijklmnopqrstuvwxyz") + ["##s", "##ing", "ph", "##one"]
    return list(dict.fromkeys(base + [c for c in chars if not c.isspace()]))


def _graph(path: Path, n_vocab: int, n_chars: int, n_labels: int, kind: str, seed: int) -> None:
    import torch

    class TinyG2PW(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(seed)
            self.tokens = torch.nn.Embedding(n_vocab, 16)
            self.types = torch.nn.Embedding(2, 16)
            self.chars = torch.nn.Embedding(n_chars, 16)
            self.out = torch.nn.Linear(32, n_labels)

        def forward(self, input_ids, token_type_ids, attention_mask, phoneme_mask, char_ids, position_ids):  # noqa: ANN001, ANN202
            hidden = (self.tokens(input_ids) + self.types(token_type_ids)) * attention_mask.unsqueeze(-1).float()
            rows = torch.arange(input_ids.shape[0])
            # the query token plus the mean of the clause's tokens: the answer depends on the context, as
            # BERT's does, so cropping and padding are exercised
            mask = attention_mask.unsqueeze(-1).float()
            context = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            query = hidden[rows, position_ids] + 2.0 * context
            if kind == "probe":
                token = input_ids[rows, position_ids]
                sign = 1.0 - 2.0 * (token % 2).float()  # +1 for an even id, -1 for an odd one
                logits = sign.unsqueeze(1) * (torch.arange(n_labels).float() + 1.0).unsqueeze(0)
                logits = logits + 0.0 * (query.sum(1, keepdim=True) + self.chars(char_ids).sum(1, keepdim=True))
            else:
                logits = self.out(torch.cat([query, self.chars(char_ids)], dim=1))
            logits = logits * phoneme_mask + (phoneme_mask - 1.0) * 1e4
            return torch.softmax(logits, dim=1)

    n = 2
    example = (
        torch.randint(0, n_vocab, (n, 7)),
        torch.zeros(n, 7, dtype=torch.long),
        torch.ones(n, 7, dtype=torch.long),
        torch.ones(n, n_labels),
        torch.zeros(n, dtype=torch.long),
        torch.ones(n, dtype=torch.long),
    )
    names = ["input_ids", "token_type_ids", "attention_mask", "phoneme_mask", "char_ids", "position_ids"]
    axes = {name: {0: "n"} for name in names} | {
        "input_ids": {0: "n", 1: "t"},
        "token_type_ids": {0: "n", 1: "t"},
        "attention_mask": {0: "n", 1: "t"},
        "probs": {0: "n"},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer notes
        torch.onnx.export(
            TinyG2PW().eval(),
            example,
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=names,
            output_names=["probs"],
            dynamic_axes=axes,
        )


def write_tiny_g2pw(root: Path, *, chars: str, kind: str = "random", seed: int = 0) -> Path:
    """Write the install-shaped folders under ``root``; returns the ``G2PWModel`` folder (``--g2pw DIR``)."""
    model = root / "GPT_SoVITS" / "text" / "G2PWModel"
    rep = root / "GPT_SoVITS" / "text" / "g2pw"
    for folder in (model, rep, model / "bert-base-chinese"):
        folder.mkdir(parents=True, exist_ok=True)
    lines = [f"{c}\t{p}" for c, cands in POLYPHONIC.items() for p in cands]
    (model / "POLYPHONIC_CHARS.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (model / "MONOPHONIC_CHARS.txt").write_text("".join(f"{c}\t{p}\n" for c, p in MONOPHONIC.items()), "utf-8")
    (model / "bopomofo_to_pinyin_wo_tune_dict.json").write_text(json.dumps(BOPOMOFO_TO_PINYIN, ensure_ascii=False))
    (model / "char_bopomofo_dict.json").write_text("{}")
    (model / "config.py").write_text(
        "manual_seed = 1313\nmodel_source = 'bert-base-chinese'\nuse_mask = True\n"
        "use_char_phoneme = False\nwindow_size = 32\n"
    )
    vocab = vocabulary(chars + "".join(POLYPHONIC) + "".join(MONOPHONIC))
    (model / "bert-base-chinese" / "vocab.txt").write_text("".join(f"{t}\n" for t in vocab), encoding="utf-8")
    (rep / "polyphonic.rep").write_text(REP, encoding="utf-8")
    (rep / "polyphonic-fix.rep").write_text(REP_FIX, encoding="utf-8")
    _graph(model / "g2pW.onnx", len(vocab), len(POLYPHONIC), len(labels()), kind, seed)
    return model
