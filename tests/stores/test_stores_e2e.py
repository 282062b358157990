"""Real counts into real servers agree with the pipeline, and a SIGKILL leaves a sound store."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.pipeline.metrics import MetricsServer, PipelineMetrics
from aistack.pipeline.wiring import Pipeline
from aistack.sinks.influx import InfluxSink
from aistack.sinks.sqlite import SqliteSink
from aistack.stores.influx import InfluxStore
from aistack.stores.prometheus import PrometheusStore
from aistack.stores.sqlite import open_store
from tests.servers import Server

pytestmark = pytest.mark.services

CAMERA = {
    "name": "vtest",
    "source": {"uri": str(DEMO_CLIP)},
    "lines": [
        {"name": "walkway", "points": [0.62, 0.8, 0.62, 0.3]},
        {"name": "across", "points": [0.0, 0.55, 1.0, 0.55]},
    ],
}


def _totals(summary_lines: list[Any]) -> dict[tuple[str, str, str], int]:
    return {
        (line.name, cls, direction): n
        for line in summary_lines
        for (cls, direction), n in line.counts.items()
    }


def test_prometheus_reads_back_exactly_what_the_pipeline_counted(
    prometheus_server: Any,
) -> None:
    config = AppConfig.model_validate(
        {"cameras": [CAMERA], "detector": {"classes": ["people"]}, "metrics": {"enabled": False}}
    )
    metrics = PipelineMetrics()
    exporter = MetricsServer(metrics, "127.0.0.1", 0)
    try:
        summary = Pipeline(config, metrics=metrics, pace="unpaced", max_frames=300).run()
        prometheus: Server = prometheus_server([f"127.0.0.1:{exporter.port}"])
        store = PrometheusStore(prometheus.url)
        expected = _totals(summary.cameras[0].lines)
        assert sum(expected.values()) > 0
        query = "sum by (line, class, direction) (aistack_objects_crossed_total)"
        found: dict[tuple[str, str, str], int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and found != expected:
            time.sleep(1)
            frame = store.query(query)
            found = {
                (row["line"], row["class"], row["direction"]): int(row["value"])
                for _, row in frame.iterrows()
            }
        assert found == expected
        frames = store.query('aistack_frames_total{camera="vtest"}')
        assert int(frames["value"].iloc[0]) == summary.frames == 300
    finally:
        exporter.stop()


def test_influxdb_holds_the_same_events_as_sqlite(influxdb: Server, tmp_path: Path) -> None:
    config = AppConfig.model_validate(
        {"cameras": [CAMERA], "detector": {"classes": ["people"]}, "metrics": {"enabled": False}}
    )
    database = f"e2e_{int(time.time() * 1000)}"
    with (
        SqliteSink(tmp_path / "s.sqlite") as sqlite,
        InfluxSink(influxdb.url, database=database, spool_path=tmp_path / "spool") as influx,
    ):
        summary = Pipeline(
            config, sinks={"sqlite": sqlite, "influx": influx}, pace="unpaced", max_frames=300
        ).run()
        assert influx.flush(timeout=30)
    expected = _totals(summary.cameras[0].lines)
    remote = InfluxStore(influxdb.url, database).totals()
    local = open_store(tmp_path / "s.sqlite").totals()
    as_dict = lambda frame: {  # noqa: E731
        (r["line"], r["class"], r["direction"]): int(r["count"]) for _, r in frame.iterrows()
    }
    assert as_dict(remote) == as_dict(local) == expected
    assert sum(expected.values()) > 0


def _run_config(tmp_path: Path, store: Path) -> Path:
    config = {
        "cameras": [dict(CAMERA, source={"uri": str(DEMO_CLIP), "pace": "native", "loop": True})],
        "detector": {"classes": ["people"]},
        "store": {"path": str(store), "interval_seconds": 5},
        "metrics": {"enabled": False},
    }
    path = tmp_path / "run.yaml"
    path.write_text(json.dumps(config))
    return path


def _events(store: Path) -> int:
    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


@pytest.mark.slow
def test_sigkill_leaves_a_sound_store_and_counting_resumes(tmp_path: Path) -> None:
    store = tmp_path / "kill.sqlite"
    config = _run_config(tmp_path, store)
    command = [sys.executable, "-m", "aistack", "run", str(config)]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (not store.exists() or _events(store) < 3):
        time.sleep(1)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counted = db.execute("SELECT COALESCE(SUM(count), 0) FROM counts").fetchone()[0]
    before = _events(store)
    assert before >= 3 and counted == before  # events and counts agree after the kill

    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _events(store) < before + 3:
        time.sleep(1)
    second.send_signal(signal.SIGTERM)
    _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert _events(store) >= before + 3
    with sqlite3.connect(store) as db:
        runs = db.execute("SELECT finished FROM runs ORDER BY id").fetchall()
    assert len(runs) == 2 and runs[0][0] is None and runs[1][0] is not None
