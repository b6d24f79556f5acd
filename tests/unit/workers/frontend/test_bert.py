from __future__ import annotations

import logging

import numpy as np
import pytest

from workers.frontend import BertFeaturizer, Frontend
from workers.frontend import bert as bert_module
from workers.frontend.bert import expand_to_phones


def test_zeros_without_a_model_and_one_warning_per_process(caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    monkeypatch.setattr(bert_module, "_warned", type(bert_module._warned)())
    fe = Frontend()
    with caplog.at_level(logging.WARNING, logger="workers.frontend.bert"):
        for _ in range(3):
            for seg in fe.phonemize("今天天气很好，我们去公园散步吧。", "zh"):
                feats = fe.bert_features(seg)
                assert feats.shape == (1024, len(seg.ids)) and not feats.any()
        Frontend().bert  # noqa: B018 - a second featurizer in the same process stays quiet
    warnings = [r for r in caplog.records if "no BERT graph" in r.getMessage()]
    assert len(warnings) == 1


def test_expand_repeats_each_character_word2ph_times() -> None:
    chars = np.arange(3 * 4, dtype=np.float32).reshape(3, 4)
    out = expand_to_phones(chars, [2, 1, 0])
    assert out.shape == (4, 3)
    np.testing.assert_array_equal(out.T, chars[[0, 0, 1]])


def test_extractor_seam_gets_the_normalised_chinese_text_only() -> None:
    seen: list[str] = []

    def fake_bert(norm_text: str) -> np.ndarray:
        seen.append(norm_text)
        return np.tile(np.arange(len(norm_text), dtype=np.float32)[:, None], (1, 1024))

    fe = Frontend(bert=BertFeaturizer(fake_bert))
    (seg,) = fe.phonemize("我们用Python写代码。", "zh")
    feats = fe.bert_features(seg)
    assert seen == ["我们用", "写代码."]
    assert feats.shape == (1024, len(seg.ids))
    zh1, en, zh2 = seg.spans
    assert not feats[:, len(zh1.symbols) : len(zh1.symbols) + len(en.symbols)].any()  # English: zeros
    np.testing.assert_array_equal(feats[0, : len(zh1.symbols)], [0, 0, 1, 1, 2, 2])


def test_extractor_with_wrong_shape_is_rejected() -> None:
    fe = Frontend(bert=BertFeaturizer(lambda text: np.zeros((len(text), 7), dtype=np.float32)))
    (seg,) = fe.phonemize("今天天气很好。", "zh")
    with pytest.raises(ValueError, match="expected"):
        fe.bert_features(seg)
