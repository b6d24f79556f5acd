"""The runtime path (bundle, workers, edge_client) never imports torch, even through a full synthesis."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import numpy as np
from relaytts.local import LocalSynthesizer
from relaytts.sampling import SamplingParams
synth = LocalSynthesizer(sys.argv[1])
audio = np.concatenate(list(synth.synthesize("你好，世界。Hello there, 42 times!", synth.reference_style(None),
                                             "auto", SamplingParams(seed=1), max_new_tokens=30)))
assert len(audio) > 0
heavy = sorted(m for m in ("torch", "transformers", "nltk", "g2p_en") if m in sys.modules)
print(",".join(heavy) or "clean")
"""


def test_full_synthesis_imports_no_torch(fixture_bundle):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(fixture_bundle.root)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "clean"


def test_service_modules_import_no_torch():
    """The gateway, the worker task and the edge client load without torch (and the gateway without workers)."""
    script = (
        "import sys\n"
        "import orchestrator.server, workers.tasks, workers.app, edge_client.client, edge_client.aio\n"
        "print(','.join(sorted(m for m in ('torch', 'transformers') if m in sys.modules)) or 'clean')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "clean"
    gateway_only = "import sys, orchestrator.server\nprint(any(m.startswith('workers') for m in sys.modules))\n"
    proc = subprocess.run([sys.executable, "-c", gateway_only], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False", "the gateway imports worker code"
