"""Live RTSP cameras from the real emulator: counting, and recovery from server outages."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.errors import SourceError
from aistack.live.emulator import Emulator, check_gstreamer
from aistack.pipeline.metrics import PipelineMetrics
from aistack.pipeline.wiring import Pipeline, RunSummary

pytestmark = pytest.mark.services

LINE = {"name": "walkway", "points": [0.62, 0.8, 0.62, 0.3]}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    try:
        check_gstreamer()
    except SourceError as error:
        if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
            pytest.fail(str(error))
        pytest.skip(str(error))
    with Emulator([DEMO_CLIP, DEMO_CLIP], port=0, names=["door", "street"]) as server:
        server.start()
        yield server


def _config(urls: dict[str, str], **pipeline: float) -> AppConfig:
    return AppConfig.model_validate(
        {
            "cameras": [
                {"name": name, "source": {"uri": url}, "lines": [LINE]}
                for name, url in urls.items()
            ],
            "detector": {"classes": ["people"]},
            "metrics": {"enabled": False},
            "pipeline": pipeline,
        }
    )


class _Watch:
    """Runs a pipeline in a thread and records when each camera's frames arrive."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.arrivals: dict[str, list[float]] = {}
        self.summary: RunSummary | None = None
        pipeline.on_result = lambda r: self.arrivals.setdefault(r.frame.camera, []).append(
            time.monotonic()
        )
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.summary = self.pipeline.run()

    def frames(self, camera: str) -> int:
        return len(self.arrivals.get(camera, []))

    def first_frame_after(self, camera: str, moment: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            later = [t for t in self.arrivals.get(camera, []) if t > moment]
            if later:
                return later[0] - moment
            time.sleep(0.02)
        return None


def test_two_live_cameras_are_counted_in_one_worker(emulator: Emulator) -> None:
    metrics = PipelineMetrics()
    watch = _Watch(Pipeline(_config(emulator.urls), metrics=metrics, supervise=True))
    watch.thread.start()
    time.sleep(15)
    for camera in ("door", "street"):
        assert metrics.registry.get_sample_value("aistack_camera_up", {"camera": camera}) == 1
    watch.pipeline.stop()
    watch.thread.join(timeout=30)
    assert watch.summary is not None
    by_camera = {c.name: c for c in watch.summary.cameras}
    for camera in ("door", "street"):
        assert by_camera[camera].frames >= 100  # about 10 fps each for 15 s
        assert by_camera[camera].source == emulator.urls[camera]
    crossings = sum(c.lines[0].total_in + c.lines[0].total_out for c in by_camera.values())
    assert crossings > 0


@pytest.mark.slow
def test_ten_outages_each_recover_within_five_seconds(emulator: Emulator) -> None:
    metrics = PipelineMetrics()
    urls = {"door": emulator.urls["door"]}
    # A short backoff cap keeps the test quick; the rule is the same as the default's.
    config = _config(urls, reconnect_initial_seconds=0.2, reconnect_max_seconds=1.0)
    pipeline = Pipeline(config, metrics=metrics, supervise=True)
    watch = _Watch(pipeline)
    watch.thread.start()
    assert watch.first_frame_after("door", time.monotonic() - 1, timeout=10) is not None
    recoveries = []
    for _cycle in range(10):
        time.sleep(1.5)  # counting runs
        before = watch.frames("door")
        emulator.kill()
        time.sleep(1.0)  # the camera is down
        assert metrics.registry.get_sample_value("aistack_camera_up", {"camera": "door"}) == 0
        emulator.restart()
        back = time.monotonic()
        recovery = watch.first_frame_after("door", back, timeout=5.0)
        assert recovery is not None, f"no frame within 5 s of the server's return: {recoveries}"
        assert watch.frames("door") > before
        recoveries.append(round(recovery, 2))
        assert watch.thread.is_alive()
    _age_grows_during_a_long_outage(emulator, watch, metrics)
    time.sleep(1.0)
    assert metrics.registry.get_sample_value("aistack_camera_up", {"camera": "door"}) == 1
    reconnects = metrics.registry.get_sample_value("aistack_reconnects_total", {"camera": "door"})
    assert reconnects is not None and reconnects >= 10
    pipeline.stop()
    watch.thread.join(timeout=30)
    assert watch.summary is not None and watch.summary.frames > 100
    print(f"recovery after each restart (s): {recoveries}")


def _age_grows_during_a_long_outage(
    emulator: Emulator, watch: _Watch, metrics: PipelineMetrics
) -> None:
    """Down for 10 s: the scraped frame age passes 5 s (NoRecentFrames), then falls back."""

    def age() -> float:
        value = metrics.registry.get_sample_value(
            "aistack_last_frame_age_seconds", {"camera": "door"}
        )
        assert value is not None
        return value

    assert age() < 2.0
    emulator.kill()
    ages = []
    for _ in range(10):
        time.sleep(1.0)
        ages.append(age())
    assert ages == sorted(ages), f"the age must keep growing while the camera is down: {ages}"
    assert ages[-1] > 5.0, ages
    assert metrics.registry.get_sample_value("aistack_camera_up", {"camera": "door"}) == 0
    emulator.restart()
    assert watch.first_frame_after("door", time.monotonic(), timeout=10.0) is not None
    assert age() < 2.0


def test_two_camera_example_config_is_valid() -> None:
    from aistack.config import load_config

    config = load_config(Path(__file__).parents[2] / "experiments" / "two_cameras.yaml")
    assert [c.name for c in config.cameras] == ["door", "street"]
    assert all(c.source.kind == "rtsp" for c in config.cameras)
