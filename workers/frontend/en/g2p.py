"""English G2P: normalised text → (ARPAbet phones with stress digits, word2ph), as upstream reads it.

Upstream (``english.en_G2p``) tokenises with NLTK's ``TweetTokenizer`` and reads each token, in order:

1. no letter in it (punctuation) → the token itself, kept only if it is a v2 symbol (``'`` becomes ``-``);
2. one letter → capital ``A`` is "EY1", any other letter its dictionary entry ("a" → AH0, "b" → B IY1);
3. a homograph → one of its two readings, by part-of-speech tag;
4. otherwise ``_word``: the dictionary (words of 2+ letters); a capitalised word in the optional
   name dictionary; 3 letters or fewer → spelled letter by letter (``a`` → EY1); ``x's`` → the stem
   plus S / AH0 Z / Z after a voiceless / sibilant / other sound; else ``wordsegment`` splits it and each
   part is read the same way, or, when it does not split, g2p_en's GRU predicts it.

Upstream tags parts of speech with NLTK's perceptron tagger, whose model must be downloaded, so we
cannot run it. The tag only matters for the ~370 homographs; we guess the tag from the neighbouring
words (``_tag``), which gets the common cases ("to record" VB, "the record" NN, "have read" VBN) the
way the tagger does. Upstream's goldens were made with every tag stubbed to NN, which we deliberately
do not copy: real upstream runs the tagger, and NN-for-everything reads "please record" as the noun.
"""

from __future__ import annotations

import re

from .. import symbols as sym
from . import lexicon

__all__ = ["g2p", "tokens", "warm_up"]

# TweetTokenizer's alternatives that can match upstream's normalised text (letters, blanks and
# ' . , ? ! -), in its order; the first alternative that matches at a position wins. (The others need
# digits, ':', '@', '#', '<', '/' or emoji, which normalisation has removed.)
_TOKEN_RE = re.compile(
    r"""
    (?<!@)[a-z0-9]+(?:[.\-][a-z0-9]+){0,126}[.][a-z]{2,13}\b/?(?!@)   # naked domain: "node.js"
    | [a-z](?:[a-z]|['\-_])+[a-z]                                     # words with apostrophes or dashes
    | \w+                                                             # plain words
    | \.(?:[^\S\r\n]*\.)+                                             # ellipsis dots
    | \S                                                              # any other character
    """,
    re.VERBOSE | re.IGNORECASE,
)
_HANG_RE = re.compile(r"([^A-Za-z0-9])\1{3,}")  # TweetTokenizer first shortens a run of 4+ marks to 3
_LETTER_RE = re.compile("[a-z]")
_POSSESSIVE_RE = re.compile(r"[a-z]+'s")
_VOICELESS = frozenset("P T K F TH HH".split())
_SIBILANT = frozenset("S Z SH ZH CH JH".split())

# Neighbour cues for the part-of-speech guess.
_TO_VERB = frozenset(
    """to will would shall should can could may might must do does did don't doesn't didn't won't wouldn't
    can't cannot couldn't shouldn't please let's""".split()
)
_SUBJECTS = frozenset("i you we they he she it who people".split())
_ADVERBS = frozenset("not never always often usually also just really sometimes rarely still then".split())
_DETERMINERS = frozenset(
    """the a an this that these those my your his her its our their some any no every each of per
    another which whose what""".split()
)
_PERFECT = frozenset("have has had having was were been is are be being am i've you've we've they've".split())
_PAST_CUES = frozenset("yesterday ago last already".split())


def tokens(norm_text: str) -> list[tuple[int, str]]:
    """Split normalised text as upstream's tokenizer does: (start offset, token)."""
    if not _HANG_RE.search(norm_text):
        return [(m.start(), m.group()) for m in _TOKEN_RE.finditer(norm_text)]
    # Shorten the runs, remembering where each kept character stood in the original text.
    kept: list[int] = []
    last = 0
    for m in _HANG_RE.finditer(norm_text):
        kept += range(last, m.start() + 3)
        last = m.end()
    kept += range(last, len(norm_text))
    text = "".join(norm_text[i] for i in kept)
    return [(kept[m.start()], m.group()) for m in _TOKEN_RE.finditer(text)]


def warm_up() -> None:
    """Load every table and model now instead of on the first sentence (before a fork)."""
    lexicon.cmu()
    lexicon.homographs()
    lexicon.names()
    lexicon.segmenter()
    lexicon.neural()


def _tag(word: str, prev: str, nxt: str, sentence: set[str]) -> str:
    """A guess at the Penn tag NLTK's tagger would give ``word`` (only homographs ask)."""
    if prev in _TO_VERB or prev in _ADVERBS and word != "read":
        return "VB"
    if prev in _DETERMINERS:
        return "NN" if not _LETTER_RE.match(nxt or "") or nxt in ("of", "and", "or") else "JJ"
    if prev in _PERFECT:
        return "VBN"
    if prev in _SUBJECTS:
        if word == "read" and not sentence & _PAST_CUES:
            return "VBP"
        return "VBD" if word.endswith("ed") or word == "read" else "VBZ" if word.endswith("s") else "VBP"
    if word == "used" and nxt == "to":
        return "VBD"
    return "NN"


def _homograph(entry: lexicon.Homograph, tag: str) -> tuple[str, ...]:
    # Upstream's rule: the first reading when the tag starts with the entry's tag, or is a prefix of it
    # ("VB" for "read"'s VBP); else the second.
    if tag.startswith(entry.tag) or len(tag) < len(entry.tag) and entry.tag.startswith(tag):
        return entry.first
    return entry.second


def _spell(word: str) -> list[str]:
    phones: list[str] = []
    cmu = lexicon.cmu()
    for ch in word:
        if ch == "a":
            phones.append("EY1")
        elif not ch.isalpha():
            phones.append(ch)
        else:
            phones.extend(cmu.get(ch, ()))
    return phones


def _word(written: str) -> list[str]:
    word = written.lower()
    cmu = lexicon.cmu()
    if len(word) > 1 and word in cmu:
        return list(cmu[word])
    if written.istitle() and word in lexicon.names():
        return list(lexicon.names()[word])
    if len(word) <= 3:
        return _spell(word)
    if _POSSESSIVE_RE.fullmatch(word):
        phones = _word(word[:-2])
        last = phones[-1] if phones else ""
        return phones + (["S"] if last in _VOICELESS else ["AH0", "Z"] if last in _SIBILANT else ["Z"])
    parts = lexicon.segmenter().segment(word)
    if len(parts) == 1:
        return list(lexicon.neural().predict(word))
    return [p for part in parts for p in _word(part)]


def _read(written: str, prev: str, nxt: str, sentence: set[str]) -> list[str]:
    word = written.lower()
    if not _LETTER_RE.search(word):
        return [word]
    if len(word) == 1:
        return ["EY1"] if written == "A" else list(lexicon.cmu().get(word, ()))
    entry = lexicon.homographs().get(word)
    if entry is not None:
        return list(_homograph(entry, _tag(word, prev, nxt, sentence)))
    return _word(written)


def _keep(phones: list[str]) -> list[str]:
    # Upstream's last filter: v2 symbols pass, an apostrophe becomes "-", anything else is dropped.
    table = sym.symbol_table()
    return [p if p in table else "-" for p in phones if p in table or p == "'"]


def g2p(norm_text: str) -> tuple[list[str], list[int], str]:
    """Return ``(phones, word2ph, norm_text)``.

    ``word2ph`` has one entry per character of the returned text (a token's phones at its first
    character). The returned text equals ``norm_text`` except that a ``,`` is put in front when there
    are fewer than 4 phones, which is upstream's rule for English.
    """
    toks = tokens(norm_text)
    lowered = [t.lower() for _, t in toks]
    sentence = set(lowered)
    word2ph = [0] * len(norm_text)
    phones: list[str] = []
    for i, (start, tok) in enumerate(toks):
        prev = lowered[i - 1] if i else ""
        nxt = lowered[i + 1] if i + 1 < len(toks) else ""
        ph = _keep(_read(tok, prev, nxt, sentence))
        phones.extend(ph)
        if word2ph:
            word2ph[min(start, len(word2ph) - 1)] += len(ph)
    if len(phones) < 4:
        phones.insert(0, ",")
        word2ph.insert(0, 1)
        norm_text = "," + norm_text
    return phones, word2ph, norm_text
