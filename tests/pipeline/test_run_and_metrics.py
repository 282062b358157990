"""`aistack run` serves real Prometheus metrics that agree with what it counted and stored."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import aistack
from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.pipeline.metrics import MetricsServer, PipelineMetrics
from aistack.pipeline.wiring import Pipeline


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _config(store: Path, port: int, pace: str, max_frames_clip: Path = DEMO_CLIP) -> dict:  # type: ignore[type-arg]
    return {
        "cameras": [
            {
                "name": "vtest",
                "source": {"uri": str(max_frames_clip), "pace": pace, "loop": pace == "native"},
                "lines": [{"name": "walkway", "points": [0.62, 0.8, 0.62, 0.3]}],
                "zones": [
                    {"name": "plaza", "polygon": [[0, 0.3], [0.5, 0.3], [0.5, 0.7], [0, 0.7]]}
                ],
            }
        ],
        "detector": {"classes": ["people"]},
        "store": {"path": str(store), "interval_seconds": 5},
        "metrics": {"port": port},
    }


def test_metrics_match_the_counts_of_a_run(tmp_path: Path) -> None:
    # The config's port is not used: the server below picks a free one.
    config = AppConfig.model_validate(_config(tmp_path / "s.sqlite", 9108, "unpaced"))
    metrics = PipelineMetrics()
    server = MetricsServer(metrics, "127.0.0.1", 0)
    try:
        summary = Pipeline(config, metrics=metrics, pace="unpaced", max_frames=200).run()
        samples = _scrape(server.url)
    finally:
        server.stop()
    assert samples[("aistack_frames_total", (("camera", "vtest"),))] == summary.frames == 200
    (line,) = summary.cameras[0].lines
    for (class_name, direction), count in line.counts.items():
        labels = (("camera", "vtest"), ("class", class_name), ("direction", direction),
                  ("line", "walkway"))  # fmt: skip
        assert samples[("aistack_objects_crossed_total", labels)] == count
    crossed = sum(v for (name, _), v in samples.items() if name == "aistack_objects_crossed_total")
    assert crossed == line.total_in + line.total_out > 0
    # One model, the default preset's, labelled with its detector class.
    (model,) = [labels for name, labels in samples if name == "aistack_inference_seconds_count"]
    assert model == (("model", "CenterNetDetector"),)
    batches = samples[("aistack_inference_seconds_count", model)]
    assert 200 / config.pipeline.batch_size <= batches <= 200  # one observation per batch


def test_run_serves_metrics_live_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    store = tmp_path / "live.sqlite"
    config = tmp_path / "live.yaml"
    config.write_text(json.dumps(_config(store, port, "native")))  # JSON is YAML
    process = subprocess.Popen(
        [sys.executable, "-m", "aistack", "run", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        samples: dict = {}  # type: ignore[type-arg]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                samples = _scrape(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                continue
            if samples.get(("aistack_frames_total", (("camera", "vtest"),)), 0) >= 30:
                break
        assert samples.get(("aistack_frames_total", (("camera", "vtest"),)), 0) >= 30
        latency = samples[("aistack_end_to_end_latency_seconds_count", (("camera", "vtest"),))]
        assert latency >= 30  # paced like a camera, so capture-to-count latency is measured
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    summary = json.loads(out)
    assert summary["frames"] >= 30
    with sqlite3.connect(store) as db:
        (finished,) = db.execute("SELECT finished FROM runs").fetchone()
    assert finished is not None  # the run was closed properly, not abandoned


def test_promtool_finds_nothing_to_fix_in_a_real_scrape_of_aistack_run(tmp_path: Path) -> None:
    """`promtool check metrics` on /metrics of a running `aistack run`: no lint finding at all.

    It caught `aistack_shard_count` (a gauge named like a histogram's `_count` series).
    """
    from tests.servers import find_binary

    promtool = find_binary("promtool", "prometheus")
    port = _free_port()
    config = tmp_path / "lint.yaml"
    config.write_text(json.dumps(_config(tmp_path / "lint.sqlite", port, "native")))
    # A shard exports the shard gauges too, so every metric aistack has is in the scrape.
    env = {**os.environ, "AISTACK_SHARD_COUNT": "1", "AISTACK_SHARD_INDEX": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "aistack", "run", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    text = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "aistack_objects_crossed_total{" not in text:
            time.sleep(1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                continue
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    for name in ("aistack_frames_total", "aistack_shards", "aistack_last_frame_age_seconds",
                 "aistack_objects_crossed_total"):  # fmt: skip
        assert f"\n{name}" in text, f"{name} missing from the scrape"
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert lint.returncode == 0 and not (lint.stdout + lint.stderr).strip(), (
        lint.stdout + lint.stderr
    )


def test_metrics_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(aistack.ConfigError, match=f"127.0.0.1:{port}"):
            MetricsServer(PipelineMetrics(), "127.0.0.1", port)


def test_public_api_is_what_the_readme_uses() -> None:
    for name in ("load_config", "Pipeline", "open_store", "Detections", "LineCounter",
                 "AistackError", "SqliteSink", "run_demo"):  # fmt: skip
        assert name in aistack.__all__
        assert getattr(aistack, name) is not None
    assert set(aistack.__all__) == {*aistack._EXPORTS, "__version__"}
    assert issubclass(aistack.ConfigError, aistack.AistackError)
    assert issubclass(aistack.SourceError, aistack.AistackError)
    with pytest.raises(AttributeError):
        aistack.NoSuchThing  # noqa: B018
