"""Wiring and threads: camera readers → batched detection → analytics → isolated sinks.

The orchestration lives here; the detection threads (prepare, model lanes) are in
`pipeline_stages.py`, the sink writers in `sinks/writer.py`. Every queue is bounded
and every thread has a stop event and a join.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from aistack.analytics.camera import CameraAnalytics, FrameResult, check_counters_inside
from aistack.analytics.lines import LineTotals
from aistack.config import AppConfig, CameraConfig
from aistack.detect import Detector, load_detector, plan_lanes
from aistack.errors import AistackError, SourceError
from aistack.live.draw import FrameAnnotator
from aistack.pipeline.lanes import DetectedBatch, StagedDetection
from aistack.pipeline.metrics import PipelineMetrics
from aistack.redact import redact_url
from aistack.sinks.snapshots import SnapshotWriter
from aistack.sinks.writer import EventSink, SinkWriter
from aistack.sources.feeds import Backoff, FileFeed, StreamFeed
from aistack.sources.video import open_source
from aistack.types import Frame, Image

log = logging.getLogger("aistack.pipeline")

Feed = FileFeed | StreamFeed


@dataclass
class CameraSummary:
    name: str
    source: str
    frames: int
    lines: list[LineTotals]
    zones: dict[str, dict[str, int]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "camera": self.name,
            "source": self.source,
            "frames": self.frames,
            "lines": [
                {
                    "name": line.name,
                    "points": [round(v, 2) for v in line.points],
                    "in": line.total_in,
                    "out": line.total_out,
                    "by_class": line.by_class(),
                }
                for line in self.lines
            ],
            "zones": self.zones,
        }


@dataclass
class RunSummary:
    """What a run counted, and how fast."""

    cameras: list[CameraSummary]
    frames: int
    seconds: float
    snapshot: Image | None = field(default=None, repr=False)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The `aistack count --json` object; `cameras` is added when there are several."""
        cameras = [camera.to_dict() for camera in self.cameras]
        first = cameras[0] if cameras else {"source": None, "lines": []}
        result: dict[str, Any] = {
            "source": first["source"],
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "lines": first["lines"],
        }
        if len(cameras) > 1:
            result["cameras"] = cameras
        return result


class Pipeline:
    """Runs every camera of a config through one detector until the sources end or stop().

    With `supervise=True` (what `aistack run` uses) live cameras that fail are
    reconnected forever and never stop the run; otherwise every source is opened
    up front, so a bad path or URL is an error at once.

    `lanes` model calls run side by side; `read_ahead` batches are prepared while
    they are all busy (1 when every camera is a file read as fast as possible, 0
    when frames are live and should be the newest when a lane frees). Both may be
    changed before `run`.
    """

    def __init__(
        self,
        config: AppConfig,
        *,
        detector: Detector | None = None,
        metrics: PipelineMetrics | None = None,
        sinks: dict[str, EventSink] | None = None,
        pace: str = "native",
        supervise: bool = False,
        progress: bool = False,
        keep_snapshot: bool = False,
        on_result: Callable[[FrameResult], None] | None = None,
        max_frames: int | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or PipelineMetrics()
        # Latency from capture means something only when timestamps are wall-clock.
        self._live = {camera.name: _is_live(camera, pace) for camera in config.cameras}
        live = list(self._live.values())
        # Files read as fast as possible: prepare the next batch while the lanes are busy.
        self.read_ahead = 0 if any(live) else 1
        if detector is None:
            self.lanes, threads = plan_lanes(
                config.detector, config.pipeline.lanes,
                one_live=live == [True], reads_ahead=self.read_ahead > 0,
            )  # fmt: skip
            try:
                detector = load_detector(config.detector.model_copy(update={"threads": threads}))
            except AistackError as error:
                raise error.at("detector", "model") from None
        else:  # its threads are already chosen; more lanes only if asked
            self.lanes = config.pipeline.lanes or 1
        self.detector = detector
        self.sinks = sinks or {}
        self.pace = pace
        self.progress = progress
        self.keep_snapshot = keep_snapshot
        self.on_result = on_result
        self.max_frames = max_frames
        self.cameras: dict[str, CameraAnalytics] = {}
        snapshots = config.snapshots
        self.snapshots = (
            SnapshotWriter(snapshots.directory, snapshots.kind, snapshots.quality)
            if snapshots.enabled
            else None
        )
        self._stop = threading.Event()
        self._arrivals = threading.Event()
        self._running: tuple[StagedDetection, list[SinkWriter]] | None = None
        self._camera_configs = {c.name: c for c in config.cameras}
        self._index = {c.name: i for i, c in enumerate(config.cameras)}
        self.feeds = [self._feed(camera, supervise) for camera in config.cameras]

    def _feed(self, camera: CameraConfig, supervise: bool) -> Feed:
        pace = camera.source.pace or self.pace
        settings = self.config.pipeline
        opened = None
        index = self._index[camera.name]
        if camera.source.kind == "file" or not supervise:
            try:
                opened = open_source(camera.source, camera.name, pace)  # bad input fails now
            except AistackError as error:
                raise error.at("cameras", index, "source", "uri") from None
            check_counters_inside(camera, index, (opened.width, opened.height))
            if camera.source.kind == "file" and pace == "unpaced":
                return FileFeed(opened, self._stop, on_frame=self._arrivals)
        return StreamFeed(
            camera.source, camera.name, self._stop, self.metrics, pace=pace,
            buffer_size=settings.buffer_size, max_age=settings.max_frame_age,
            opened=opened, reconnect=supervise, on_frame=self._arrivals,
            backoff=Backoff(settings.reconnect_initial_seconds, cap=settings.reconnect_max_seconds),
        )  # fmt: skip

    def warm_up(self, image: Image) -> None:
        """Run the model once in every lane at once, so no lane's first call is measured.

        A session's first runs allocate its memory arenas; with several lanes each
        concurrent run needs its own, which one call alone would not set up.
        """
        workers = [
            threading.Thread(target=self.detector.detect, args=([image],), daemon=True)
            for _ in range(self.lanes)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def stop(self) -> None:
        self._stop.set()
        self._arrivals.set()

    def queue_depths(self) -> dict[str, int]:
        """What waits in each buffer now: frames per camera, batches in the lanes, event
        batches per sink. For soak runs; empty before `run` starts."""
        if self._running is None:
            return {}
        stages, writers = self._running
        depths = {f"camera:{feed.camera}": feed.depth for feed in self.feeds}
        depths["lanes"] = stages.waiting
        depths.update({f"sink:{w.sink_name}": w.pending.qsize() for w in writers})
        return depths

    def run(self) -> RunSummary:
        writers = [SinkWriter(name, sink, self.metrics) for name, sink in self.sinks.items()]
        opened = time.time()  # a live camera that never delivers ages from here
        for name, live in self._live.items():
            if live:
                self.metrics.last_frame_age.seen(name, opened)
        for thread in [*self.feeds, *writers]:
            thread.start()
        total = (
            sum(f.source.frame_count or 0 for f in self.feeds if isinstance(f, FileFeed)) or None
        )
        if self.max_frames is not None:
            total = min(total or self.max_frames, self.max_frames)
        bar = tqdm(
            total=total, unit="frame", disable=not self.progress, leave=False, dynamic_ncols=True
        )
        started = time.perf_counter()
        frames = 0
        per_camera = dict.fromkeys(self._camera_configs, 0)
        snapshot: Image | None = None
        best = -1
        annotator = FrameAnnotator() if self.keep_snapshot else None
        stages = StagedDetection(
            self.detector, self._batches(), self._stop, self.max_frames, self.lanes, self.read_ahead
        )
        self._running = (stages, writers)
        try:
            for detected in stages:
                for result in self._process(detected):
                    per_camera[result.frame.camera] += 1
                    if result.events:
                        for writer in writers:
                            writer.submit(result.events)
                    if self.on_result is not None:
                        self.on_result(result)
                    if annotator is not None and len(result.detections) > best:
                        best = len(result.detections)
                        camera = self.cameras[result.frame.camera]
                        snapshot = annotator.draw(
                            result.frame.image, result.detections,
                            camera.line_totals(), camera.zone_view(), result.postures,
                        )  # fmt: skip
                frames += len(detected.frames)
                bar.update(len(detected.frames))
        finally:
            self.stop()
            bar.close()
            for feed in self.feeds:
                feed.join(timeout=10)
            for writer in writers:
                writer.close()
        elapsed = time.perf_counter() - started
        for feed in self.feeds:
            if feed.error is not None:
                field = ("cameras", self._index[feed.camera], "source", "uri")
                if isinstance(feed.error, AistackError):
                    raise feed.error.at(*field)
                error = SourceError(f"camera {feed.camera}: reading failed: {feed.error}")
                raise error.at(*field)
        return RunSummary(
            cameras=[
                CameraSummary(
                    name, redact_url(config.source.uri), per_camera[name],
                    self.cameras[name].line_totals() if name in self.cameras else [],
                    {z.name: z.occupancy() for z in self.cameras[name].zones}
                    if name in self.cameras else {},
                )
                for name, config in self._camera_configs.items()
            ],
            frames=frames,
            seconds=elapsed,
            snapshot=snapshot,
        )  # fmt: skip

    def _batches(self) -> Iterator[list[Frame]]:
        """Up to `batch_size` frames across cameras, waiting at most `max_wait_ms` to fill.

        Cameras take turns, one frame each per pass, so a busy camera cannot
        starve the others; each camera's frames stay in order. A detector that
        runs one picture per call (`max_batch = 1`, e.g. NanoDet's fixed-batch
        graph) gains nothing from a batch, and waiting for one only adds lag.
        """
        settings = self.config.pipeline
        max_batch = getattr(self.detector, "max_batch", None)
        batch_size = min(settings.batch_size, max_batch or settings.batch_size)
        feeds = list(self.feeds)
        turn = 0
        while not self._stop.is_set():
            batch: list[Frame] = []
            deadline: float | None = None
            while len(batch) < batch_size and not self._stop.is_set():
                self._arrivals.clear()
                took = False
                for offset in range(len(feeds)):
                    feed = feeds[(turn + offset) % len(feeds)]
                    frame = feed.get(0.0)
                    if frame is not None:
                        batch.append(frame)
                        took = True
                        if len(batch) >= batch_size:
                            break
                turn += 1
                if all(feed.finished for feed in feeds):
                    break
                now = time.monotonic()
                if batch and deadline is None:
                    deadline = now + settings.max_wait_ms / 1000
                if batch and deadline is not None and now >= deadline:
                    break
                if not took:
                    self._arrivals.wait(0.5 if deadline is None else max(0.0, deadline - now))
            if batch:
                yield batch
            elif all(feed.finished for feed in feeds):
                return

    def _analytics(self, frame: Frame) -> CameraAnalytics:
        camera = self.cameras.get(frame.camera)
        if camera is None:
            feed = next(f for f in self.feeds if f.camera == frame.camera)
            config = self.config
            check_counters_inside(  # a stream's size is known only now
                self._camera_configs[frame.camera], self._index[frame.camera],
                (frame.width, frame.height),
            )  # fmt: skip
            camera = CameraAnalytics(
                self._camera_configs[frame.camera], config.tracker, config.counting,
                feed.fps or 25.0, (frame.width, frame.height), config.pose,
            )  # fmt: skip
            self.cameras[frame.camera] = camera
        return camera

    @staticmethod
    def _with_snapshots(result: FrameResult, writer: SnapshotWriter) -> FrameResult:
        events = [
            dataclasses.replace(event, snapshot=writer.save(result.frame, result.detections, event))
            for event in result.events
        ]
        return dataclasses.replace(result, events=events)

    def _process(self, detected: DetectedBatch) -> list[FrameResult]:
        self.metrics.inference_seconds.labels(type(self.detector).__name__).observe(
            detected.inference_seconds
        )
        batch, detections = detected.frames, detected.detections
        results = []
        for frame, found in zip(batch, detections, strict=True):
            camera = self._analytics(frame)
            result = camera.process(frame, found)
            if self.snapshots is not None and result.events:
                result = self._with_snapshots(result, self.snapshots)
            results.append(result)
            self.metrics.frames.labels(frame.camera).inc()
            for event in result.events:
                if event.kind == "crossing":
                    self.metrics.crossed.labels(
                        event.camera, event.counter, event.class_name, event.direction
                    ).inc()
                elif event.kind == "enter":
                    self.metrics.zone_entries.labels(
                        event.camera, event.counter, event.class_name
                    ).inc()
                elif event.kind == "fall":
                    self.metrics.falls.labels(event.camera).inc()
            if self._live[frame.camera]:
                age = max(0.0, time.time() - frame.timestamp)
                self.metrics.end_to_end_latency.labels(frame.camera).observe(age)
                self.metrics.last_frame_age.seen(frame.camera, frame.timestamp)
            if camera.pose is not None:
                for posture, people in camera.pose.occupancy_by_posture().items():
                    self.metrics.posture_count.labels(frame.camera, posture).set(people)
            for zone in camera.zones:
                for class_name, inside in zone.occupancy().items():
                    self.metrics.zone_occupancy.labels(frame.camera, zone.name, class_name).set(
                        inside
                    )
        return results


def _is_live(camera: CameraConfig, pace: str) -> bool:
    """Frames arrive in real time: a stream or webcam, or a file paced at its own rate."""
    return camera.source.kind != "file" or (camera.source.pace or pace) == "native"
