"""The gateway's Prometheus metrics (one registry per gateway, served on ``metrics.gateway_port``).

Labels are bounded: ``stage`` is a fixed word and ``reason`` is an error class's ``reason``. Job ids,
tenants and texts go to logs, never to labels.
"""

from __future__ import annotations

import logging
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from orchestrator.backlog import BacklogCollector
from relaytts.errors import Unavailable

__all__ = ["GatewayMetrics"]

log = logging.getLogger(__name__)

#: Request start -> first chunk written (and the edge's time to first audio): 50 ms ... 10 s.
LATENCY_BUCKETS: Final = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
#: One chunk through the gateway (Redis read -> written to the client): 0.1 ms ... 1 s.
STAGE_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
#: Real-time factor (compute seconds / audio seconds); above 1 the edge underruns.
RTF_BUCKETS: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)


class GatewayMetrics:
    """Every gateway metric, in its own registry (several gateways can live in one test process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.time_to_first_chunk = Histogram(
            "relaytts_time_to_first_chunk_seconds", "Synthesize request start to its first chunk written.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.stage = Histogram(
            "relaytts_stage_seconds", "Time spent per stage; the gateway's stage is relay (Redis read to written).",
            ["stage"], buckets=STAGE_BUCKETS, registry=r)
        self.relay = self.stage.labels(stage="relay")
        self.edge_time_to_first_audio = Histogram(
            "relaytts_edge_time_to_first_audio_seconds", "Edge-reported request to first audible sample.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.edge_rtf = Histogram(
            "relaytts_edge_rtf", "Edge-reported real-time factor of the vocoder (above 1 underruns).",
            buckets=RTF_BUCKETS, registry=r)
        self.edge_underruns = Counter(
            "relaytts_edge_underruns", "Edge-reported playout buffer underruns.", registry=r)
        self.active_streams = Gauge(
            "relaytts_active_streams", "Synthesize/Resume streams open now.", registry=r)
        self.jobs_submitted = Counter(
            "relaytts_jobs_submitted", "Jobs created and enqueued.", registry=r)
        self.errors = Counter(
            "relaytts_errors", "RPCs ended by an error, by stable reason.", ["reason"], registry=r)
        self.stream_cancellations = Counter(
            "relaytts_stream_cancellations", "Streams the client cancelled or left (the job's cancel key set).",
            registry=r)
        self.jobs_requeued = Counter(
            "relaytts_jobs_requeued", "Jobs this gateway's reaper requeued because their worker was lost "
            "(lease lapsed).", registry=r)
        self._http = None
        self._backlog: BacklogCollector | None = None

    def watch_backlog(self, redis_url: str) -> None:
        """Also report queue depth and book progress, read from ``redis_url`` at each scrape (``backlog``)."""
        if self._backlog is None:
            self._backlog = BacklogCollector.from_url(redis_url)
            self.registry.register(self._backlog)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``port`` (0 = off); returns the bound port (0 when off)."""
        if not port:
            return 0
        try:
            self._http, _thread = start_http_server(port, addr=host.strip("[]"), registry=self.registry)
        except OSError as exc:
            raise Unavailable(f"cannot serve /metrics on {host}:{port} ({exc.strerror or exc})") from None
        bound = self._http.server_port
        log.info("metrics on http://%s:%d/metrics", host, bound)
        return bound

    def close(self) -> None:
        if self._backlog is not None:
            self.registry.unregister(self._backlog)
            self._backlog.close()
            self._backlog = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
