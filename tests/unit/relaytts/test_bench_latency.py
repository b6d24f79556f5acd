"""The latency benchmark's in-process parts on the fixture bundle (the system part is the command itself)."""

from __future__ import annotations

from bundle import Precision
from edge_client.vocoder import Vocoder
from relaytts.bench_latency import stream_offline_ratio, variant_rows


def test_stream_offline_ratio_reports_cost_and_fidelity(fixture_bundle):
    vocoder = Vocoder.load(fixture_bundle)
    ratio, snr = stream_offline_ratio(vocoder, fixture_bundle.manifest.sovits["gin_channels"], 8, 25, runs=1)
    assert ratio > 0 and snr >= 20


def test_variant_rows_cover_every_vocoder_variant(fixture_bundle):
    rows = variant_rows(fixture_bundle, runs=1)
    assert [r["precision"] for r in rows] == [Precision.INT8.value]
    assert rows[0]["snr_db_vs_fp32"] > 15 and rows[0]["time_ratio_vs_fp32"] > 0
