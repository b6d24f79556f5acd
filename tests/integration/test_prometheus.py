"""deploy/prometheus and deploy/grafana against a real Prometheus scraping a real gateway and worker.

promtool checks the configuration and the alert rules and runs their unit tests
(``deploy/prometheus/rules_test.yml``). Then a Prometheus server scrapes the whole system (redis-server,
a Celery worker process, the gateway; ``relaytts.embedded``) every second while an edge client speaks,
and every PromQL expression of the dashboards and of the rules is evaluated through its HTTP API: none
may fail, the latency panels must show numbers, and so must the queue and book panels once a small
book has gone through the batch worker. The compose healthcheck commands run against the
same gateway and worker.

Needs the ``prometheus`` and ``promtool`` binaries (Debian/Ubuntu: ``apt-get install prometheus``).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

from edge_client import Client
from edge_client.books import BookClient
from relaytts.broker import QUEUES
from relaytts.embedded import EmbeddedSystem
from relaytts.jobs import JobStatus
from relaytts.redis_server import free_port
from relaytts.sampling import SamplingParams
from relaytts.settings import load_settings
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
#: Grafana's interval variables, as the test evaluates them (the whole run fits in a minute).
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1m"}
#: Histograms whose dashboard panels must show data after a couple of syntheses.
LATENCY_HISTOGRAMS = ("relaytts_stage_seconds_bucket", "relaytts_time_to_first_chunk_seconds_bucket",
                      "relaytts_edge_time_to_first_audio_seconds_bucket")
STAGES = {"frontend", "prefill", "decode_step", "relay"}
BOOK = b"Chapter 1\n\nA first short line.\n\nChapter 2\n\nA second short line."

pytestmark = [
    pytest.mark.skipif(not (PROMETHEUS and PROMTOOL),
                       reason="prometheus/promtool binaries not found on PATH (Debian/Ubuntu: apt-get install "
                              "prometheus); CI must install them"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=PROMETHEUS_DIR)


def test_promtool_check_config():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules():
    result = promtool("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_unit_tests():
    result = promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


# --- a real Prometheus scraping a real system ---------------------------------------------------------


def dashboard_expressions() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every dashboard, Grafana variables substituted."""
    found = []

    def walk(panels: list[dict]) -> None:
        for panel in panels:
            walk(panel.get("panels", []))
            for target in panel.get("targets", []):
                expr = target["expr"]
                for name, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(name, value)
                assert "$" not in expr, f"{panel['title']}: unknown Grafana variable in {target['expr']}"
                found.append((panel["title"], expr))

    for path in DASHBOARDS:
        walk(json.loads(path.read_text())["panels"])
    assert found, "no dashboard expressions found"
    return found


def rule_expressions() -> list[tuple[str, str]]:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())
    return [(rule.get("alert") or rule["record"], rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


class Prometheus:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as reply:
                return json.load(reply)
        except urllib.error.HTTPError as exc:  # a bad query is a 400 with the error in the body
            return json.load(exc)

    def query(self, expr: str) -> dict:
        return self.get("/api/v1/query", query=expr)

    def value(self, expr: str) -> float:
        """The single value of ``expr`` now; NaN when there is none."""
        result = self.query(expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else math.nan


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def system(fixture_bundle, tmp_path_factory):
    settings = load_settings(environ={}, overrides={
        "worker.bundle": str(fixture_bundle.root), "gateway.bundle": str(fixture_bundle.root),
        "gateway.port": free_port(), "metrics.gateway_port": free_port(), "metrics.worker_port": free_port(),
    })
    with EmbeddedSystem(settings, tmp_path_factory.mktemp("system")).start() as running:
        yield running


def scrape_config(system: EmbeddedSystem, prometheus_port: int) -> dict:
    """deploy/prometheus/prometheus.yml with its targets pointed at ``system`` (the live worker and the
    books worker are both ``relaytts-worker``), scraped every second."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    metrics = system.settings.metrics
    workers = [metrics.worker_port] + ([system.batch_metrics_port] if system.batch_metrics_port else [])
    targets = {"relaytts-gateway": [metrics.gateway_port], "relaytts-worker": workers, "prometheus": [prometheus_port]}
    assert {job["job_name"] for job in config["scrape_configs"]} == set(targets)
    for job in config["scrape_configs"]:
        for key in [k for k in job if k.endswith("_sd_configs")]:
            del job[key]
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}" for port in targets[job["job_name"]]]}]
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    return config


@pytest.fixture(scope="module")
def prometheus(system, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(system, port)))
    log_path = tmp / "prometheus.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Prometheus(port)

    def ready() -> bool:
        assert process.poll() is None, f"prometheus exited:\n{log_path.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as reply:
                return reply.status == 200
        except OSError:
            return False

    try:
        wait_for(ready, "prometheus to be ready")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: What one synthesis must move before Prometheus counts as caught up: (component, PromQL, /metrics pattern).
WATCHED = (
    ("gateway", "relaytts_edge_time_to_first_audio_seconds_count", r"relaytts_edge_time_to_first_audio_seconds_count"),
    ("gateway", 'relaytts_stage_seconds_count{stage="relay"}', r'relaytts_stage_seconds_count\{stage="relay"\}'),
    ("worker", 'relaytts_stage_seconds_count{stage="decode_step"}',
     r'relaytts_stage_seconds_count\{stage="decode_step"\}'),
    ("worker", "relaytts_jobs_total", r"relaytts_jobs_total\{[^}]*\}"),
)


def endpoint_sum(system: EmbeddedSystem, component: str, pattern: str) -> float:
    """The sum of the samples matching ``pattern``, read straight from a /metrics endpoint."""
    port = getattr(system.settings.metrics, f"{component}_port")
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(v) for v in re.findall(rf"^{pattern} ([0-9.e+-]+)$", body, re.M))


def speak_and_wait_for_scrape(system: EmbeddedSystem, prometheus: Prometheus, client: Client, seed: int) -> None:
    """One synthesis, then wait until Prometheus has scraped what it produced."""
    before = [endpoint_sum(system, component, pattern) for component, _, pattern in WATCHED]
    chunks = list(client.synthesize("Metrics for the dashboards.", seed=seed,
                                    sampling=SamplingParams(seed=seed, max_new_tokens=30)))
    assert chunks
    for (component, expr, pattern), old in zip(WATCHED, before, strict=True):
        # The edge's playback report and the worker's final count land just after the last chunk.
        wait_for(lambda c=component, p=pattern, o=old: endpoint_sum(system, c, p) > o,
                 f"{expr} to grow on the {component}")
        now = endpoint_sum(system, component, pattern)
        wait_for(lambda e=expr, n=now: prometheus.value(f"sum({e})") >= n, f"Prometheus to scrape {expr} >= {now}")


@pytest.fixture(scope="module")
def scraped(system, prometheus, tmp_path_factory):
    """Prometheus with both targets up and two syntheses' worth of samples."""
    targets = {"relaytts-gateway": 1, "relaytts-worker": 2 if system.batch_metrics_port else 1}
    for job, count in targets.items():
        wait_for(lambda j=job, n=count: prometheus.value(f'sum(up{{job="{j}"}})') == n, f"{job} to be scraped")
    with Client(system.gateway_address, cache_dir=tmp_path_factory.mktemp("edge")) as client:
        # Two runs: series that a first observation creates (worker stages) need a second one to have a rate.
        for seed in (1, 2):
            speak_and_wait_for_scrape(system, prometheus, client, seed)
        books = BookClient(client)
        job = books.submit(BOOK, filename="book.txt", seed=3, sampling=SamplingParams(max_new_tokens=20))
        wait_for(lambda: books.get(job.job_id).status.finished, "the book to end", 120)
        done = books.get(job.job_id)
        assert done.status is JobStatus.DONE, done
    wait_for(lambda: prometheus.value('sum(relaytts_book_segments_total{status="done"})') >= done.segments_done,
             f"Prometheus to count the book's {done.segments_done} segments")
    wait_for(lambda: prometheus.value("max(relaytts_books_open)") == 0, "Prometheus to see no open book")
    return prometheus


def test_every_dashboard_and_rule_expression_evaluates(scraped):
    failures = []
    for where, expr in dashboard_expressions() + rule_expressions():
        reply = scraped.query(expr)
        if reply.get("status") != "success":
            failures.append(f"{where}: {expr}\n  {reply.get('errorType')}: {reply.get('error')}")
    assert not failures, "\n".join(failures)


def test_latency_panels_show_data(scraped):
    checked = 0
    for title, expr in dashboard_expressions():
        if not any(metric in expr for metric in LATENCY_HISTOGRAMS):
            continue
        result = scraped.query(expr)["data"]["result"]
        values = {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in result}
        assert values and all(math.isfinite(v) and v > 0 for v in values.values()), f"{title}: {expr} -> {values}"
        if "by (le, stage)" in expr:
            assert {r["metric"]["stage"] for r in result} == STAGES, f"{title}: {expr}"
        checked += 1
    assert checked >= 7  # stage p50/p95/p99, time to first chunk, time to first audio


def panel_results(prometheus: Prometheus, metric: str) -> dict[str, list[dict]]:
    """{panel title: query result} of every dashboard expression that reads ``metric``."""
    return {title: prometheus.query(expr)["data"]["result"]
            for title, expr in dashboard_expressions() if metric in expr}


def test_queue_and_book_panels_show_data(scraped):
    for metric in ("relaytts_queue_length", "relaytts_queue_oldest_age_seconds"):
        for title, result in panel_results(scraped, metric).items():
            queues = {r["metric"].get("queue") for r in result if "queue" in r["metric"]}
            assert queues == set(QUEUES), f"{title}: {result}"
            # the workers keep up with two syntheses and a small book: nothing is left waiting
            assert all(float(r["value"][1]) == 0 for r in result if "queue" in r["metric"]), f"{title}: {result}"
    (opened,) = panel_results(scraped, "relaytts_books_open").values()
    assert {r["metric"]["status"] for r in opened} == {"queued", "running"}
    (segments,) = panel_results(scraped, "relaytts_book_segments_total").values()
    per_minute = {r["metric"]["status"]: float(r["value"][1]) for r in segments}
    assert per_minute["done"] > 0 and per_minute["failed"] == 0, per_minute


def test_alert_rules_load_and_evaluate_cleanly(scraped):
    def evaluated() -> bool:
        rules = [r for g in scraped.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]]
        return bool(rules) and all(r["lastEvaluation"] > "2000" for r in rules)

    wait_for(evaluated, "every rule to be evaluated once")
    groups = scraped.get("/api/v1/rules")["data"]["groups"]
    rules = {r["name"]: r for g in groups for r in g["rules"]}
    assert set(rules) == {name for name, _ in rule_expressions()}
    bad = {name: r.get("lastError") for name, r in rules.items() if r["health"] != "ok"}
    assert not bad, bad
    # absent(up{job=...} == 1) must name the jobs the scrape config really has: both are up here, and
    # the jobs did start. (A job between submission and its first chunk makes RelayttsJobsNotStarted
    # pending for a moment, hence the wait.)
    quiet = ("RelayttsWorkerAbsent", "RelayttsGatewayAbsent", "RelayttsTargetDown", "RelayttsJobsNotStarted")

    def states() -> dict[str, str]:
        return {r["name"]: r["state"] for g in scraped.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]
                if r["name"] in quiet}

    try:
        wait_for(lambda: set(states().values()) == {"inactive"}, "alerts to be inactive", 15)
    except AssertionError:
        raise AssertionError(f"alerts that should be inactive: {states()}") from None


# --- the compose healthchecks, against the same processes ---------------------------------------------


def compose_service(name: str) -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"][name]


def test_compose_gateway_healthcheck_probes_grpc_health(system):
    spec = compose_service("gateway")
    test = spec["healthcheck"]["test"]
    assert test == ["CMD", "relaytts", "gateway", "--check"]
    assert spec["environment"]["RELAYTTS_EDGE_CA_FILE"] == "/run/secrets/gateway_tls_ca"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")}
    command = [sys.executable, "-m", "relaytts.cli", *test[2:]]
    # This system serves plaintext; tests/integration/test_security.py probes a TLS gateway the same way.
    ok = subprocess.run(command, capture_output=True, text=True, timeout=60,
                        env=env | {"RELAYTTS_GATEWAY_PORT": str(system.settings.gateway.port)})
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env=env | {"RELAYTTS_GATEWAY_PORT": str(free_port())})
    assert down.returncode != 0


@pytest.mark.parametrize("service", ["worker-cpu", "worker-batch"])
def test_compose_worker_healthcheck_reads_the_heartbeat(system, service):
    """The container's command with its queues: the live worker's and the books worker's heartbeats
    are told apart by queue, as they are between the two workers ``relaytts up`` runs here."""
    spec = compose_service(service)
    test = spec["healthcheck"]["test"]
    assert test[:2] == ["CMD", "relaytts"]
    queues = spec["environment"]["RELAYTTS_WORKER_QUEUES"]
    assert system.batch_metrics_port, "relaytts up started no books worker"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYTTS_")} | {"RELAYTTS_WORKER_QUEUES": queues}
    command = [sys.executable, "-m", "relaytts.cli", *test[2:]]
    alive = subprocess.run(command, capture_output=True, text=True, timeout=60,
                           env=env | {"RELAYTTS_REDIS_URL": system.settings.redis.url})
    assert alive.returncode == 0, alive.stderr
    assert alive.stdout.startswith(socket.gethostname())  # the heartbeat line of this host's worker
    elsewhere = subprocess.run(command, capture_output=True, text=True, timeout=60,
                               env=env | {"RELAYTTS_REDIS_URL": f"{system.settings.redis.url.rsplit('/', 1)[0]}/9"})
    assert elsewhere.returncode == 1  # no heartbeat in that database
