"""What ``relaytts phonemize`` and ``relaytts bench frontend`` print (the commands live in relaytts.cli)."""

from __future__ import annotations

import json

import click

from .bench import TARGET_SENTENCES_PER_S, run_bench
from .frontend import Frontend
from .schema import Language

__all__ = ["LANG_CHOICES", "show_bench", "show_phonemes"]

LANG_CHOICES = tuple(m.value for m in Language)


def show_phonemes(text: str, lang: str, as_json: bool = False) -> None:
    """Print each segment of ``text``: language, text, normalised text, symbols and ids."""
    from relaytts.console import print_table

    segments = Frontend().phonemize(text, lang)
    if as_json:
        click.echo(json.dumps([_as_dict(s) for s in segments], ensure_ascii=False, indent=2))
        return
    if not segments:
        click.echo("(nothing to say: no segment has a phone other than punctuation)")
        return
    rows = [
        [i, s.language.value, ", ".join(f"{sp.language.value}:{sp.text}" for sp in s.spans), s.norm_text,
         " ".join(s.symbols), " ".join(map(str, s.ids.tolist()))]
        for i, s in enumerate(segments)
    ]  # fmt: skip
    print_table(["#", "lang", "spans", "normalised", "symbols", "ids"], rows)


def _as_dict(segment) -> dict:  # noqa: ANN001 - PhonemizedSegment
    return {
        "text": segment.text,
        "language": segment.language.value,
        "norm_text": segment.norm_text,
        "symbols": list(segment.symbols),
        "ids": segment.ids.tolist(),
        "word2ph": list(segment.word2ph),
        "spans": [{"text": sp.text, "language": sp.language.value} for sp in segment.spans],
    }


def show_bench(languages: tuple[str, ...], seconds: float) -> None:
    """Run the frontend benchmark and print sentences per second per language."""
    from relaytts.console import print_table

    langs = tuple(Language.parse(x) for x in languages) or (Language.ZH, Language.EN, Language.JA)
    results = run_bench(langs, seconds)
    rows = [
        [r.language.value, r.sentences, round(r.seconds, 2), round(r.per_second, 1),
         round(1000 / r.per_second, 2) if r.per_second else 0.0, round(r.per_second / TARGET_SENTENCES_PER_S, 2),
         round(r.warm_up_s, 2)]
        for r in results
    ]  # fmt: skip
    print_table(
        ["lang", "sentences", "seconds", "sentences/s", "ms/sentence", f"x target ({TARGET_SENTENCES_PER_S:g}/s)",
         "warm-up s"],
        rows,
        title="frontend, one thread, short sentences",
    )  # fmt: skip
