"""The shipped Prometheus config and rules: promtool checks, unit tests that cover every alert
both firing and quiet, and a real Prometheus that loads them as shipped."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from aistack.pipeline.gpu import HELP as GPU_METRICS
from aistack.pipeline.metrics import PipelineMetrics

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "stack/prometheus"
CONFIG = STACK / "prometheus.yml"
RULES = STACK / "rules/aistack.rules.yml"
UNIT_TESTS = sorted((STACK / "tests").glob("*.yml"))
DOCS = REPO / "docs/monitoring.md"
SEVERITIES = {"critical", "warning"}


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    from tests.servers import find_binary

    promtool = find_binary("promtool", "prometheus")
    return subprocess.run(
        [promtool, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=REPO
    )


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in _rules() if "alert" in rule}


def test_rules_pass_promtool_check() -> None:
    result = _promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_config_passes_promtool_check_without_warnings() -> None:
    result = _promtool("check", "config", CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout  # the glob finds the rules file


def test_promtool_unit_tests_pass() -> None:
    assert UNIT_TESTS
    result = _promtool("test", "rules", *UNIT_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_where_it_fires_and_one_where_it_does_not() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(_alerts())
    assert not alerts - fires, f"alerts never tested firing: {sorted(alerts - fires)}"
    assert not alerts - quiet, f"alerts never tested quiet: {sorted(alerts - quiet)}"
    assert not (fires | quiet) - alerts, f"tests of unknown alerts: {(fires | quiet) - alerts}"


def test_a_wrong_expectation_fails_the_unit_tests(tmp_path: Path) -> None:
    """The unit tests can fail: a copy expecting the wrong camera is rejected."""
    shutil.copytree(STACK / "rules", tmp_path / "rules")
    (tmp_path / "tests").mkdir()
    source = (STACK / "tests/workers_test.yml").read_text()
    wrong = source.replace("camera: gate\n", "camera: yard\n", 1)
    assert wrong != source
    (tmp_path / "tests/workers_test.yml").write_text(wrong)
    result = _promtool("test", "rules", tmp_path / "tests/workers_test.yml")
    assert result.returncode != 0
    assert 'camera="yard"' in result.stdout + result.stderr


def test_every_alert_is_actionable() -> None:
    for name, alert in _alerts().items():
        assert alert["labels"]["severity"] in SEVERITIES, name
        assert alert["annotations"]["summary"], name
        assert len(alert["annotations"]["description"]) > 100, f"{name}: say what to do"


def test_docs_list_every_metric_alert_and_recording_rule() -> None:
    docs = DOCS.read_text()
    names = {
        family.name + "_total" if family.type == "counter" else family.name
        for family in PipelineMetrics().registry.collect()
    }
    names |= set(GPU_METRICS) | {"aistack_spool_pending"}
    missing = sorted(n for n in names if f"`{n}`" not in docs)
    assert not missing, f"docs/monitoring.md lacks metrics {missing}"
    for rule in _rules():
        name = rule.get("alert") or rule["record"]
        assert f"`{name}`" in docs or f"### {name}" in docs, f"docs lack rule {name}"


@pytest.mark.services
def test_real_prometheus_loads_the_shipped_config(tmp_path: Path) -> None:
    """The shipped prometheus.yml as is: its rule glob, file_sd folders and jobs all load."""
    from tests.servers import Server, find_binary, free_port

    binary = find_binary("prometheus", "prometheus")
    shutil.copytree(STACK, tmp_path / "prometheus")
    workers = tmp_path / "prometheus/targets/aistack/workers.yml"
    workers.write_text('- targets: ["127.0.0.1:1"]\n  labels: {site: depot}\n')
    port = free_port()
    argv = [
        binary,
        f"--config.file={tmp_path / 'prometheus/prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    server = Server("prometheus", argv, port, tmp_path, "/-/ready")
    server.start()
    try:

        def get(path: str) -> Any:
            with urllib.request.urlopen(f"{server.url}{path}", timeout=10) as response:
                return json.loads(response.read())["data"]

        groups = get("/api/v1/rules")["groups"]
        loaded = {rule["name"] for group in groups for rule in group["rules"]}
        assert loaded == {rule.get("alert") or rule["record"] for rule in _rules()}

        def file_sd_worker() -> list[dict[str, Any]]:
            targets = get("/api/v1/targets?state=any")["activeTargets"]
            return [t for t in targets if t["labels"].get("site") == "depot"]

        deadline = time.monotonic() + 30
        while not file_sd_worker() and time.monotonic() < deadline:
            time.sleep(0.2)
        (worker,) = file_sd_worker()
        assert worker["labels"]["job"] == "aistack"
        assert worker["labels"]["instance"] == "127.0.0.1:1"
        jobs = {t["labels"]["job"] for t in get("/api/v1/targets?state=any")["activeTargets"]}
        assert jobs == {"aistack", "node", "cadvisor", "alertmanager", "prometheus"}
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
            own_metrics = response.read().decode()
        assert "\nprometheus_sd_file_read_errors_total 0\n" in own_metrics  # the empty lists too
        alertmanagers = get("/api/v1/alertmanagers")["activeAlertmanagers"]
        assert [a["url"] for a in alertmanagers] == ["http://alertmanager:9093/api/v2/alerts"]
    finally:
        server.stop()
