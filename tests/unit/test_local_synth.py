"""relaytts synth: text -> frontend -> T2S engine -> streaming vocoder -> WAV, in one process."""

from __future__ import annotations

import numpy as np
import soundfile
from click.testing import CliRunner

from relaytts.cli import main
from relaytts.local import SEGMENT_GAP_SECONDS, LocalSynthesizer, SynthesisReport
from relaytts.sampling import SamplingParams


def test_synth_writes_the_whole_utterance(fixture_bundle, tmp_path):
    out = tmp_path / "out.wav"
    result = CliRunner().invoke(main, ["synth", "--bundle", str(fixture_bundle.root), "--text",
                                       "你好，世界。This is relay TTS.", "-o", str(out), "--max-tokens", "60"])
    assert result.exit_code == 0, result.output
    audio, rate = soundfile.read(out)
    assert rate == 32000
    # two segments of at most 60 tokens each (1280 samples per token) and one 0.3 s gap between them
    assert "2 segment(s)" in result.output and "time to first audio" in result.output
    tokens = int(result.output.split(" tokens")[0].rsplit(" ", 1)[1])
    assert len(audio) == tokens * 1280 + int(SEGMENT_GAP_SECONDS * rate)


def test_same_seed_same_audio(fixture_bundle):
    synth = LocalSynthesizer(fixture_bundle.root)
    ge = synth.reference_style(None)
    params = SamplingParams(seed=5)
    first = np.concatenate(list(synth.synthesize("Hello there.", ge, "en", params, max_new_tokens=40)))
    again = np.concatenate(list(synth.synthesize("Hello there.", ge, "en", params, max_new_tokens=40)))
    other = np.concatenate(list(synth.synthesize("Hello there.", ge, "en", SamplingParams(seed=6),
                                                 max_new_tokens=40)))
    assert np.array_equal(first, again)
    assert not (len(other) == len(first) and np.array_equal(other, first))


def test_report_accounts_for_the_audio(fixture_bundle):
    synth = LocalSynthesizer(fixture_bundle.root)
    report = SynthesisReport()
    audio = np.concatenate(list(synth.synthesize("你好，世界。This is relay TTS.", synth.reference_style(None), "auto",
                                                 SamplingParams(seed=1), max_new_tokens=30, report=report)))
    assert abs(report.audio - len(audio) / 32000) < 1e-6
    assert report.first_audio is not None and report.first_audio <= report.total
    assert report.segments == 2 and report.tokens > 0


def test_nothing_to_say_is_one_clear_error(fixture_bundle, tmp_path):
    result = CliRunner().invoke(main, ["synth", "--bundle", str(fixture_bundle.root), "--text", "...",
                                       "-o", str(tmp_path / "x.wav")])
    assert result.exit_code == 1 and result.output.startswith("error: `text` has nothing to speak")


def test_phones_input_speaks_one_segment(fixture_bundle, tmp_path):
    out = tmp_path / "p.wav"
    result = CliRunner().invoke(main, ["synth", "--bundle", str(fixture_bundle.root), "--phones",
                                       "n i2 h ao3 , 251 214 .", "-o", str(out), "--max-tokens", "30"])
    assert result.exit_code == 0, result.output
    assert "1 segment(s)" in result.output
    assert len(soundfile.read(out)[0]) % 1280 == 0


def test_bad_phones_are_one_clear_error(fixture_bundle, tmp_path):
    for phones, words in [("n i2 QQ", "outside the v2 table: QQ"), ("1 2 9999", "below 732")]:
        result = CliRunner().invoke(main, ["synth", "--bundle", str(fixture_bundle.root), "--phones", phones,
                                           "-o", str(tmp_path / "x.wav")])
        assert result.exit_code == 1 and words in result.output, result.output
