from __future__ import annotations

import subprocess
import sys

import pytest

from workers.frontend.en import lexicon
from workers.frontend.en.g2p import g2p, tokens
from workers.frontend.en.neural_g2p import NeuralG2P, g2p_en_dir
from workers.frontend.en.normalize import normalize
from workers.frontend.en.numbers import cardinal, ordinal, year


@pytest.mark.parametrize(
    ("n", "words"),
    [(0, "zero"), (13, "thirteen"), (21, "twenty-one"), (100, "one hundred"),
     (1234, "one thousand two hundred thirty-four"), (1_000_000, "one million"), (-5, "minus five")],
)  # fmt: skip
def test_cardinals(n: int, words: str) -> None:
    assert cardinal(n) == words


def test_ordinals_and_years() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 5, 12, 20, 21, 100)] == [
        "first", "second", "third", "fifth", "twelfth", "twentieth", "twenty-first", "one hundredth"]  # fmt: skip
    assert [year(n) for n in (1999, 2005, 2024, 1900, 1905)] == [
        "nineteen ninety-nine", "two thousand five", "twenty twenty-four", "nineteen hundred",
        "nineteen oh five"]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "norm"),
    [
        ("It costs $5.50.", "It costs five dollars and fifty cents."),
        ("Lunch was $1.", "Lunch was one dollar."),
        ("$3.5 million", "three point five million dollars"),
        ("£20 and €500", "twenty pounds and five hundred euros"),
        ("Sales rose 12%.", "Sales rose twelve percent."),
        ("the 21st century", "the twenty-first century"),
        ("at 3:30 p.m. today", "at three thirty P.M today"),
        ("at 9:00.", "at nine o'clock."),
        ("Mr. Lee met Dr. Park.", "mister Lee met doctor Park."),
        ("fruit, e.g. apples, i.e. food", "fruit, for example apples, that is food"),
        ("In the 1990s", "In the nineteen nineties"),
        ("Call 555-123-4567", "Call five five five, one two three, four five six seven"),
        ("on 2024-03-05", "on march fifth, twenty twenty-four"),
        ("add 3/4 cup", "add three quarters cup"),
        ("pages 10-20", "pages ten to twenty"),
        ("ran 5km", "ran five kilometers"),
        ("it was -5", "it was minus five"),
        ("A & B", "A and B"),
        ("Café crème", "Cafe creme"),
        ("“Quoted” (aside)", "Quoted aside"),
        ("Wait... what?!", "Wait. what?"),
        ("the U.S. economy", "the U.S economy"),
        ("example.com", "example dot com"),
    ],
)
def test_normalize(text: str, norm: str) -> None:
    assert normalize(text) == norm


def test_neural_g2p_matches_the_g2p_en_reference_output() -> None:
    # g2p_en's README shows this prediction for its own example of a new word.
    assert NeuralG2P.load().predict("activationist") == tuple("AE2 K T IH0 V EY1 SH AH0 N IH0 S T".split())


def test_nothing_imports_g2p_en_or_nltk() -> None:
    code = (
        "import sys; from workers.frontend import Frontend; "
        "Frontend().phonemize('The blorptastic zorbulator refused the refuse.', 'en'); "
        "assert 'g2p_en' not in sys.modules and 'nltk' not in sys.modules and 'torch' not in sys.modules, "
        "[m for m in ('g2p_en', 'nltk', 'torch') if m in sys.modules]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_g2p_en_files_found_without_import() -> None:
    assert (g2p_en_dir() / "checkpoint20.npz").is_file()
    assert "g2p_en" not in sys.modules


def test_word2ph_counts_each_word_at_its_first_letter() -> None:
    phones, word2ph, norm = g2p("Hi there, Bob!")
    assert norm == "Hi there, Bob!"
    assert len(word2ph) == len(norm) and sum(word2ph) == len(phones)
    assert [word2ph[i] for i, _ in tokens(norm)] == [2, 3, 1, 3, 1]


def test_short_spans_get_a_leading_comma() -> None:
    phones, word2ph, norm = g2p("Hi")
    assert phones == [",", "HH", "AY1"] and norm == ",Hi" and word2ph == [1, 2, 0]


@pytest.mark.parametrize(
    ("sentence", "word", "phones"),
    [
        ("I refuse it", "refuse", "R IH0 F Y UW1 Z"),
        ("the refuse", "refuse", "R EH1 F Y UW2 Z"),
        ("I read it yesterday", "read", "R EH1 D"),
        ("I will read it", "read", "R IY1 D"),
        ("I have read it", "read", "R EH1 D"),
        ("to record it", "record", "R IH0 K AO1 R D"),
        ("a record", "record", "R EH1 K ER0 D"),
        ("I live here", "live", "L IH1 V"),
        ("a live show", "live", "L AY1 V"),
        ("the wind", "wind", "W IH1 N D"),
        ("to wind it", "wind", "W AY1 N D"),
        ("she will lead", "lead", "L IY1 D"),
    ],
)
def test_homographs(sentence: str, word: str, phones: str) -> None:
    out, word2ph, norm = g2p(sentence)
    start = next(i for i, tok in tokens(norm) if tok == word)
    before = sum(word2ph[:start])
    assert " ".join(out[before : before + word2ph[start]]) == phones


def test_spelling_acronyms_and_oov() -> None:
    def read(word: str) -> str:
        return " ".join(g2p(f"say {word} now")[0][2:-2])

    assert read("AI") == "EY1 AY1"  # the dictionary's spelled-out variant
    assert read("GPU") == "JH IY1 P IY1 Y UW1"  # unknown capitals: spelled
    assert read("NASA") == "N AE1 S AH0"  # known acronym: as a word
    assert read("U.S") == "Y UW1 EH1 S"
    assert read("Wi-Fi") == "W AY1 F AY2"
    assert read("Tom's") == "T AA1 M Z"
    assert read("boss's") == "B AO1 S IH0 Z"
    assert read("GPTSoVITS").startswith("JH IY1 P IY1 T IY1 S OW1")


def test_cmu_dictionary_loads_once() -> None:
    assert lexicon.cmu() is lexicon.cmu()
    assert lexicon.cmu()["hello"][0] == ("HH", "AH0", "L", "OW1")
