"""`relaytts up`: starts redis-server, a worker and the gateway; Ctrl-C (SIGINT) stops all of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from relaytts.embedded import gateway_serving
from relaytts.redis_server import free_port


@pytest.mark.parametrize("bundle_fixture", ["fixture_bundle", "voice_bundle_pp"])
def test_up_serves_and_stops_everything_on_ctrl_c(bundle_fixture, request, tmp_path):
    # voice_bundle_pp: a v2ProPlus bundle, whose worker computes its default voice through the sv graph.
    fixture_bundle = request.getfixturevalue(bundle_fixture)
    port = free_port()
    log = tmp_path / "up.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")}
    env |= {"RELAYTTS_METRICS_GATEWAY_PORT": "0", "RELAYTTS_METRICS_WORKER_PORT": "0", "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "relaytts.cli", "up", "--bundle", str(fixture_bundle.root),
                               "--port", str(port), "--run-dir", str(tmp_path / "run")],
                              stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        # A readiness deadline, not a timing assert: the v2ProPlus bundle's worker hashes and loads ~110 MB more
        # (the sv graph) and computes its default voice through it; on a loaded 2-core machine that took > 120 s.
        deadline = time.monotonic() + 300
        while "Ctrl-C to stop" not in log.read_text():
            assert up.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert gateway_serving(f"127.0.0.1:{port}")
        assert "open mode" in log.read_text()
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0, log.read_text()
        assert not gateway_serving(f"127.0.0.1:{port}")
        left = subprocess.run(["pgrep", "-f", str(tmp_path / "run")], capture_output=True, text=True).stdout.split()
        assert left == [], "processes of the run outlived `relaytts up`"
    finally:
        if up.poll() is None:  # SIGTERM first: `up` stops its children; a SIGKILL would orphan them
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(30)
            except subprocess.TimeoutExpired:
                up.kill()


def test_up_without_a_bundle_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")}
    proc = subprocess.run([sys.executable, "-m", "relaytts.cli", "up"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: no bundle: pass --bundle DIR or set RELAYTTS_WORKER_BUNDLE (`relaytts demo` builds one from random "
        "weights)"]


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
