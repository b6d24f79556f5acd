"""Admission (try-acquire) and the package surface."""

from __future__ import annotations

import pytest

import orchestrator
from orchestrator.metrics import GatewayMetrics
from orchestrator.synthesis import Admission
from relaytts.errors import Overloaded


def test_admission_refuses_at_once_past_the_limit_and_frees_on_exit():
    metrics = GatewayMetrics()
    admission = Admission(2, metrics)
    with admission.slot(), admission.slot():
        assert metrics.active_streams._value.get() == 2
        with pytest.raises(Overloaded, match=r"`max_active_streams` is 2 and 2 streams are open"):
            with admission.slot():
                pass
    assert admission.active == 0 and metrics.active_streams._value.get() == 0
    with pytest.raises(RuntimeError):
        with admission.slot():
            raise RuntimeError("a stream failing still frees its slot")
    assert admission.active == 0


def test_the_package_exports_a_short_surface():
    assert orchestrator.__all__ == ["GatewayDeps", "build_server", "serve", "stop_server"]
    assert callable(orchestrator.build_server)


def test_metric_names_follow_the_conventions():
    from prometheus_client import generate_latest

    text = generate_latest(GatewayMetrics().registry).decode()
    for name in ("relaytts_time_to_first_chunk_seconds", "relaytts_stage_seconds", "relaytts_edge_rtf",
                 "relaytts_edge_time_to_first_audio_seconds", "relaytts_edge_underruns_total",
                 "relaytts_active_streams", "relaytts_jobs_submitted_total", "relaytts_errors_total",
                 "relaytts_stream_cancellations_total"):
        assert f"# TYPE {name.removesuffix('_total')} " in text or f"# TYPE {name} " in text, name
    assert GatewayMetrics().serve(0) == 0  # 0 = off
