"""What ships in deploy/ is checked here, since no cluster or docker engine runs in CI: alert
rules and dashboard queries name series pidsync really exports (with labels it really sets);
the alert rules fire when they should (promtool's unit tests, when promtool is installed);
the Kubernetes manifests pass the API's own schemas; compose, the manifests and the systemd
units run real pidsync commands with real settings; every alert has its runbook in DEPLOY.md."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import promql_parser
import pytest
import yaml
from kubernetes_validate import ValidationError, validate
from prometheus_client.metrics import MetricWrapperBase

from worker.cli import main as cli_main
from worker.config import Settings
from worker.metrics import registry
from worker.metrics.state import StateCollector

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "pidsync-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "pidsync-dashboard.json"
K8S_VERSION = "1.30.0"
#: Labels Prometheus adds to every series it scrapes (and histogram buckets carry).
SCRAPE_LABELS = {"instance", "job", "le", "pod", "namespace"}


# --- what pidsync exports ------------------------------------------------------------------


@pytest.fixture
def exported(database, broker) -> dict[str, set[str]]:
    """Every series name pidsync exports, with its label names: the counters and histograms
    each process keeps, and the gauges read at scrape time (from a real database and broker)."""
    series: dict[str, set[str]] = {}
    registry.scheduler_leader()  # made on first use, by the scheduler
    for metric in [*vars(registry).values(), registry.scheduler_leader()]:
        if not isinstance(metric, MetricWrapperBase):
            continue
        labels = set(metric._labelnames)
        if metric._type == "counter":
            series[f"{metric._name}_total"] = labels
        elif metric._type == "histogram":
            for suffix in ("_bucket", "_count", "_sum"):
                series[metric._name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
        else:
            series[metric._name] = labels
    for family in StateCollector(database, broker).collect():
        series[family.name] = set(getattr(family, "_labelnames", ()))
    return series


def _selectors(node: Any) -> list[Any]:
    """Every vector selector in a parsed PromQL expression."""
    if isinstance(node, promql_parser.VectorSelector):
        return [node]
    found = []
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, int | float | str):
            found += _selectors(child)
    for arg in getattr(node, "args", None) or []:
        found += _selectors(arg)
    return found


def _problems(expr: str, exported: dict[str, set[str]]) -> list[str]:
    try:
        parsed = promql_parser.parse(expr)
    except Exception as exc:
        return [f"not PromQL: {exc}"]
    selectors = _selectors(parsed)
    problems = [] if selectors else ["names no series"]
    for selector in selectors:
        if selector.name not in exported:
            problems.append(f"{selector.name} is not exported")
            continue
        known = exported[selector.name] | SCRAPE_LABELS
        for matcher in selector.matchers.matchers:
            if matcher.name not in known:
                problems.append(f"{selector.name} has no label {matcher.name!r}")
    grouped = set(re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr))
    every_label = set().union(*(exported.get(s.name, set()) for s in selectors)) | SCRAPE_LABELS
    for group in grouped:
        for label in filter(None, (x.strip() for x in group.split(","))):
            if label not in every_label:
                problems.append(f"groups by {label!r}, which none of its series has")
    return problems


def _rules() -> list[dict[str, Any]]:
    return [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]


def _dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    return [(panel["title"], t["expr"]) for panel in board["panels"] for t in panel["targets"]]


def test_every_alert_rule_reads_series_pidsync_exports(exported):
    problems = {r["alert"]: _problems(r["expr"], exported) for r in _rules()}
    assert {alert: p for alert, p in problems.items() if p} == {}
    # The alerts the issue asks for are all there.
    names = {r["alert"] for r in _rules()}
    assert {
        "PidsyncEventFailuresRising", "PidsyncQueueStuck", "PidsyncCrossrefSubmissionsStale",
        "PidsyncGrantsRevokedInBulk", "PidsyncDeadLettersForADay",
    } <= names  # fmt: skip


def test_every_dashboard_query_reads_series_pidsync_exports(exported):
    queries = _dashboard_queries()
    assert len(queries) >= 15
    problems = {title: _problems(expr, exported) for title, expr in queries}
    assert {title: p for title, p in problems.items() if p} == {}


def test_the_checks_catch_a_misspelt_series_or_label(exported):
    # The two checks above would pass vacuously if they could not fail: they can.
    assert _problems("max(pidsync_queue_depth)", exported) == [
        "pidsync_queue_depth is not exported"
    ]
    assert _problems('max(pidsync_crossref_deposits{state="failed"})', exported) == [
        "pidsync_crossref_deposits has no label 'state'"
    ]
    assert _problems("sum by (tenant) (pidsync_orcid_grants)", exported) == [
        "groups by 'tenant', which none of its series has"
    ]


def test_every_alert_links_to_its_runbook_section():
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in (ROOT / "DEPLOY.md").read_text().splitlines()
        if line.startswith("#")
    }
    for rule in _rules():
        runbook = rule["annotations"]["runbook"]
        assert runbook == f"DEPLOY.md#{rule['alert'].lower()}", rule["alert"]
        assert rule["alert"].lower() in headings, f"DEPLOY.md has no section {rule['alert']}"
        assert rule["labels"]["severity"] in {"warning", "critical"}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    checked = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The rules fire (and stay quiet) on the series in pidsync-alerts.test.yml.
    tested = subprocess.run(
        ["promtool", "test", "rules", "pidsync-alerts.test.yml"],
        cwd=DEPLOY / "prometheus", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    config = subprocess.run(
        ["promtool", "check", "config", "--syntax-only", "prometheus.yml"],
        cwd=DEPLOY / "prometheus", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert config.returncode == 0, config.stdout + config.stderr


# --- Kubernetes ----------------------------------------------------------------------------


def _manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in _manifests() if d["kind"] == kind]


def test_every_manifest_passes_the_kubernetes_schemas():
    docs = _manifests()
    assert {d["kind"] for d in docs} >= {
        "Deployment", "Service", "Job", "Secret", "ConfigMap", "HorizontalPodAutoscaler",
    }  # fmt: skip
    for doc in docs:
        validate(doc, K8S_VERSION, strict=True)


def test_the_schema_check_refuses_a_broken_manifest():
    deployment = copy.deepcopy(_kind("Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(ValidationError):
        validate(deployment, K8S_VERSION, strict=True)
    deployment = copy.deepcopy(_kind("Deployment")[0])
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(ValidationError):
        validate(deployment, K8S_VERSION, strict=True)


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["spec"]["template"]["spec"]["containers"]


def test_each_process_has_probes_requests_and_time_to_drain():
    deployments = {d["metadata"]["name"]: d for d in _kind("Deployment")}
    assert set(deployments) == {"pidsync-web", "pidsync-worker", "pidsync-scheduler"}
    for name, doc in deployments.items():
        for container in _containers(doc):
            assert container["livenessProbe"]["httpGet"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"configMapRef", "secretRef"} <= {k for e in container["envFrom"] for k in e}
    web = _containers(deployments["pidsync-web"])[0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # The worker's grace period outlasts the time it gives running messages on SIGTERM.
    worker = deployments["pidsync-worker"]
    command = _containers(worker)[0]["command"]
    drain = float(command[command.index("--shutdown-timeout") + 1])
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > drain
    # The scheduler runs a standby, so a dead leader is replaced without a restart.
    assert deployments["pidsync-scheduler"]["spec"]["replicas"] >= 2
    (hpa,) = _kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "pidsync-worker"
    (job,) = _kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["pidsync", "migrate"]


def _known_variable(name: str) -> bool:
    """Whether ``PIDSYNC_<NAME>`` is a setting (flat, or a section's field)."""
    if not name.startswith("PIDSYNC_"):
        return name == "PROMETHEUS_MULTIPROC_DIR"
    field = name.removeprefix("PIDSYNC_").lower()
    if field in Settings.model_fields:
        return True
    section, _, rest = field.partition("_")
    model = Settings.model_fields.get(section)
    return bool(
        model and model.annotation and rest in getattr(model.annotation, "model_fields", {})
    )


def _command_runs(command: list[str]) -> bool:
    """Whether ``pidsync ...`` names a real command with options it takes."""
    if command[0] != "pidsync":
        return False
    ctx = click.Context(cli_main)
    sub = cli_main.get_command(ctx, command[1])
    if sub is None:
        return False
    try:
        sub.make_context(command[1], list(command[2:]))
    except click.UsageError:
        return False
    return True


def test_manifests_set_real_settings_and_run_real_commands():
    for doc in _kind("ConfigMap"):
        assert [k for k in doc["data"] if not _known_variable(k)] == []
    (secret,) = _kind("Secret")
    assert [k for k in secret["stringData"] if not _known_variable(k)] == []
    # What a production process refuses to start without (worker.bootstrap) is in the Secret.
    assert {"PIDSYNC_INTAKE_CLIENTS", "PIDSYNC_TOKEN_KEYS", "PIDSYNC_DATABASE_URL"} <= set(
        secret["stringData"]
    )
    for doc in [*_kind("Deployment"), *_kind("Job")]:
        for container in _containers(doc):
            assert _command_runs(container["command"]), container["command"]
            for env in container.get("env", []):
                assert _known_variable(env["name"]), env["name"]
    assert not _command_runs(["pidsync", "worker", "--procs", "2"])  # the check can fail


# --- docker compose and systemd ------------------------------------------------------------


def test_compose_runs_the_release_first_and_checks_each_process():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "release", "web", "worker", "scheduler"} <= set(services)
    assert services["release"]["command"] == ["pidsync", "migrate"]
    for name in ("web", "worker", "scheduler"):
        service = services[name]
        assert _command_runs(service["command"]), name
        assert service["depends_on"]["release"]["condition"] == "service_completed_successfully"
        assert service["healthcheck"]["test"], name
        env = service["environment"]
        assert {"PIDSYNC_DATABASE_URL", "PIDSYNC_REDIS_URL"} <= set(env), name
        assert all(_known_variable(k) for k in env), name
        assert "@postgres:5432/" in env["PIDSYNC_DATABASE_URL"]
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
        assert services["release"]["depends_on"][name]["condition"] == "service_healthy"
    # Health checks probe the ports the processes listen on.
    assert "9191" in str(services["worker"]["healthcheck"]["test"])
    assert "9192" in str(services["scheduler"]["healthcheck"]["test"])
    assert Settings.model_fields["worker_metrics_port"].default == 9191
    assert Settings.model_fields["scheduler_metrics_port"].default == 9192
    # The Dockerfile the compose file builds exists and runs as a non-root user.
    dockerfile = (ROOT / services["web"]["build"]["dockerfile"]).read_text()
    assert "USER pidsync" in dockerfile
    assert "COPY migrations" in dockerfile


def test_systemd_units_run_real_commands_and_drain_on_stop():
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        text = path.read_text()
        (exec_start,) = re.findall(r"^ExecStart=(\S+)(.*)$", text, re.MULTILINE)
        command = ["pidsync", *exec_start[1].split()]
        assert exec_start[0].endswith("/pidsync"), path.name
        assert _command_runs(command), path.name
        # SIGTERM to the main process only: it drains and tells its children once.
        assert "KillMode=mixed" in text, path.name
        assert "TimeoutStopSec=" in text, path.name
