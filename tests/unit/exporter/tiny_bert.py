"""A small randomly initialised BERT folder shaped like chinese-roberta-wwm-ext-large (never downloaded).

Same architecture and file layout as the real one (a ``BertForMaskedLM`` saved with
``save_pretrained`` as ``pytorch_model.bin`` + ``config.json`` + ``vocab.txt``), hidden size 1024 so
the features have T2S's width, but 4 layers and a few hundred tokens so export and parity take seconds.
"""

from __future__ import annotations

from pathlib import Path

#: Sentences whose frontend-normalised Chinese text the tests feed the tokenizer and the graph.
SENTENCES = (
    "今天天气很好，我们去公园散步吧。",
    "我用手机拍了2张照片，花了3.5元！",
    "2024年3月15日，气温-5度，湿度85%。",
    "“你好”——他说……（真的？）",
    "鑫鑫说：第1名是张三，对吗？",
)
#: In the sentences but left out of the vocabulary, so ``[UNK]`` is exercised.
MISSING = "鑫"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = list(",.!?…-'\"，。！？、：；（）《》“”‘’~%")


def normalised_zh(sentences=SENTENCES) -> list[str]:
    """The Chinese spans' ``norm_text`` the frontend gives for ``sentences``."""
    from workers.frontend import Frontend, Language

    fe = Frontend()
    return [span.norm_text for text in sentences for seg in fe.phonemize(text, "zh") for span in seg.spans
            if span.language is Language.ZH]


def write_tiny_bert(folder: Path, *, layers: int = 4, seed: int = 0, extra_chars: str = "") -> Path:
    """Save a random ``BertForMaskedLM`` + vocab.txt into ``folder``; returns ``folder``."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 300)] + list(extra_chars)
    vocab = list(dict.fromkeys(SPECIALS + PUNCT + list("0123456789abcdefghijklmnopqrstuvwxyz") + ["##s", "##ing"]
                               + [c for c in chars if c != MISSING]))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("".join(f"{t}\n" for t in vocab), encoding="utf-8")
    config = BertConfig(vocab_size=len(vocab), hidden_size=1024, num_hidden_layers=layers, num_attention_heads=16,
                        intermediate_size=1024, max_position_embeddings=512, initializer_range=0.05)
    torch.manual_seed(seed)
    model = BertForMaskedLM(config).eval()
    model.save_pretrained(folder, safe_serialization=False)
    return folder
