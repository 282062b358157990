"""Multi-camera benchmarks: batched worker vs independent pipelines, latency, lag under overload."""

from __future__ import annotations

import multiprocessing
import statistics
import time
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from aistack.analytics.camera import FrameResult
from aistack.config import AppConfig, DetectorConfig
from aistack.detect import load_detector, plan_lanes
from aistack.detect.base import StagedDetector
from aistack.pipeline.wiring import Pipeline
from aistack.sources.video import first_frame
from aistack.types import Image


def _config(clips: list[Path], pace: str, loop: bool, **pipeline: Any) -> AppConfig:
    return AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": f"cam{i}",
                    "source": {"uri": str(clip), "pace": pace, "loop": loop},
                    "lines": [{"name": "middle", "points": [0.5, 0.0, 0.5, 1.0]}],
                }
                for i, clip in enumerate(clips)
            ],
            "metrics": {"enabled": False},
            "pipeline": pipeline,
        }
    )


def _independent_worker(clip: str, frames: int, start: Any, results: Any) -> None:
    """One whole pipeline in its own process, as a user running one per camera would."""
    pipeline = Pipeline(_config([Path(clip)], "unpaced", True), pace="unpaced", max_frames=frames)
    pipeline.warm_up(first_frame(Path(clip)))
    start.wait()
    began = time.perf_counter()
    summary = pipeline.run()
    results.put((began, time.perf_counter(), summary.frames))


def batched_vs_independent(clip: Path, cameras: int, frames: int) -> dict[str, float]:
    """Aggregate FPS of one batched worker over `cameras` independent processes."""
    config = _config([clip] * cameras, "unpaced", True, batch_size=cameras, max_wait_ms=2)
    pipeline = Pipeline(config, pace="unpaced", max_frames=frames * cameras)
    pipeline.warm_up(first_frame(clip))
    began = time.perf_counter()
    batched = pipeline.run().frames / (time.perf_counter() - began)

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(cameras + 1)
    results = context.Queue()
    workers = [
        context.Process(target=_independent_worker, args=(str(clip), frames, start, results))
        for _ in range(cameras)
    ]
    for worker in workers:
        worker.start()
    start.wait()  # every worker has loaded its model; time only the counting
    spans = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    wall = max(end for _, end, _ in spans) - min(begin for begin, _, _ in spans)
    independent = sum(n for _, _, n in spans) / wall
    return {
        "cameras": cameras,
        "batched_fps": round(batched, 2),
        "independent_fps": round(independent, 2),
        "ratio_batched_over_independent": round(batched / independent, 3),
        "target_ratio": 1.3,
    }


def latency_and_lag(clip: Path, cameras: int, seconds: float) -> dict[str, float]:
    """Capture-to-counted latency of paced (camera-like) sources, and lag in frames.

    With one camera the worker keeps up, so latency should be close to the model's
    own time. With several the worker is overloaded on purpose: the latest-frame
    buffers must keep the lag (age of the frame being counted, in frame intervals)
    bounded, dropping frames instead of queueing them.
    """
    capture = cv2.VideoCapture(str(clip))
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or 25.0
    images: list[Image] = [cast(Image, capture.read()[1]) for _ in range(60)]
    capture.release()
    # The lanes and threads a default run of this many live cameras gets.
    lanes, threads = plan_lanes(DetectorConfig(), None, one_live=cameras == 1)
    detector = load_detector(DetectorConfig(threads=threads))
    detector.detect(images[:1])
    isolated = []
    for image in images:
        began = time.perf_counter()
        detector.detect([image])
        isolated.append(time.perf_counter() - began)

    ages: list[float] = []
    timed = _timed(detector)

    def observe(result: FrameResult) -> None:
        ages.append(time.time() - result.frame.timestamp)

    config = _config(
        [clip] * cameras, "native", True, batch_size=cameras, max_wait_ms=5, lanes=lanes
    )
    pipeline = Pipeline(config, detector=timed, supervise=True, on_result=observe)
    stopper = _stop_after(pipeline, seconds)
    summary = pipeline.run()
    stopper.join()
    settled = ages[len(ages) // 10 :]  # skip the start-up transient
    p95 = float(np.percentile(settled, 95))
    # The model's own time per frame in this very run, so both sides see the same frames
    # and the same machine; the isolated figure is kept for reference.
    in_run = timed.per_frame[len(timed.per_frame) // 10 :]
    model_p95 = float(np.percentile(in_run, 95))
    offered = cameras * fps * summary.seconds
    return {
        "cameras": cameras,
        "lanes": lanes,
        "clip_fps": fps,
        "frames_offered": round(offered),
        "frames_counted": summary.frames,
        "model_latency_ms": round(statistics.median(in_run) * 1000, 2),
        "model_latency_p95_ms": round(model_p95 * 1000, 2),
        "model_latency_isolated_ms": round(statistics.median(isolated) * 1000, 2),
        "latency_p95_ms": round(p95 * 1000, 2),
        "latency_p95_over_model": round(p95 / model_p95, 3),
        "lag_frames_p95": round(p95 * fps, 3),
        "lag_frames_max": round(max(settled) * fps, 3),
    }


class _TimedDetector:
    """The detector, timing each call, so model latency is measured inside the run."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.class_names = inner.class_names
        self.max_batch = getattr(inner, "max_batch", None)
        self.per_frame: list[float] = []

    def detect(self, images: Any) -> Any:
        began = time.perf_counter()
        found = self.inner.detect(images)
        self.per_frame.append((time.perf_counter() - began) / max(1, len(images)))
        return found


class _TimedStages(_TimedDetector):
    """As _TimedDetector for a staged detector: each batch's three steps are summed."""

    def prepare(self, images: Any) -> tuple[Any, float]:
        began = time.perf_counter()
        return self.inner.prepare(images), time.perf_counter() - began

    def infer(self, prepared: tuple[Any, float]) -> tuple[Any, float]:
        began = time.perf_counter()
        raw = self.inner.infer(prepared[0])
        return raw, prepared[1] + time.perf_counter() - began

    def finish(self, raw: tuple[Any, float]) -> Any:
        began = time.perf_counter()
        found = self.inner.finish(raw[0])
        spent = raw[1] + time.perf_counter() - began
        self.per_frame.append(spent / max(1, len(found)))
        return found


def _timed(detector: Any) -> _TimedDetector:
    return (
        _TimedStages(detector) if isinstance(detector, StagedDetector) else _TimedDetector(detector)
    )


def _stop_after(pipeline: Pipeline, seconds: float) -> Any:
    import threading

    timer = threading.Timer(seconds, pipeline.stop)
    timer.start()
    return timer
