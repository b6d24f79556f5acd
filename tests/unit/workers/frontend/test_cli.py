from __future__ import annotations

import json

from click.testing import CliRunner

from relaytts.cli import main


def test_phonemize_prints_segments_symbols_and_ids() -> None:
    result = CliRunner().invoke(main, ["phonemize", "你好，Tom！今天天气很好。", "--lang", "auto", "--json"])
    assert result.exit_code == 0, result.output
    segments = json.loads(result.output[result.output.index("[") :])
    assert [s["language"] for s in segments] == ["zh", "zh"]
    assert segments[0]["symbols"][:4] == ["n", "i2", "h", "ao3"]
    assert len(segments[0]["ids"]) == len(segments[0]["symbols"])


def test_phonemize_table_and_empty_text() -> None:
    result = CliRunner().invoke(main, ["phonemize", "Hello world!", "--lang", "en"])
    assert result.exit_code == 0 and "HH AH0 L OW1" in result.output
    result = CliRunner().invoke(main, ["phonemize", "😀", "--lang", "auto"])
    assert result.exit_code == 0 and "nothing to say" in result.output


def test_bench_frontend_prints_sentences_per_second() -> None:
    result = CliRunner().invoke(main, ["bench", "frontend", "--lang", "en", "--seconds", "0.2"])
    assert result.exit_code == 0, result.output
    assert "sentences/s" in result.output and "en" in result.output
