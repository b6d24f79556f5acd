"""deploy/ is consistent with the code: settings, ports, metric names, queue names, probes, GPU requests.

Structure only (YAML and JSON parsed, nothing started); tests/integration/test_prometheus.py runs the
Prometheus configuration, the alert rules, the dashboards' queries and the compose healthchecks for real.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from kombu.transport.redis import PRIORITY_STEPS, Channel

from relaytts.jobs import BATCH_QUEUE, INTERACTIVE_QUEUE
from relaytts.settings import Settings, load_settings, settings_to_env
from tests.conftest import REPO_ROOT
from workers.app import CHILD_START_TIMEOUT_SECONDS, SOFT_SHUTDOWN_SECONDS, make_celery_app

DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "k8s"
DEFAULTS = Settings()
SETTINGS = frozenset(settings_to_env(DEFAULTS))
COMPOSE_WORKERS = ("worker-cpu", "worker-gpu", "worker-batch")
K8S_WORKERS = ("relaytts-worker-gpu", "relaytts-worker-batch")
METRIC_SOURCES = (REPO_ROOT / "orchestrator" / "metrics.py", REPO_ROOT / "orchestrator" / "backlog.py",
                  REPO_ROOT / "workers" / "metrics.py")


# --- helpers ------------------------------------------------------------------------------------------


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def compose() -> dict:
    return load_yaml(DEPLOY / "docker-compose.yml")


def manifests(folder: Path = K8S) -> list[dict]:
    """Every object of every resource the folder's kustomization.yaml lists."""
    kustomization = load_yaml(folder / "kustomization.yaml")
    return [doc for name in kustomization["resources"] for doc in yaml.safe_load_all((folder / name).read_text())
            if doc]


def k8s_object(kind: str, name: str, folder: Path = K8S) -> dict:
    found = [m for m in manifests(folder) if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_spec(kind: str, name: str) -> dict:
    return k8s_object(kind, name)["spec"]["template"]["spec"]


def container_env(container: dict, configmaps: dict[str, dict[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= configmaps[source["configMapRef"]["name"]]
    for item in container.get("env", []):
        if "value" in item:  # Kubernetes expands $(NAME) of variables defined before it
            env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"])
        else:  # from a Secret: a placeholder that names it
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = f"secret-{ref['name']}-{ref['key']}"
    return env


def configmaps() -> dict[str, dict[str, str]]:
    return {m["metadata"]["name"]: m["data"] for m in manifests() if m["kind"] == "ConfigMap"}


def relaytts_env(env: dict[str, str]) -> dict[str, str]:
    return {k: str(v) for k, v in env.items() if k.startswith("RELAYTTS_")}


def queues_of(env: dict[str, str]) -> set[str]:
    return set(load_settings(environ=relaytts_env(env)).worker.queues.split(","))


def k8s_worker_queues(name: str) -> set[str]:
    (container,) = pod_spec("Deployment", name)["containers"]
    return queues_of(container_env(container, configmaps()))


def routed_queues() -> set[str]:
    """Every queue the Celery app sends a task to (its routes and its default queue)."""
    app = make_celery_app(Settings())
    return {route["queue"] for route in app.conf.task_routes.values()} | {app.conf.task_default_queue}


def broker_lists(queue: str) -> set[str]:
    """The Redis lists kombu spreads one queue over: one per priority step, the plain name for step 0."""
    return {f"{queue}{Channel.sep}{step}" if step else queue for step in PRIORITY_STEPS}


def dashboards() -> list[tuple[Path, dict]]:
    paths = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert paths, "no Grafana dashboards"
    return [(p, json.loads(p.read_text())) for p in paths]


def panels(dashboard: dict) -> Iterator[dict]:
    def walk(items: list[dict]) -> Iterator[dict]:
        for panel in items:
            yield panel
            yield from walk(panel.get("panels", []))

    yield from walk(dashboard["panels"])


def rules() -> list[dict]:
    return [rule for group in load_yaml(DEPLOY / "prometheus" / "rules.yml")["groups"] for rule in group["rules"]]


def expressions() -> list[tuple[str, str]]:
    found = [(f"{path.name}: {panel['title']}", target["expr"])
             for path, dashboard in dashboards() for panel in panels(dashboard) for target in panel.get("targets", [])]
    return found + [(rule["alert"], rule["expr"]) for rule in rules()]


def exported_series() -> set[str]:
    """Every series name the gateway and the workers export, from the metric constructors in the code."""
    names = set()
    for source in METRIC_SOURCES:
        for node in ast.walk(ast.parse(source.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("Counter", "Gauge", "Histogram", "GaugeMetricFamily") and node.args
                    and isinstance(node.args[0], ast.Constant)):
                continue
            name = node.args[0].value
            if node.func.id == "Counter":
                names.add(name.removesuffix("_total") + "_total")
            elif node.func.id == "Histogram":
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            else:
                names.add(name)
    assert len(names) > 20, names
    return names


# --- settings -----------------------------------------------------------------------------------------


def test_every_relaytts_variable_in_deploy_is_a_setting():
    used = {}
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            for name in re.findall(r"RELAYTTS_[A-Z0-9_]*[A-Z0-9]", path.read_text(errors="replace")):
                used.setdefault(name, path.relative_to(REPO_ROOT))
    assert len(used) >= 10, used
    unknown = {name: str(where) for name, where in used.items() if name not in SETTINGS}
    assert not unknown, f"not settings in relaytts/settings.py: {unknown}"


def environments() -> dict[str, dict[str, str]]:
    out = {f"compose {name}": {k: str(v) for k, v in service.get("environment", {}).items()}
           for name, service in compose()["services"].items()}
    maps = configmaps()
    for m in manifests():
        if m["kind"] in ("Deployment", "StatefulSet"):
            for container in m["spec"]["template"]["spec"]["containers"]:
                out[f"k8s {m['metadata']['name']}/{container['name']}"] = container_env(container, maps)
    return out


@pytest.mark.parametrize("where", sorted(environments()))
def test_environment_loads_as_settings(where):
    # Types and names are checked the way the services read them (an unknown RELAYTTS_* is an error).
    load_settings(environ=relaytts_env(environments()[where]))


# --- docker compose -----------------------------------------------------------------------------------


def test_compose_has_every_service_with_a_pinned_image():
    services = compose()["services"]
    assert set(services) == {"redis", "gateway", "prometheus", "grafana", *COMPOSE_WORKERS}
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" not in service:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag ({image})"


def test_compose_redis_persists_and_never_evicts():
    spec = compose()
    redis = spec["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    volume, target = redis["volumes"][0].split(":")[:2]
    assert target == "/data" and volume in spec["volumes"]
    for name in ("gateway", *COMPOSE_WORKERS):
        url = urlparse(spec["services"][name]["environment"]["RELAYTTS_REDIS_URL"])
        assert url.hostname == "redis" and url.port == 6379, name


def test_compose_images_build_from_the_deploy_dockerfile():
    services = compose()["services"]
    for name in ("gateway", *COMPOSE_WORKERS):
        build = services[name]["build"]
        assert (DEPLOY / build["context"]).resolve() == REPO_ROOT
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert "gpu" in services["worker-gpu"]["build"]["args"]["EXTRAS"].split(",")
    assert "args" not in services["worker-cpu"]["build"] and "args" not in services["worker-batch"]["build"]
    assert services["worker-gpu"]["image"] != services["worker-cpu"]["image"]


def test_compose_gateway_ports_and_probe_match_the_settings():
    gateway = compose()["services"]["gateway"]
    env = gateway["environment"]
    settings = load_settings(environ=relaytts_env(env))
    assert settings.gateway.host == "0.0.0.0"  # reachable from other containers (and /metrics with it)
    assert settings.gateway.port == DEFAULTS.gateway.port
    assert settings.metrics.gateway_port == DEFAULTS.metrics.gateway_port
    assert any(p.endswith(f":{settings.gateway.port}:{settings.gateway.port}") for p in gateway["ports"])
    assert gateway["healthcheck"]["test"] == ["CMD", "relaytts", "gateway", "--check"]  # gRPC health over TLS
    assert settings.gateway.api_keys_file == "/run/secrets/api_keys" and "api_keys" in gateway["secrets"]
    assert env["RELAYTTS_GATEWAY_BUNDLE"] == "/bundle" and any(v.endswith(":/bundle:ro") for v in gateway["volumes"])


def test_compose_workers_probe_shut_down_and_use_the_gpu():
    services = compose()["services"]
    for name in COMPOSE_WORKERS:
        worker = services[name]
        settings = load_settings(environ=relaytts_env(worker["environment"]))
        assert worker["command"] == ["worker"]
        assert worker["healthcheck"]["test"] == ["CMD", "relaytts", "worker", "--check"]
        assert settings.metrics.worker_port == DEFAULTS.metrics.worker_port
        assert settings.worker.bundle == "/bundle"
        assert worker["environment"]["REMAP_SIGTERM"] == "SIGQUIT"
        assert int(worker["stop_grace_period"].removesuffix("s")) > SOFT_SHUTDOWN_SECONDS
    gpu = services["worker-gpu"]
    assert gpu["environment"]["RELAYTTS_WORKER_DEVICE"] == "cuda"
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    for name in ("worker-cpu", "worker-batch"):
        assert services[name]["environment"]["RELAYTTS_WORKER_DEVICE"] == "cpu" and "deploy" not in services[name]
    assert services["worker-batch"]["cpu_shares"] < 1024  # books yield the CPU to live speech


def test_compose_workers_consume_every_queue_and_books_have_their_own():
    services = compose()["services"]
    queues = {name: queues_of(services[name]["environment"]) for name in COMPOSE_WORKERS}
    assert set().union(*queues.values()) == routed_queues()
    assert queues["worker-batch"] == {BATCH_QUEUE}
    assert INTERACTIVE_QUEUE in queues["worker-cpu"] and queues["worker-gpu"] == queues["worker-cpu"]


def test_compose_mounts_the_monitoring_config_that_exists():
    services = compose()["services"]
    mounts = {}
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
                mounts[source] = target
    assert mounts["./prometheus"] == "/etc/prometheus"
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "relaytts.yml")
    assert provider["providers"][0]["options"]["path"] == mounts["./grafana/dashboards"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]


def test_prometheus_scrapes_the_compose_services_on_the_metrics_ports():
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    services = compose()["services"]
    expected = {"relaytts-gateway": (["gateway"], DEFAULTS.metrics.gateway_port),
                "relaytts-worker": (list(COMPOSE_WORKERS), DEFAULTS.metrics.worker_port)}
    for job, (names, port) in expected.items():
        (sd,) = jobs[job]["dns_sd_configs"]
        assert sd["names"] == names and sd["port"] == port, job
        assert all(name in services for name in names)
    assert config["rule_files"] == ["rules.yml"]


def test_dockerfile_installs_every_package_and_the_gpu_extra():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^ARG EXTRAS=", dockerfile, re.M)
    assert 'pip install ".[${EXTRAS}]"' in dockerfile and "onnxruntime-gpu" in dockerfile
    assert 'ENTRYPOINT ["tini", "--", "relaytts"]' in dockerfile
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "gpu" in pyproject["project"]["optional-dependencies"]
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\S+) \./\1$", dockerfile, re.M))
    assert packages <= copied, f"not copied into the image: {packages - copied}"
    allowed = set(re.findall(r"^!(\S+?)/?$", (DEPLOY / "Dockerfile.dockerignore").read_text(), re.M))
    assert packages | {"pyproject.toml", "README.md"} <= allowed


# --- Kubernetes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [K8S, K8S / "monitoring"], ids=["k8s", "k8s-monitoring"])
def test_kustomization_lists_every_manifest_and_each_is_complete(folder):
    kustomization = load_yaml(folder / "kustomization.yaml")
    on_disk = {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk
    assert kustomization["namespace"] == "relaytts"
    for doc in manifests(folder):
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc
        assert doc["metadata"].get("name"), doc


def test_k8s_workloads_select_their_own_pods_and_use_listed_images():
    images = {i["name"] for i in load_yaml(K8S / "kustomization.yaml")["images"]}
    for m in manifests():
        if m["kind"] not in ("Deployment", "StatefulSet"):
            continue
        selector = m["spec"]["selector"]["matchLabels"]
        labels = m["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), m["metadata"]["name"]
        for container in m["spec"]["template"]["spec"]["containers"]:
            image = container["image"]
            assert image in images or (":" in image and not image.endswith(":latest")), image


def test_k8s_services_reach_their_pods():
    pods = {m["metadata"]["name"]: m["spec"]["template"] for m in manifests()
            if m["kind"] in ("Deployment", "StatefulSet")}
    for service in (m for m in manifests() if m["kind"] == "Service"):
        matching = [t for t in pods.values() if service["spec"]["selector"].items() <= t["metadata"]["labels"].items()]
        assert matching, service["metadata"]["name"]
        port_names = {p["name"] for t in matching for c in t["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, (service["metadata"]["name"], port)


def test_k8s_gateway_listens_on_the_settings_ports_with_grpc_probes():
    (container,) = pod_spec("Deployment", "relaytts-gateway")["containers"]
    settings = load_settings(environ=relaytts_env(container_env(container, configmaps())))
    assert settings.gateway.host == "0.0.0.0"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": settings.gateway.port, "metrics": settings.metrics.gateway_port}
    assert settings.gateway.port == DEFAULTS.gateway.port
    for probe in ("readinessProbe", "livenessProbe"):  # grpc probes cannot speak TLS
        assert container[probe]["exec"]["command"] == ["relaytts", "gateway", "--check"], probe
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(Path(settings.gateway.api_keys_file).parent) in mounts and settings.gateway.bundle in mounts
    service = k8s_object("Service", "relaytts-gateway")
    grpc_port = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
    assert grpc_port["port"] == settings.gateway.port and "appProtocol" not in grpc_port  # not h2c: TLS


@pytest.mark.parametrize("name", K8S_WORKERS)
def test_k8s_worker_gets_a_gpu_probes_its_heartbeat_and_has_time_to_requeue(name):
    spec = pod_spec("Deployment", name)
    (container,) = spec["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    env = container_env(container, configmaps())
    settings = load_settings(environ=relaytts_env(env))
    assert settings.worker.device == "cuda" and settings.worker.bundle
    assert env["REMAP_SIGTERM"] == "SIGQUIT"
    assert spec["terminationGracePeriodSeconds"] > SOFT_SHUTDOWN_SECONDS
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == ["relaytts", "worker", "--check"], probe
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= CHILD_START_TIMEOUT_SECONDS
    assert {p["containerPort"] for p in container["ports"]} == {settings.metrics.worker_port}


def k8s_redis_url() -> str:
    """The Redis URL every relaytts container uses (the same in each; built from the password Secret)."""
    urls = {container_env(c, configmaps())["RELAYTTS_REDIS_URL"] for m in manifests()
            if m["kind"] == "Deployment" for c in m["spec"]["template"]["spec"]["containers"]}
    assert len(urls) == 1, urls
    return urls.pop()


def test_k8s_redis_persists_never_evicts_and_is_where_the_settings_point():
    redis = k8s_object("StatefulSet", "redis")
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    args = " ".join(container["args"])
    assert "--appendonly yes" in args and "--maxmemory-policy noeviction" in args
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in container["volumeMounts"]
    url = urlparse(k8s_redis_url())
    service = k8s_object("Service", url.hostname)
    assert service["spec"]["ports"][0]["port"] == url.port == 6379
    assert redis["spec"]["serviceName"] == url.hostname


def test_k8s_workers_consume_every_queue():
    queues = {name: k8s_worker_queues(name) for name in K8S_WORKERS}
    assert set().union(*queues.values()) == routed_queues()
    assert queues["relaytts-worker-batch"] == {BATCH_QUEUE}
    assert INTERACTIVE_QUEUE in queues["relaytts-worker-gpu"]


def scaled_objects() -> dict[str, dict]:
    return {m["spec"]["scaleTargetRef"]["name"]: m for m in manifests() if m["kind"] == "ScaledObject"}


def test_keda_scales_each_worker_on_the_lists_of_its_queue():
    scaled = scaled_objects()
    assert set(scaled) == set(K8S_WORKERS)
    for name, obj in scaled.items():
        assert obj["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        k8s_object("Deployment", name)
        assert {t["type"] for t in obj["spec"]["triggers"]} == {"redis"}
    lists = {name: {t["metadata"]["listName"] for t in obj["spec"]["triggers"]} for name, obj in scaled.items()}
    # Live jobs carry no priority (one list); book segments do, and kombu keeps each priority step in its own list.
    assert lists["relaytts-worker-gpu"] == {INTERACTIVE_QUEUE}
    assert lists["relaytts-worker-batch"] == broker_lists(BATCH_QUEUE)
    for name, names in lists.items():
        assert {n.split(Channel.sep)[0] for n in names} <= k8s_worker_queues(name)
    assert scaled["relaytts-worker-gpu"]["spec"]["minReplicaCount"] >= 1  # no model load on a live request
    assert scaled["relaytts-worker-batch"]["spec"]["minReplicaCount"] == 0


def test_keda_reads_the_redis_the_settings_name():
    namespace = load_yaml(K8S / "kustomization.yaml")["namespace"]
    url = urlparse(k8s_redis_url())
    for obj in scaled_objects().values():
        for trigger in obj["spec"]["triggers"]:
            meta = trigger["metadata"]
            assert meta["address"] == f"{url.hostname}.{namespace}.svc.cluster.local:{url.port}"
            assert meta["databaseIndex"] == url.path.strip("/")
            assert int(meta["listLength"]) >= 1


def test_podmonitors_scrape_under_the_job_names_the_rules_use():
    jobs = {job["job_name"] for job in load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["scrape_configs"]}
    pods = [m["spec"]["template"] for m in manifests() if m["kind"] == "Deployment"]
    for monitor in manifests(K8S / "monitoring"):
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        (relabel,) = endpoint["relabelings"]
        assert relabel["targetLabel"] == "job" and relabel["replacement"] in jobs
        selected = [t for t in pods if monitor["spec"]["selector"]["matchLabels"].items()
                    <= t["metadata"]["labels"].items()]
        assert selected, monitor["metadata"]["name"]
        for template in selected:
            names = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
            assert endpoint["port"] in names


# --- Prometheus rules and Grafana dashboards ----------------------------------------------------------


def test_every_metric_in_the_dashboards_and_rules_is_exported():
    exported = exported_series()
    for where, expr in expressions():
        for name in re.findall(r"\brelaytts_[a-z0-9_]+", expr):
            assert name in exported, f"{where}: {name} is not exported by the gateway or the workers"


def test_alert_rules_have_duration_severity_and_a_runbook_section():
    headings = re.findall(r"^#+ (.+)$", (REPO_ROOT / "docs" / "operations.md").read_text(), re.M)
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-") for h in headings}
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)) >= 5
    for rule in rules():
        name = rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert rule["annotations"]["runbook"].split("#")[1] in anchors, f"{name}: no section in docs/operations.md"


def test_dashboards_parse_and_every_panel_queries_prometheus():
    datasource = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "relaytts.yml")["datasources"][0]
    assert datasource["type"] == "prometheus" and urlparse(datasource["url"]).hostname == "prometheus"
    for path, dashboard in dashboards():
        assert dashboard["uid"] and dashboard["title"]
        (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
        assert variable["current"]["value"] == datasource["uid"]
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(ids) == len(set(ids)), path.name
        for panel in panels(dashboard):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == f"${{{variable['name']}}}", panel["title"]
            assert panel["targets"] and all(t["expr"].strip() and t["refId"] for t in panel["targets"]), panel["title"]


def test_dashboard_covers_the_operations_views():
    text = json.dumps([p.get("targets", []) for _, d in dashboards() for p in panels(d)])
    for needle in ("histogram_quantile(0.5, sum by (le, stage) (rate(relaytts_stage_seconds_bucket",
                   "histogram_quantile(0.95, sum by (le, stage) (rate(relaytts_stage_seconds_bucket",
                   "histogram_quantile(0.99, sum by (le, stage) (rate(relaytts_stage_seconds_bucket",
                   "relaytts_time_to_first_chunk_seconds_bucket", "relaytts_edge_time_to_first_audio_seconds_bucket",
                   "relaytts_edge_rtf_bucket", "relaytts_queue_wait_seconds_bucket", "relaytts_active_streams",
                   "sum by (job, reason) (rate(relaytts_errors_total", "sum by (status) (rate(relaytts_jobs_total",
                   "relaytts_tokens_total", "relaytts_edge_underruns_total", "max by (queue) (relaytts_queue_length)",
                   "max by (queue) (relaytts_queue_oldest_age_seconds)", "relaytts_books_open",
                   'relaytts_open_book_segments{state=\\"done\\"}', "relaytts_book_segments_total"):
        assert needle in text, needle


# --- security (docs/operations.md, "Security") ---------------------------------------------------------


def test_compose_locks_down_redis_tls_and_the_consoles():
    services = compose()["services"]
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--requirepass") + 1] == "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
    for name in ("gateway", *COMPOSE_WORKERS):
        url = urlparse(services[name]["environment"]["RELAYTTS_REDIS_URL"])
        assert url.password == "${REDIS_PASSWORD}", name
    gateway = services["gateway"]
    settings = load_settings(environ=relaytts_env(gateway["environment"]))
    secrets = {f"/run/secrets/{name}" for name in gateway["secrets"]}
    assert {settings.gateway.tls_cert_file, settings.gateway.tls_key_file, settings.edge.ca_file} <= secrets
    assert all(name in compose()["secrets"] for name in gateway["secrets"])
    assert gateway["ports"] == ["${GATEWAY_PUBLISH:-127.0.0.1}:50051:50051"]  # loopback unless chosen
    assert "--web.enable-lifecycle" not in services["prometheus"]["command"]
    assert ":?" in services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]  # no admin/admin default
    for name in ("gateway", *COMPOSE_WORKERS):  # scraped over the compose network, no host port
        assert load_settings(environ=relaytts_env(services[name]["environment"])).metrics.host == "0.0.0.0"


def test_k8s_redis_needs_the_secret_password_and_runs_locked_down():
    redis = k8s_object("StatefulSet", "redis")
    spec = redis["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    args = container["args"]
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    env = container_env(container, configmaps())
    assert env["REDIS_PASSWORD"] == env["REDISCLI_AUTH"] == "secret-relaytts-redis-password"
    assert spec["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert urlparse(k8s_redis_url()).password == "secret-relaytts-redis-password"
    assert "RELAYTTS_REDIS_URL" not in configmaps()["relaytts-settings"]  # never in a ConfigMap
    auth = k8s_object("TriggerAuthentication", "relaytts-redis")
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "password", "name": "relaytts-redis", "key": "password"}]
    for obj in scaled_objects().values():
        assert all(t["authenticationRef"]["name"] == "relaytts-redis" for t in obj["spec"]["triggers"])


def test_k8s_network_policy_lets_only_the_gateway_and_workers_reach_redis():
    policy = k8s_object("NetworkPolicy", "redis")
    redis_labels = k8s_object("StatefulSet", "redis")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= redis_labels.items()
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]
    (pods,) = [p["podSelector"] for p in rule["from"] if "podSelector" in p]
    (expression,) = pods["matchExpressions"]
    allowed = set(expression["values"])
    for m in manifests():
        if m["kind"] == "Deployment":
            assert m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] in allowed


def test_k8s_gateway_serves_the_cert_manager_certificate_and_reads_secrets_not_world_readable():
    spec = pod_spec("Deployment", "relaytts-gateway")
    (container,) = spec["containers"]
    settings = load_settings(environ=relaytts_env(container_env(container, configmaps())))
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    certificate = k8s_object("Certificate", "relaytts-gateway-tls")
    tls_volume = volumes[mounts[str(Path(settings.gateway.tls_cert_file).parent)]]
    assert tls_volume["secret"]["secretName"] == certificate["spec"]["secretName"]
    assert Path(settings.gateway.tls_key_file).parent == Path(settings.gateway.tls_cert_file).parent
    assert settings.edge.server_name in certificate["spec"]["dnsNames"]
    keys_volume = volumes[mounts[str(Path(settings.gateway.api_keys_file).parent)]]
    for volume in (tls_volume, keys_volume):
        assert volume["secret"]["defaultMode"] & 0o007 == 0  # the gateway refuses a world-readable key file
    assert container["securityContext"]["readOnlyRootFilesystem"]
