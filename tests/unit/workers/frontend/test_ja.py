"""Japanese on upstream's path: OpenJTalk reads runs of Japanese characters, every other character cuts.

The expectations are upstream's rules (``GPT_SoVITS/text/japanese.py``), written out by hand: which
characters cut, which symbol each cutting mark becomes, devoiced vowels lower-case. Where a rule is about
how runs are put together, the expected phones are built from the OpenJTalk reading of each run, so
the test holds whatever accent the dictionary gives a run (the goldens check those accents exactly).
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from relaytts.cli import main
from workers.frontend.ja import g2p as ja
from workers.frontend.ja.g2p import g2p, normalize


def read(run: str) -> list[str]:
    """OpenJTalk's phones for one run of Japanese characters, utterance marks removed."""
    return ["UNK" if p == "#" else p for p in ja.prosody_phones(ja._labeler()(run))[1:-1]]


def test_normalize_collapses_half_width_runs_only() -> None:
    assert normalize("はい!!?、、。") == "はい!、、。"  # only ! ? … , . - collapse (upstream's list)
    assert normalize("１０％と10%") == "１０％と10%"


def test_full_width_percent_is_read_and_word2ph_follows_norm_text() -> None:
    phones, word2ph = g2p("１０％です")
    assert phones == read("１０パーセントです")  # only the full-width sign is spelt out
    assert word2ph == [len(phones), 0, 0, 0, 0]


def test_devoiced_vowels_are_written_lower_case() -> None:
    # OpenJTalk devoices the u of です (label phone "U"); upstream trains with drop_unvoiced_vowels=True.
    assert "U" in [ja._P3_RE.search(label).group(1) for label in ja._labeler()("です")]
    assert g2p("です")[0] == ["d", "e", "]", "s", "u"]


def test_accent_marks_follow_the_dictionary() -> None:
    # 雨 (accent 1) falls after its first mora; 飴 (flat) rises and stays up; 橋 (accent 2) rises, then
    # falls before を; 箸 (accent 1) falls after は; 端 (flat) rises and stays up.
    assert g2p("雨")[0] == ["a", "]", "m", "e"]
    assert g2p("飴")[0] == ["a", "[", "m", "e"]
    assert g2p("橋を")[0] == ["h", "a", "[", "sh", "i", "]", "o"]
    assert g2p("箸を")[0] == ["h", "a", "]", "sh", "i", "o"]
    assert g2p("端を")[0] == ["h", "a", "[", "sh", "i", "o"]


def test_accent_phrase_border_is_unk() -> None:
    phones, _ = g2p("雨が降る")  # two accent phrases: '#' between them, not in the table
    assert phones == ["a", "]", "m", "e", "g", "a", "UNK", "f", "u", "]", "r", "u"]


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        # mapped marks (post_replace_ph): 、。！？：；， become , . ! ? , , ,
        ("はい、そう。", ["はい", ",", "そう", "."]),
        ("え！？本当？", ["え", "!", "?", "本当", "?"]),  # full-width marks do not collapse
        ("時間：三時；", ["時間", ",", "三時", ","]),
        # marks outside the table stay themselves, so they are UNK
        ("「はい」と", ["UNK", "はい", "UNK", "と"]),
        ("それは――つまり", ["それは", "UNK", "UNK", "つまり"]),
        ("待って〜", ["待って", "UNK"]),
        ("楽しい😊", ["楽しい", "UNK"]),
        ("10:30", ["10", "UNK", "30"]),
        ("80%です", ["80", "UNK", "です"]),  # half-width % is not read
        # upstream's \d is Unicode, so full-width ０ counts (its explicit range starts at １); 〇 does not
        ("１０％", ["１０パーセント"]),
        ("二〇二四年", ["二", "UNK", "二四年"]),
        # half-width . , - … ! ? are table symbols and cut numbers too
        ("3.14です", ["3", ".", "14です"]),
        ("1,500円", ["1", ",", "500円"]),
        # a space cuts but leaves no symbol
        ("東京 大阪", ["東京", "大阪"]),
        # kana (with ー and ・), 々, half-width katakana and full-width digits 1-9 stay inside a run
        ("スーパー・マーケット", ["スーパー・マーケット"]),
        ("佐々木さん", ["佐々木さん"]),
        ("ｶﾀｶﾅ", ["ｶﾀｶﾅ"]),
        ("１２３番", ["１２３番"]),
    ],
)
def test_non_japanese_characters_cut_and_stay_as_symbols(text: str, runs: list[str]) -> None:
    marks = {",", ".", "!", "?", "UNK"}
    expected = [p for run in runs for p in ([run] if run in marks else read(run))]
    phones, word2ph = g2p(normalize(text))
    assert phones == expected
    assert len(word2ph) == len(normalize(text)) and sum(word2ph) == len(phones)


@pytest.mark.parametrize("text", ["", "、。", " "])
def test_nothing_to_read(text: str) -> None:
    phones, word2ph = g2p(normalize(text))
    assert phones == [{"、": ",", "。": "."}[c] for c in text if c != " "]
    assert len(word2ph) == len(text)


def test_a_missing_dictionary_is_one_clear_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(ja.DICT_DIR_ENV, str(tmp_path))
    ja._labeler.cache_clear()
    try:
        with pytest.raises(ja.JapaneseSetupError, match="apt-get install open-jtalk-mecab-naist-jdic"):
            g2p("はい")
        result = CliRunner().invoke(main, ["phonemize", "はい、そうです。", "--lang", "ja"])
        assert result.exit_code == 1
        assert result.output.strip().splitlines() == [
            f"error: Japanese: OpenJTalk dictionary not found at {tmp_path}; {ja.INSTALL_HINT}"
        ]
    finally:
        monkeypatch.undo()
        ja._labeler.cache_clear()


def test_a_server_without_the_dictionary_still_starts_for_other_languages(monkeypatch, tmp_path, caplog) -> None:
    from workers.frontend import Frontend

    monkeypatch.setenv(ja.DICT_DIR_ENV, str(tmp_path))
    ja._labeler.cache_clear()
    try:
        frontend = Frontend()
        frontend.warm_up(["en", "ja"])  # the worker's start-up: Japanese missing is a warning, not a crash
        assert "Japanese is unavailable on this server" in caplog.text
        assert frontend.phonemize_sentence("Hello there.", "en") is not None
        with pytest.raises(ja.JapaneseSetupError, match="open-jtalk-mecab-naist-jdic"):
            frontend.phonemize("はい、そうです。", "ja")
    finally:
        monkeypatch.undo()
        ja._labeler.cache_clear()


def test_reads_with_upstreams_pyopenjtalk() -> None:
    # pyopenjtalk-plus and later releases give other accents for a third of everyday sentences.
    assert ja._installed_version() == ja.UPSTREAM_PYOPENJTALK


def test_the_frontend_keeps_full_width_and_blanks_for_japanese(frontend) -> None:
    # The segmenter folds full-width characters and blanks for other languages; upstream's Japanese
    # reader sees them as typed: ％ is read, % is UNK, a tab is UNK, a run of spaces is one skipped space.
    def symbols(text: str) -> list[str]:
        return list(frontend.phonemize_sentence(text, "ja").symbols)

    assert symbols("８０％です。") == read("８０パーセントです") + ["."]
    assert symbols("80%です。") == read("80") + ["UNK"] + read("です") + ["."]
    assert symbols("東京\t大阪。") == read("東京") + ["UNK"] + read("大阪") + ["."]
    assert symbols("東京   大阪。") == read("東京") + read("大阪") + ["."]
    assert frontend.phonemize_sentence("はい！！", "ja").norm_text == "はい！！"


def test_utterance_marks_close_statements_and_questions() -> None:
    # ^ opens, $ closes a statement and ? a question (OpenJTalk's label says which); upstream drops all three.
    assert ja.prosody_phones(ja._labeler()("行きます")) == ["^", *read("行きます"), "$"]
    assert ja.prosody_phones(ja._labeler()("行きますか？"))[-1] == "?"
