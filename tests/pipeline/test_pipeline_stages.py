"""Detection on worker threads: lanes keep each camera's order, errors reach the caller."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from aistack.config import AppConfig, DetectorConfig
from aistack.data import DEMO_CLIP
from aistack.detect import load_detector, plan_lanes
from aistack.detect.base import StagedDetector
from aistack.detect.nanodet import NanoDetDetector
from aistack.pipeline.lanes import StagedDetection
from aistack.pipeline.wiring import Pipeline
from aistack.types import Detections, Frame, Image


def _config(cameras: int, lanes: int | None) -> AppConfig:
    return AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": f"cam{i}",
                    "source": {"uri": str(DEMO_CLIP)},
                    "lines": [{"name": "walkway", "points": [0.62, 0.8, 0.62, 0.3]}],
                }
                for i in range(cameras)
            ],
            "metrics": {"enabled": False},
            "pipeline": {"lanes": lanes, "batch_size": cameras},
        }
    )


def _events(config: AppConfig, detector: NanoDetDetector) -> list[tuple[str, int, str, str]]:
    seen: list[tuple[str, int, str, str]] = []
    pipeline = Pipeline(
        config, detector=detector, pace="unpaced", max_frames=600,
        on_result=lambda r: seen.extend(
            (e.camera, e.frame_index, e.counter, e.direction) for e in r.events
        ),
    )  # fmt: skip
    pipeline.run()
    return seen


def test_lanes_count_exactly_what_one_lane_counts() -> None:
    # Two model lanes finish frames out of order; the counter must still see each
    # camera's frames in order, so each camera's events are the same, in the same order.
    # (How the two cameras interleave depends on which reader has a frame ready first.)
    detector = NanoDetDetector(threads=1)
    one = _events(_config(2, 1), detector)
    two = _events(_config(2, 2), detector)
    assert len(one) > 0
    for camera in ("cam0", "cam1"):
        mine = [event for event in one if event[0] == camera]
        assert mine, f"{camera} counted nothing"
        assert [event for event in two if event[0] == camera] == mine


def test_lanes_are_chosen_for_the_cores() -> None:
    onnx = DetectorConfig()
    assert plan_lanes(onnx, None, cores=2) == (3, 1)
    assert plan_lanes(onnx, None, cores=1) == (2, 1)
    assert plan_lanes(onnx, None, cores=4) == (4, 1)
    assert plan_lanes(onnx, None, cores=16) == (4, 4)
    assert plan_lanes(onnx.model_copy(update={"threads": 2}), None, cores=2) == (1, 2)
    assert plan_lanes(onnx, 3, cores=6) == (3, 2)
    # Files read ahead: the next batch waits ready, so no spare lane is needed.
    assert plan_lanes(onnx, None, cores=2, reads_ahead=True) == (2, 1)
    assert plan_lanes(onnx, None, cores=1, reads_ahead=True) == (1, 1)
    assert plan_lanes(onnx, None, cores=16, reads_ahead=True) == (4, 4)
    # One live camera needs only real time: one lane on every core, the lowest latency.
    assert plan_lanes(onnx, None, cores=2, one_live=True) == (1, None)
    assert plan_lanes(onnx, 2, cores=2, one_live=True) == (2, 1)
    # Backends that run whole in one call, and GPUs, keep one lane and their threads.
    assert plan_lanes(DetectorConfig(type="movenet"), None, cores=8) == (1, None)
    assert plan_lanes(onnx.model_copy(update={"device": "cuda:0"}), None, cores=8) == (1, None)


def test_a_pipeline_builds_its_detector_with_planned_threads() -> None:
    pipeline = Pipeline(_config(1, 3))
    assert pipeline.lanes == 3
    assert isinstance(pipeline.detector, StagedDetector)
    planned = Pipeline(_config(2, None), pace="unpaced")
    assert planned.lanes == plan_lanes(DetectorConfig(), None, reads_ahead=True)[0]
    paced = Pipeline(_config(2, None), pace="native")
    assert paced.lanes == plan_lanes(DetectorConfig(), None)[0]
    assert Pipeline(_config(1, None), pace="native").lanes == 1  # one live camera: latency first


class _Refusing:
    """A real detector that refuses the Nth picture, as a corrupt frame would make it."""

    def __init__(self, inner: NanoDetDetector, bad: int) -> None:
        self.inner, self.bad, self.calls = inner, bad, 0
        self.class_names = inner.class_names

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        self.calls += 1
        if self.calls == self.bad:
            return self.inner.detect([np.zeros((4, 4), np.uint8)])  # not HxWx3
        return self.inner.detect(images)


def test_a_detector_error_reaches_the_caller_and_stops_the_threads() -> None:
    detector = _Refusing(load_detector(DetectorConfig()), bad=5)  # type: ignore[arg-type]
    pipeline = Pipeline(_config(1, 1), detector=detector, pace="unpaced")
    with pytest.raises(ValueError, match="HxWx3"):
        pipeline.run()
    assert not [t for t in threading.enumerate() if t.name.startswith("aistack-")]


def test_leaving_early_stops_the_stages() -> None:
    detector = load_detector(DetectorConfig())
    stop = threading.Event()
    image = np.zeros((120, 160, 3), np.uint8)
    frames = (
        [Frame("cam", index, float(index), image)] for index in range(10_000)
    )  # fmt: skip
    stages = StagedDetection(detector, frames, stop, lanes=2)
    for index, detected in enumerate(stages):
        assert detected.frames[0].index == index
        if index == 5:
            break
    assert stop.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("aistack-")]


def test_the_limit_caps_the_frames_taken(tmp_path: Path) -> None:
    detector = load_detector(DetectorConfig())
    image = np.zeros((120, 160, 3), np.uint8)
    frames = (
        [Frame("cam", i, float(i), image), Frame("cam", i, float(i), image)] for i in range(99)
    )
    taken = [len(d.frames) for d in StagedDetection(detector, frames, threading.Event(), limit=7)]
    assert sum(taken) == 7


class _Counting:
    """A real detector that records which thread made each call."""

    def __init__(self, inner: NanoDetDetector) -> None:
        self.inner = inner
        self.class_names = inner.class_names
        self.threads: list[int] = []

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        self.threads.append(threading.get_ident())
        return self.inner.detect(images)


def test_warm_up_runs_the_model_once_per_lane() -> None:
    detector = _Counting(NanoDetDetector(threads=1))
    pipeline = Pipeline(_config(1, 3), detector=detector)
    pipeline.warm_up(np.zeros((120, 160, 3), np.uint8))
    assert len(detector.threads) == 3 and len(set(detector.threads)) == 3


class _Gated:
    """The real NanoDet in stages, whose model call waits until the test opens the gate."""

    def __init__(self, inner: NanoDetDetector) -> None:
        self.inner = inner
        self.class_names = inner.class_names
        self.gate = threading.Event()
        self.prepared = 0

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        return self.inner.detect(images)

    def prepare(self, images: Sequence[Image]) -> object:
        self.prepared += 1
        return self.inner.prepare(images)

    def infer(self, prepared: object) -> object:
        self.gate.wait(timeout=30)
        return self.inner.infer(prepared)  # type: ignore[arg-type]

    def finish(self, raw: object) -> list[Detections]:
        return self.inner.finish(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("ahead", [0, 1, 2])
def test_batches_are_prepared_ahead_only_when_asked(ahead: int) -> None:
    detector = _Gated(NanoDetDetector(threads=1))
    assert isinstance(detector, StagedDetector)
    image = np.zeros((120, 160, 3), np.uint8)
    frames = ([Frame("cam", i, float(i), image)] for i in range(20))
    stages = StagedDetection(detector, frames, threading.Event(), lanes=1, ahead=ahead)
    while_busy: list[int] = []

    def open_gate() -> None:  # the lane's first call is held up until then
        deadline = time.monotonic() + 20
        while detector.prepared < 1 + ahead and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # time enough to prepare one batch too many, were that the bug
        while_busy.append(detector.prepared)
        detector.gate.set()

    opener = threading.Thread(target=open_gate)
    opener.start()
    indexes = [detected.frames[0].index for detected in stages]
    opener.join()
    # While the lane was busy: the batch in it, and `ahead` more prepared, not one more.
    assert while_busy == [1 + ahead]
    assert indexes == list(range(20))
