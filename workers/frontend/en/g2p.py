"""English G2P: normalised text → (ARPAbet phones with stress digits, word2ph).

Per word, in order: homographs (two readings picked by a part-of-speech guess), the CMU dictionary
(an all-caps word prefers its spelled-out variant: "AI" → EY1 AY1), initialisms ("U.S") and unknown
words of at most three letters or all in capitals spelled letter by letter, possessives ("'s" after
a known word), and finally the neural G2P model. Punctuation marks are phones of their own. A span of
fewer than 4 phones gets a leading ``,`` (upstream does this so very short inputs still prompt T2S).

Upstream tags parts of speech with NLTK's perceptron tagger, whose data would have to be downloaded;
we guess from the neighbouring word instead ("to record" is a verb, "the record" is not). That is
enough for the homograph list, which only asks "verb or not".
"""

from __future__ import annotations

import re

from . import lexicon

__all__ = ["g2p", "tokens", "warm_up"]

_TOKEN_RE = re.compile(r"[A-Za-z](?:\.[A-Za-z])+|[A-Za-z]+(?:['-][A-Za-z]+)*|[!?…,.\-]")
_PUNCT = frozenset("!?…,.-")
_CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")
_VERB_BEFORE = frozenset(
    """to will would shall should can could may might must do does did don't doesn't didn't won't wouldn't
    can't cannot couldn't shouldn't i you we they please let's not never always often usually also just
    really sometimes rarely""".split()
)
_NOUN_BEFORE = frozenset(
    """the a an this that these those my your his her its our their some any no every each of per
    another which whose what""".split()
)
_MODALS = frozenset(
    """to will would shall should can could may might must do does did don't doesn't didn't won't wouldn't
    can't cannot couldn't shouldn't please let's""".split()
)
_PAST_BEFORE = frozenset("have has had was were been is are be being i've you've we've they've he's she's".split())
_PAST_CUES = frozenset("yesterday ago last already".split())
_SIBILANTS = frozenset("S Z SH ZH CH JH".split())
_VOICELESS = frozenset("P T K F TH".split())


def tokens(norm_text: str) -> list[tuple[int, str]]:
    """Split normalised text into (start offset, token) for words, initialisms and punctuation."""
    return [(m.start(), m.group()) for m in _TOKEN_RE.finditer(norm_text)]


def warm_up() -> None:
    """Parse the CMU dictionary and load the OOV model now instead of on the first sentence."""
    lexicon.cmu()
    lexicon.homographs()
    lexicon.neural()


def _spell(word: str) -> list[str]:
    return [p for ch in word.lower() if ch in lexicon.LETTERS for p in lexicon.LETTERS[ch]]


def _is_verb(prev: str, word: str) -> bool:
    if prev in _VERB_BEFORE:
        return True
    if prev in ("he", "she", "it", "who") and word.endswith("s"):
        return True
    return False


def _homograph(word: str, prev: str, sentence: set[str]) -> list[str] | None:
    if word == "read":  # the list's tag for "read" is inverted; decide present vs past ourselves
        past = prev in _PAST_BEFORE or bool(sentence & _PAST_CUES)
        return ["R", "EH1", "D"] if past and prev not in _MODALS else ["R", "IY1", "D"]
    entry = lexicon.homographs().get(word)
    if entry is None:
        return None
    if entry.pos.startswith("V"):
        return list(entry.first if _is_verb(prev, word) else entry.second)
    chosen = prev in _NOUN_BEFORE if entry.pos == "N" else not _is_verb(prev, word)
    return list(entry.first if chosen else entry.second)


def _lookup(word: str, prev: str, sentence: set[str]) -> list[str]:
    lower = word.lower()
    if "." in word:
        return _spell(word.replace(".", ""))
    if "-" in word:  # Wi-Fi → "wifi" if the dictionary has it, else each part
        joined = word.replace("-", "")
        if joined.lower() in lexicon.cmu():
            return _lookup(joined, prev, sentence)
        return [p for part in word.split("-") if part for p in _lookup(part, prev, sentence)]
    homograph = _homograph(lower, prev, sentence)
    if homograph is not None:
        return homograph
    cmu = lexicon.cmu()
    prons = cmu.get(lower)
    all_caps = word.isupper() and len(word) > 1
    if prons:
        if all_caps:
            spelled = tuple(_spell(word))
            if any(p == spelled for p in prons):
                return list(spelled)
        return list(prons[0])
    if all_caps and len(word) <= 5 or len(word) <= 3:
        return _spell(word)
    if lower.endswith("'s") and lower[:-2] in cmu:
        base = list(cmu[lower[:-2]][0])
        last = base[-1]
        return base + (["IH0", "Z"] if last in _SIBILANTS else ["S"] if last in _VOICELESS else ["Z"])
    if "'" in lower:
        return [p for part in lower.split("'") if part for p in _lookup(part, prev, sentence)]
    parts = _CAMEL_RE.findall(word)
    if len(parts) > 1:  # GPTSoVITS, OpenAI: read each capitalised part
        return [p for part in parts for p in _lookup(part, prev, sentence)]
    return list(lexicon.neural().predict(lower))


def g2p(norm_text: str) -> tuple[list[str], list[int], str]:
    """Return ``(phones, word2ph, norm_text)``.

    ``word2ph`` has one entry per character of the returned text (a word's phones at its first
    letter). The returned text equals ``norm_text`` except that a ``,`` is put in front when there
    are fewer than 4 phones.
    """
    toks = tokens(norm_text)
    sentence = {t.lower() for _, t in toks}
    words = [t for _, t in toks if t not in _PUNCT]
    lone_letter = len(words) == 1 and len(words[0]) == 1  # "A股", "选择了A": the letter, not the article
    word2ph = [0] * len(norm_text)
    phones: list[str] = []
    prev = ""
    for start, tok in toks:
        if tok in _PUNCT:
            ph = [tok]
        else:
            ph = _spell(tok) if lone_letter else _lookup(tok, prev, sentence)
            prev = tok.lower()
        phones.extend(ph)
        word2ph[start] += len(ph)
    if len(phones) < 4:
        phones.insert(0, ",")
        word2ph.insert(0, 1)
        norm_text = "," + norm_text
    return phones, word2ph, norm_text
