"""Grafana dashboards: generated, valid against Grafana's schema, consistent, and every panel's
query returns data from a real Prometheus and InfluxDB fed by a real pipeline run.

Grafana itself is not installable here, so its part is played by substituting its macros
($__rate_interval, $timeFilter, template variables) the way it does and sending each query
to the server it names: PromQL to /api/v1/query(_range), InfluxQL to /query.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import jsonschema
import numpy as np
import pytest
import yaml

from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.live.view import LiveView
from aistack.pipeline.gpu import register_gpu_metrics
from aistack.pipeline.metrics import MetricsServer, PipelineMetrics
from aistack.pipeline.wiring import Pipeline, RunSummary
from aistack.sinks.influx import InfluxSink
from grafana.dashboards_as_code import ALL, LIVE_VIEW_PORT, REQUIREMENT_NOTES, build_dashboards
from tests.servers import Server, find_binary, free_port

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
SCHEMA = GRAFANA / "schema" / "dashboard.schema.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
COMPOSE = ROOT / "stack" / "docker-compose.yml"
RULES = ROOT / "stack" / "prometheus" / "rules" / "aistack.rules.yml"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))

# Grafana's own variables, which dashboards use without defining them.
BUILTIN_VARIABLES = {
    "__interval",
    "__interval_ms",
    "__rate_interval",
    "__range",
    "__range_s",
    "__all",
    "timeFilter",
    "__timeFilter",
}
VARIABLE_USE = re.compile(r"\$\{(\w+)(?::[\w-]+)?\}|\[\[(\w+)(?::[\w-]+)?\]\]|\$(\w+)")

# What Grafana would substitute, for a 1 h range on a stack scraped every second.
RATE_INTERVAL = "1m"
INTERVAL = "10s"
TIME_FILTER = "time > now() - 1h"
RANGE_SECONDS = 600
STEP_SECONDS = 10

# The compose stack's cameras (stack/worker/aistack.yaml), on the bundled clip.
STREET = "street"
CAMERAS: list[dict[str, Any]] = [
    {
        "name": "door",
        "source": {"uri": str(DEMO_CLIP)},
        "lines": [{"name": "walkway", "points": [0.62, 0.8, 0.62, 0.3]}],
    },
    {
        "name": STREET,
        "source": {"uri": str(DEMO_CLIP)},
        "lines": [{"name": "crossing", "points": [0.0, 0.55, 1.0, 0.55]}],
        "zones": [
            {"name": "plaza", "polygon": [[0.02, 0.33], [0.45, 0.33], [0.45, 0.62], [0.02, 0.55]]}
        ],
    },
]
# Which exporter each optional panel's metrics come from, by metric name prefix.
REQUIRED_EXPORTER = {"gpu": "aistack_gpu_", "dcgm": "DCGM_", "cadvisor": "container_"}
REQUIREMENT_REASONS = {
    "gpu": "needs a GPU: NVML finds none here, so no aistack_gpu_* metrics",
    "dcgm": "needs NVIDIA dcgm-exporter, which no test runs",
    "cadvisor": "needs cAdvisor, which no test runs",
}


GENERATED = {d.filename: d for d in build_dashboards()}


def _dashboard(path: Path) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return content


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows included, and the panels inside collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def _data_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in _panels(dashboard) if p["type"] not in ("row", "text")]


def _variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}


def _strings(value: Any, skip_keys: frozenset[str] = frozenset()) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in skip_keys:
                yield from _strings(item, skip_keys)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, skip_keys)


def _provisioned_datasources() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(DATASOURCES.read_text())
    return {source["uid"]: source for source in config["datasources"]}


def _panel_cases() -> list[Any]:
    cases = []
    for path in DASHBOARD_FILES:
        for panel in _data_panels(_dashboard(path)):
            case_id = f"{path.stem}:{panel['id']}:{panel['title']}"
            cases.append(pytest.param(path.name, panel["id"], id=case_id))
    return cases


# --- The files ----------------------------------------------------------------------------


def test_committed_dashboards_are_what_the_generator_builds() -> None:
    assert {p.name for p in DASHBOARD_FILES} == set(GENERATED)
    for path in DASHBOARD_FILES:
        assert path.read_text(encoding="utf-8") == GENERATED[path.name].text(), (
            f"{path.name} is out of date: run python grafana/generate.py"
        )


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_dashboard_matches_grafanas_own_schema(path: Path) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert "@grafana/schema@" in schema["$comment"]  # generated, see make_schema.sh
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(_dashboard(path))
    ]
    assert not errors


def test_the_schema_rejects_what_grafana_would_not_load() -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    good = _dashboard(DASHBOARD_FILES[0])
    assert validator.is_valid(good)
    for broken in (
        {**good, "schemaVersion": "39"},
        {**good, "panels": [{**good["panels"][1], "gridPos": {"x": 0, "y": 0}}]},
        {**good, "panels": [{**good["panels"][1], "titel": "typo"}]},
        {**good, "templating": {"list": [{"name": "camera", "type": "querry"}]}},
    ):
        assert not validator.is_valid(broken)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_panel_ids_are_unique_and_panels_do_not_overlap(path: Path) -> None:
    dashboard = _dashboard(path)
    panels = _panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                taken = cells.setdefault((x, y), panel["title"])
                assert taken == panel["title"], f"{panel['title']!r} overlaps {taken!r}"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_every_panel_has_a_title_unit_and_provisioned_datasource(path: Path) -> None:
    provisioned = _provisioned_datasources()
    dashboard = _dashboard(path)
    for panel in _panels(dashboard):
        assert panel.get("title"), panel
    for panel in _data_panels(dashboard):
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        assert panel["datasource"]["uid"] in provisioned, panel["title"]
        assert panel["datasource"]["type"] == provisioned[panel["datasource"]["uid"]]["type"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert all(ref_ids) and len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
    for variable in _variables(dashboard).values():
        if "datasource" in variable:
            assert variable["datasource"]["uid"] in provisioned, variable["name"]
    # Text panels show HTML and query nothing; the live view's is tested below.
    for panel in _panels(dashboard):
        if panel["type"] == "text":
            assert not panel.get("targets") and panel["options"]["mode"] == "html"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.stem)
def test_every_template_variable_used_is_defined(path: Path) -> None:
    dashboard = _dashboard(path)
    defined = set(_variables(dashboard))
    used: set[str] = set()
    # An InfluxDB alias names tags ($tag_line), not variables.
    for text in _strings(dashboard.get("panels", []), frozenset({"alias"})):
        used |= {next(g for g in m.groups() if g) for m in VARIABLE_USE.finditer(text)}
    for variable in _variables(dashboard).values():
        query = variable.get("query")
        if isinstance(query, str) and variable["type"] == "query":
            used |= {next(g for g in m.groups() if g) for m in VARIABLE_USE.finditer(query)}
    assert used - BUILTIN_VARIABLES <= defined
    assert defined <= used, "a variable nothing uses"


def test_optional_panels_are_marked_and_only_those() -> None:
    for generated in GENERATED.values():
        for panel in _data_panels(generated.content):
            needs = generated.requires.get(panel["id"])
            queries = " ".join(t.get("expr", t.get("query", "")) for t in panel["targets"])
            uses = {need for need, prefix in REQUIRED_EXPORTER.items() if prefix in queries}
            assert uses == ({needs} if needs else set()), panel["title"]
            if needs:
                assert REQUIREMENT_NOTES[needs] in panel["description"]


def test_datasources_take_addresses_and_tokens_from_the_environment() -> None:
    sources = _provisioned_datasources()
    assert set(sources) == {"prometheus", "influxdb"}
    assert sources["prometheus"]["type"] == "prometheus"
    assert sources["prometheus"]["url"] == "${PROMETHEUS_URL}"
    influx = sources["influxdb"]
    assert influx["type"] == "influxdb" and influx["jsonData"]["version"] == "InfluxQL"
    assert influx["url"] == "${INFLUXDB_URL}"
    assert influx["jsonData"]["dbName"] == "${INFLUXDB_BUCKET}"
    assert influx["jsonData"]["httpHeaderName1"] == "Authorization"
    assert influx["secureJsonData"] == {"httpHeaderValue1": "Token ${INFLUXDB_TOKEN}"}
    # Every variable it names is one the compose stack gives Grafana.
    compose = yaml.safe_load(COMPOSE.read_text())
    grafana_env = compose["services"]["grafana"]["environment"]
    values = _strings(yaml.safe_load(DATASOURCES.read_text()))
    named = {name for value in values for name in re.findall(r"\$\{(\w+)\}", value)}
    assert named == {"PROMETHEUS_URL", "INFLUXDB_URL", "INFLUXDB_BUCKET", "INFLUXDB_TOKEN"}
    assert named <= set(grafana_env)


def test_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    provider = yaml.safe_load(PROVIDERS.read_text())["providers"][0]
    compose = yaml.safe_load(COMPOSE.read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["../grafana/dashboards"] == provider["options"]["path"]
    assert mounts["../grafana/provisioning"] == "/etc/grafana/provisioning"


# --- The live view panel ------------------------------------------------------------------


def _live_view_panel() -> dict[str, Any]:
    cameras = _dashboard(GRAFANA / "dashboards" / "cameras.json")
    return next(p for p in _panels(cameras) if p["type"] == "text")


def test_live_view_panel_shows_the_camera_the_live_view_serves() -> None:
    panel = _live_view_panel()
    assert panel["repeat"] == "camera"  # one image per selected camera
    html = panel["options"]["content"]
    template = re.search(r'<img src="([^"]+)"', html)
    assert template is not None
    camera = "gate 1"  # a space: the panel must percent-encode the name
    port = f":{LIVE_VIEW_PORT}/"
    image = np.full((48, 64, 3), 200, np.uint8)
    with LiveView(port=0) as view:
        view.publish(camera, image)
        url = (
            template.group(1)
            .replace("${live_view_host}", "127.0.0.1")
            .replace("${camera:percentencode}", urllib.parse.quote(camera, safe=""))
            .replace(port, f":{view.port}/")
        )
        assert "$" not in url and url.endswith(".mjpg"), url
        assert url == view.stream_url(camera)

        still = url.removesuffix(".mjpg") + ".jpg"
        with urllib.request.urlopen(still, timeout=5) as response:
            assert response.headers["Content-Type"] == "image/jpeg"
            decoded = cv2.imdecode(np.frombuffer(response.read(), np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None and decoded.shape == image.shape

        with urllib.request.urlopen(url, timeout=5) as stream:
            assert stream.headers["Content-Type"].startswith("multipart/x-mixed-replace")
            head = stream.read(200)
        assert b"Content-Type: image/jpeg" in head and b"\xff\xd8" in head


# --- Every query against real servers ----------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """Real servers after a real pipeline run: what the dashboards' queries are sent to."""

    prometheus: Server
    influx_url: str
    database: str
    summary: RunSummary
    values: dict[str, str]  # a concrete value for each template variable


def _get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # a query the server refused: say why
        pytest.fail(f"{error.code} from {url}: {error.read().decode(errors='replace')}")


def _promql(prometheus: Server, expr: str, *, instant: bool) -> dict[str, Any]:
    if instant:
        params = {"query": expr}
        url = f"{prometheus.url}/api/v1/query?"
    else:
        end = time.time()
        params = {
            "query": expr,
            "start": f"{end - RANGE_SECONDS:.3f}",
            "end": f"{end:.3f}",
            "step": str(STEP_SECONDS),
        }
        url = f"{prometheus.url}/api/v1/query_range?"
    answer: dict[str, Any] = _get_json(url + urllib.parse.urlencode(params))
    assert answer["status"] == "success", answer
    return answer


def _prometheus_values(answer: dict[str, Any]) -> list[float]:
    values: list[float] = []
    for series in answer["data"]["result"]:
        samples = series.get("values") or [series["value"]]
        values.extend(float(value) for _, value in samples)
    return values


def _influxql(url: str, database: str, query: str) -> list[float | None]:
    params = urllib.parse.urlencode({"db": database, "q": query, "epoch": "ms"})
    answer = _get_json(f"{url}/query?{params}")
    (result,) = answer["results"]
    assert "error" not in result, f"{query}: {result['error']}"
    values: list[float | None] = []
    for series in result.get("series", []):
        value_columns = [i for i, name in enumerate(series["columns"]) if name != "time"]
        values.extend(row[i] for row in series["values"] for i in value_columns)
    return values


def _start_prometheus(workdir: Path, jobs: dict[str, list[str]]) -> Server:
    """Prometheus as the `prometheus_server` fixture starts it (1 s scrapes and rules), but for
    the whole module: one pipeline run feeds every panel's test."""
    binary = find_binary("prometheus", "prometheus")
    workdir.mkdir(parents=True)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": targets}]}
            for job, targets in jobs.items()
        ],
        "rule_files": [str(RULES)],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    server = Server("prometheus", argv, port, workdir, "/-/ready")
    server.start()
    return server


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}", pytrace=False)
        time.sleep(0.5)


def _scalar(prometheus: Server, expr: str) -> float | None:
    values = _prometheus_values(_promql(prometheus, expr, instant=True))
    return values[0] if values else None


@pytest.fixture(scope="module")
def observed(
    tmp_path_factory: pytest.TempPathFactory, influxdb: Server, node_exporter: Server
) -> Iterator[Observed]:
    """A real pipeline counts the bundled clip on two cameras at its native pace, exporting
    metrics that a real Prometheus (the repo's rules loaded) scrapes, next to node-exporter,
    and writing events to a real InfluxDB through InfluxSink."""
    workdir = tmp_path_factory.mktemp("grafana")
    config = AppConfig.model_validate(
        {"cameras": CAMERAS, "detector": {"classes": ["people"]}, "metrics": {"enabled": False}}
    )
    metrics = PipelineMetrics()
    register_gpu_metrics(
        metrics.registry
    )  # as `aistack run` does: GPU panels get data where one exists
    exporter = MetricsServer(metrics, "127.0.0.1", 0)
    node = node_exporter.url.removeprefix("http://")
    prometheus = _start_prometheus(
        workdir / "prometheus", {"aistack": [f"127.0.0.1:{exporter.port}"], "node": [node]}
    )
    try:
        _wait_for(lambda: _scalar(prometheus, "count(up == 1)") == 2, 30, "both targets scraped")
        database = f"grafana_{int(time.time() * 1000)}"
        with InfluxSink(influxdb.url, database=database, spool_path=workdir / "spool") as sink:
            # Natively paced, so the health metrics of live cameras exist and events carry
            # wall-clock times inside Grafana's time range.
            summary = Pipeline(
                config, metrics=metrics, sinks={"influx": sink}, pace="native", max_frames=300
            ).run()
            assert sink.flush(timeout=30), "InfluxSink did not deliver every event"
        street = next(c for c in summary.cameras if c.name == STREET)
        line = street.lines[0]
        assert sum(line.counts.values()) > 0, f"the run counted no crossing on {STREET}"
        _wait_for(
            lambda: _scalar(prometheus, "sum(aistack_frames_total)") == summary.frames,
            30,
            "Prometheus to scrape the final counts",
        )
        _wait_for(
            lambda: _scalar(prometheus, "count(camera:aistack_frames:rate1m)") == 2,
            30,
            "the recording rules",
        )
        values = {"camera": STREET, "line": line.name, "instance": node}
        yield Observed(prometheus, influxdb.url, database, summary, values)
    finally:
        exporter.stop()
        prometheus.stop()


def _exported(prometheus: Server, prefix: str) -> bool:
    """Whether Prometheus holds any series whose metric name starts with `prefix`."""
    return _scalar(prometheus, f'count({{__name__=~"{prefix}.+"}})') is not None


def _substitute(query: str, values: dict[str, str], *, promql: bool = True) -> str:
    """Grafana's interpolation of the macros and variables these dashboards use."""
    for name, value in values.items():
        # Multi-value variables are regex-escaped by Grafana, "All" is the raw allValue, and
        # PromQL's double-quoted strings need each backslash doubled (InfluxQL's /re/ not).
        escaped = value if value == ALL else re.escape(value)
        if promql:
            escaped = escaped.replace("\\", "\\\\")
        query = query.replace(f"${{{name}}}", escaped).replace(f"${name}", escaped)
    return (
        query.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", INTERVAL)
        .replace("$timeFilter", TIME_FILTER)
    )


def _returns_data(observed: Observed, panel: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """Problems running one target, with concrete variable values and with All; [] if none."""
    problems = []
    for values in (observed.values, dict.fromkeys(observed.values, ALL)):
        deadline = time.monotonic() + 10  # a recording rule may lag a scrape by a second
        while True:
            if panel["datasource"]["type"] == "prometheus":
                query = _substitute(target["expr"], values)
                answer = _promql(observed.prometheus, query, instant=bool(target.get("instant")))
                found = [v for v in _prometheus_values(answer) if math.isfinite(v)]
            else:
                query = _substitute(target["query"], values, promql=False)
                found = [
                    v
                    for v in _influxql(observed.influx_url, observed.database, query)
                    if v is not None
                ]
            if found or time.monotonic() > deadline:
                break
            time.sleep(1)
        if not found:
            problems.append(f"{target['refId']}: no data for {query}")
    return problems


@pytest.mark.services
def test_template_variables_list_what_was_observed(observed: Observed) -> None:
    expected = {
        "camera": {c["name"] for c in CAMERAS},
        "line": {line["name"] for c in CAMERAS for line in c["lines"]},
        "instance": {observed.values["instance"]},
    }
    for path in DASHBOARD_FILES:
        for name, variable in _variables(_dashboard(path)).items():
            if variable["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"])
            assert match is not None, variable["query"]
            selector = _substitute(match.group(1), dict.fromkeys(observed.values, ALL))
            params = urllib.parse.urlencode({"match[]": selector})
            url = f"{observed.prometheus.url}/api/v1/label/{match.group(2)}/values?{params}"
            assert set(_get_json(url)["data"]) == expected[name], f"{path.stem}: ${name}"


@pytest.mark.services
@pytest.mark.parametrize(("filename", "panel_id"), _panel_cases())
def test_panel_query_returns_data(observed: Observed, filename: str, panel_id: int) -> None:
    # The committed file, as Grafana loads it; the generator knows what each panel needs.
    dashboard = _dashboard(GRAFANA / "dashboards" / filename)
    panel = next(p for p in _data_panels(dashboard) if p["id"] == panel_id)
    needs = GENERATED[filename].requires.get(panel_id)
    if needs is not None and not _exported(observed.prometheus, REQUIRED_EXPORTER[needs]):
        for target in panel["targets"]:  # still valid PromQL: it runs and finds nothing
            _promql(observed.prometheus, _substitute(target["expr"], observed.values), instant=True)
        pytest.skip(REQUIREMENT_REASONS[needs])
    problems = [p for t in panel["targets"] for p in _returns_data(observed, panel, t)]
    assert not problems, f"{panel['title']}: " + "; ".join(problems)
