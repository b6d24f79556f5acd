"""`relaytts demo` as a new user runs it: builds the random-weight bundle, starts everything, writes demo.wav."""

from __future__ import annotations

import subprocess
import sys

import soundfile


def test_demo_writes_a_wav_and_says_where_the_time_went(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "relaytts.cli", "demo"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "noise-like" in proc.stderr  # the demo says plainly that its weights are random
    audio, rate = soundfile.read(tmp_path / "demo.wav")
    assert rate == 32000 and len(audio) > rate  # more than a second of audio
    for stage in ("queue wait", "text frontend", "T2S prefill", "time to first audio"):
        assert stage in proc.stdout
    assert (tmp_path / "bundles" / "demo" / "manifest.json").is_file()
    # nothing keeps running after the command returns
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert left == []
