"""The WAV sink leaves no partial file: deleted on failure, and one left by a killed writer (SIGKILL) is
removed by the next writer of the same path; a live writer's is kept."""

from __future__ import annotations

import subprocess
import sys

from edge_client.sinks import WavSink


def test_a_partial_file_of_a_dead_writer_is_removed_and_a_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f".out.wav.{dead.stdout.strip()}.abcd.part"
    orphan.write_bytes(b"RIFF")
    live = tmp_path / ".out.wav.1.efgh.part"  # pid 1 is alive
    live.write_bytes(b"RIFF")
    sink = WavSink(tmp_path / "out.wav")
    sink.abort()
    assert not orphan.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]
