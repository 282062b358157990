"""InfluxStore and PrometheusStore against real servers, and their errors when a server is dead."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

from aistack.errors import ConfigError, SinkError
from aistack.pipeline.metrics import MetricsServer, PipelineMetrics
from aistack.sinks.influx import InfluxSink
from aistack.stores.influx import InfluxStore
from aistack.stores.prometheus import PrometheusStore, crossings_per_interval
from aistack.stores.sqlite import COUNT_COLUMNS, EVENT_COLUMNS, TOTAL_COLUMNS
from aistack.types import Event

if TYPE_CHECKING:
    from tests.servers import Server


T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
FUTURE = 4_102_444_800.0  # 2100-01-01: beyond now(), where InfluxDB 1.x stops GROUP BY time


def _wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.25)


def _create_database(server: Server, name: str) -> None:
    query = urllib.parse.urlencode({"q": f'CREATE DATABASE "{name}"'})
    request = urllib.request.Request(f"{server.url}/query?{query}", data=b"", method="POST")
    urllib.request.urlopen(request, timeout=10).read()


def test_dead_server_is_one_readable_sink_error() -> None:
    for store in (
        InfluxStore("http://reader:hunter2@127.0.0.1:1", "db", timeout=2),
        PrometheusStore("http://reader:hunter2@127.0.0.1:1", timeout=2),
    ):
        with pytest.raises(SinkError) as caught:
            store.query("up") if isinstance(store, PrometheusStore) else store.events()
        message = str(caught.value)
        assert "http://reader:***@127.0.0.1:1" in message
        assert "hunter2" not in message
        assert "\n" not in message


@pytest.mark.services
def test_influx_store_errors_and_empty_answers(influxdb: Server) -> None:
    with pytest.raises(SinkError, match="database not found"):
        InfluxStore(influxdb.url, "no_such_db").events()
    _create_database(influxdb, "empty")
    store = InfluxStore(influxdb.url, "empty")
    events = store.events()
    assert tuple(events.columns) == EVENT_COLUMNS and events.empty
    assert str(events["time"].dtype) == "datetime64[ns, UTC]"
    counts = store.counts("1min")
    assert tuple(counts.columns) == COUNT_COLUMNS and counts.empty
    assert tuple(store.totals().columns) == TOTAL_COLUMNS
    for interval in ("bogus", "1W"):
        with pytest.raises(ConfigError, match="interval"):
            store.counts(interval)
    with pytest.raises(ConfigError, match="time"):
        store.events(start="not a time")


@pytest.mark.services
def test_influx_store_filters_quote_names_and_see_future_points(
    influxdb: Server, tmp_path: Path
) -> None:
    # Quotes for InfluxQL, escapes for line protocol; a backslash is written as "/".
    awkward = 'o\'hare \\ gate, "2"=x'
    stored = awkward.replace("\\", "/")
    events = [
        Event(T0 + i, awkward if i % 2 else "plain", "door", "crossing", "car", "in", i, i)
        for i in range(20)
    ] + [Event(FUTURE + i, "plain", "door", "enter", "car", "out", 100 + i) for i in range(3)]
    with InfluxSink(influxdb.url, database="filters", spool_path=tmp_path / "f.spool") as sink:
        sink.write(events)
        assert sink.flush(20)
    store = InfluxStore(influxdb.url, "filters")
    picked = store.events(camera=awkward, start=T0 + 4, end=T0 + 10)
    assert picked["track_id"].tolist() == [5, 7, 9]
    assert set(picked["camera"]) == {stored}
    assert store.events(counter="nope").empty
    assert store.counts("1h")["count"].sum() == 23
    totals = store.totals()
    assert totals.set_index(["camera", "direction"])["count"].to_dict() == {
        (stored, "in"): 10,
        ("plain", "in"): 10,
        ("plain", "out"): 3,
    }


def test_crossings_per_interval_handles_restarts_and_new_series() -> None:
    times = pd.to_datetime([0, 10, 20, 30, 40], unit="s", utc=True)
    samples = pd.DataFrame(
        {
            "time": [*times, *times[2:]],
            "__name__": "aistack_objects_crossed_total",
            "camera": "a",
            "line": "door",
            "class": ["person"] * 5 + ["car"] * 3,
            "direction": "in",
            "value": [2.0, 2.0, 5.0, 1.0, 4.0, 3.0, 3.0, 6.0],
        }
    )
    counts = crossings_per_interval(samples, 0.0, 10.0)
    seconds = (counts["time"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    got = set(zip(seconds, counts["class"], counts["count"], strict=True))
    # person: +3 by 20 s, a restart counts its 1, then +3; car appears at 20 s with 3.
    assert got == {
        (10.0, "car", 3),
        (10.0, "person", 3),
        (20.0, "person", 1),
        (30.0, "car", 3),
        (30.0, "person", 3),
    }


@pytest.mark.services
def test_prometheus_store_reads_a_real_prometheus(
    prometheus_server: Callable[..., Server], node_exporter: Server
) -> None:
    metrics = PipelineMetrics()
    exporter = MetricsServer(metrics, "127.0.0.1", 0)
    try:
        crossed = {
            ("cam1", "in"): metrics.crossed.labels("cam1", "door", "person", "in"),
            ("cam1", "out"): metrics.crossed.labels("cam1", "door", "person", "out"),
            ("cam2", "in"): metrics.crossed.labels("cam2", "gate", "car", "in"),
        }
        prometheus = prometheus_server(
            {"aistack": [f"127.0.0.1:{exporter.port}"], "node": [node_exporter.url]}
        )
        store = PrometheusStore(prometheus.url)
        began = time.time()
        # Prometheus first scrapes ~5 s after start; wait until it has the zeros.
        _wait_for(
            lambda: len(store.query("aistack_objects_crossed_total")) == 3, what="first scrape"
        )
        for (camera, direction), child in crossed.items():
            child.inc({"in": 5, "out": 3}[direction] if camera == "cam1" else 2)
        _wait_for(
            lambda: store.query("sum(aistack_objects_crossed_total)")["value"].tolist() == [10.0],
            what="the crossings",
        )
        now = store.query("aistack_objects_crossed_total")
        assert list(now.columns) == [
            "time",
            "__name__",
            "camera",
            "class",
            "direction",
            "instance",
            "job",
            "line",
            "value",
        ]
        assert sorted(now["value"]) == [2.0, 3.0, 5.0]
        up = store.query('up{job="node"}')
        assert up["value"].tolist() == [1.0]
        # An end past the last scrape evaluates to the newest sample.
        ranged = store.range("sum(aistack_objects_crossed_total)", began, time.time() + 2, 1)
        assert list(ranged.columns) == ["time", "value"]
        assert ranged["value"].iloc[0] == 0.0 and ranged["value"].iloc[-1] == 10.0
        counts = store.counts("10s", start=began - 10)
        assert tuple(counts.columns) == COUNT_COLUMNS
        per_series = counts.groupby(["camera", "direction"])["count"].sum().to_dict()
        assert per_series == {("cam1", "in"): 5, ("cam1", "out"): 3, ("cam2", "in"): 2}
        only_cam2 = store.counts("1min", start=began - 60, camera="cam2")
        assert only_cam2["count"].sum() == 2 and set(only_cam2["line"]) == {"gate"}
        with pytest.raises(SinkError, match="refused the query"):
            store.query("sum(")
    finally:
        exporter.stop()


@pytest.mark.services
def test_alerts_reach_alertmanager(
    tmp_path: Path,
    prometheus_server: Callable[..., Server],
    alertmanager_server: Callable[[Path | None], Server],
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n"
        "  - name: smoke\n"
        "    rules:\n"
        "      - alert: AistackSmoke\n"
        "        expr: vector(1)\n"
        "        labels: {severity: info}\n"
    )
    alertmanager = alertmanager_server(None)
    prometheus_server([], rule_files=[rules], alertmanagers=[alertmanager.url])

    def alert_names() -> set[str]:
        with urllib.request.urlopen(f"{alertmanager.url}/api/v2/alerts", timeout=5) as response:
            return {alert["labels"]["alertname"] for alert in json.loads(response.read())}

    _wait_for(lambda: "AistackSmoke" in alert_names(), what="the alert in Alertmanager")


def test_missing_server_skips_or_fails_as_ci_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.servers import find_binary

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("AISTACK_REQUIRE_SERVICES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="influxd not installed: apt-get install"):
        find_binary("influxd", "influxdb")
    monkeypatch.setenv("AISTACK_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="influxd not installed: apt-get install"):
        find_binary("influxd", "influxdb")
