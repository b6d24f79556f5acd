from __future__ import annotations

import re

import pytest

from workers.frontend.ja.g2p import g2p, normalize, prosody_phones

from .conftest import corpus


def test_normalize_maps_punctuation_and_percent() -> None:
    assert normalize("「はい」、80％です！？") == "はい,80パーセントです!"
    assert normalize("ちょっと〜😀") == "ちょっと-"


def test_marks_follow_the_accent() -> None:
    # 雨 (accent 1) falls after its first mora; 飴 (flat) rises and stays up; 橋 (accent 2) rises then falls.
    assert g2p("雨")[0] == ["a", "]", "m", "e"]
    assert g2p("飴")[0] == ["a", "[", "m", "e"]
    assert g2p("橋を")[0] == ["h", "a", "[", "sh", "i", "]", "o"]


def test_accent_phrase_border_and_pause_symbols() -> None:
    phones, word2ph = g2p("今日はいい天気ですね.")
    assert "UNK" in phones  # the accent-phrase border '#' is not in the table (as upstream)
    assert phones[-1] == "." and word2ph[-1] == 1
    assert sum(word2ph) == len(phones)


def test_prosody_matches_pyopenjtalk_on_the_corpus() -> None:
    import pyopenjtalk

    texts = [e["text"] for e in corpus("ja")]
    for text in texts:
        for phrase in re.findall(r"[^,.!?…\-]+", normalize(text)):
            if not re.search(r"[\u3040-\u30ff\u4e00-\u9fff0-9]", phrase):
                continue
            assert prosody_phones(pyopenjtalk.extract_fullcontext(phrase)) == pyopenjtalk.g2p_prosody(phrase), phrase


@pytest.mark.parametrize("text", ["", "、。", "😀"])
def test_nothing_to_read(text: str) -> None:
    assert g2p(normalize(text)) == ([], [0] * len(normalize(text))) or g2p(normalize(text))[0] in ([], [","], ["."])
