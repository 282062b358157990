"""Wiring and threads: camera readers → batched detection → analytics → isolated sinks.

All of aistack's concurrency lives here. Every queue is bounded and every
thread has a stop event and a join.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tqdm import tqdm

from aistack.analytics.lines import LineTotals
from aistack.annotate import FrameAnnotator
from aistack.camera import CameraAnalytics, FrameResult
from aistack.config import AppConfig
from aistack.detect import Detector, load_detector
from aistack.errors import AistackError, SourceError
from aistack.metrics import PipelineMetrics
from aistack.sources.video import VideoSource, open_source
from aistack.types import Event, Frame, Image

log = logging.getLogger("aistack.pipeline")

_END = object()


class EventSink(Protocol):
    def write(self, events: Sequence[Event]) -> None: ...


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
        result: dict[str, Any] = {
            "source": cameras[0]["source"],
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "lines": cameras[0]["lines"],
        }
        if len(cameras) > 1:
            result["cameras"] = cameras
        return result


class _Reader(threading.Thread):
    """Decodes one source into a bounded queue, so decoding overlaps inference.

    Files read unpaced block when the queue is full (nothing is lost); live and
    paced sources drop the oldest frame instead, so inference never works
    through a stale backlog.
    """

    def __init__(self, source: VideoSource, stop: threading.Event, size: int, lossless: bool,
                 metrics: PipelineMetrics) -> None:  # fmt: skip
        super().__init__(name=f"reader-{source.camera}", daemon=True)
        self.source = source
        self.frames: queue.Queue[object] = queue.Queue(maxsize=size)
        self.error: BaseException | None = None
        self._halt = stop
        self._lossless = lossless
        self._metrics = metrics

    def run(self) -> None:
        try:
            for frame in self.source.frames():
                if self._halt.is_set():
                    break
                self._put(frame)
        except Exception as error:  # surfaced by the consumer, not lost in a thread
            self.error = error
        finally:
            self._put_end()

    def _put(self, frame: Frame) -> None:
        while not self._halt.is_set():
            if self._lossless:
                try:
                    self.frames.put(frame, timeout=0.1)
                    return
                except queue.Full:
                    continue
            try:
                self.frames.put_nowait(frame)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.frames.get_nowait()
                    self._metrics.frames_dropped.labels(self.source.camera).inc()

    def _put_end(self) -> None:
        while True:
            try:
                self.frames.put(_END, timeout=0.1)
                return
            except queue.Full:
                if self._halt.is_set():
                    with contextlib.suppress(queue.Empty):
                        self.frames.get_nowait()


class _SinkWriter(threading.Thread):
    """Feeds events to one sink off the counting path; failures are counted, not raised."""

    def __init__(self, name: str, sink: EventSink, metrics: PipelineMetrics, size: int = 10_000):
        super().__init__(name=f"sink-{name}", daemon=True)
        self.sink_name = name
        self.sink = sink
        self.pending: queue.Queue[list[Event] | None] = queue.Queue(maxsize=size)
        self._metrics = metrics

    def submit(self, events: list[Event]) -> None:
        try:
            self.pending.put_nowait(events)
        except queue.Full:
            self._metrics.sink_errors.labels(self.sink_name).inc()
            log.warning("sink %s is too slow; %d events not written", self.sink_name, len(events))

    def run(self) -> None:
        while True:
            batch = self.pending.get()
            if batch is None:
                return
            while len(batch) < 5000:  # coalesce what is already waiting into one transaction
                try:
                    more = self.pending.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._write(batch)
                    return
                batch = batch + more
            self._write(batch)

    def _write(self, batch: list[Event]) -> None:
        try:
            self.sink.write(batch)
        except Exception as error:
            self._metrics.sink_errors.labels(self.sink_name).inc()
            log.error("sink %s failed to write %d events: %s", self.sink_name, len(batch), error)

    def close(self) -> None:
        self.pending.put(None)
        self.join(timeout=30)


class Pipeline:
    """Runs every camera of a config through one detector until the sources end or stop()."""

    def __init__(
        self,
        config: AppConfig,
        *,
        detector: Detector | None = None,
        metrics: PipelineMetrics | None = None,
        sinks: dict[str, EventSink] | None = None,
        pace: str = "native",
        progress: bool = False,
        keep_snapshot: bool = False,
        on_result: Callable[[FrameResult], None] | None = None,
        max_frames: int | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or PipelineMetrics()
        self.detector = detector or load_detector(config.detector)
        self.sinks = sinks or {}
        self.pace = pace
        self.progress = progress
        self.keep_snapshot = keep_snapshot
        self.on_result = on_result
        self.max_frames = max_frames
        self._stop = threading.Event()
        self.sources = [open_source(c.source, c.name, pace) for c in config.cameras]
        self.cameras = {
            c.name: CameraAnalytics(c, config.tracker, config.counting, s.fps, (s.width, s.height))
            for c, s in zip(config.cameras, self.sources, strict=True)
        }
        # Latency from capture means something only when timestamps are wall-clock.
        self._live = {s.camera: s.kind != "file" or s.pace == "native" for s in self.sources}

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> RunSummary:
        readers = [
            _Reader(s, self._stop, size=8, lossless=s.kind == "file" and s.pace == "unpaced",
                    metrics=self.metrics)
            for s in self.sources
        ]  # fmt: skip
        writers = [_SinkWriter(name, sink, self.metrics) for name, sink in self.sinks.items()]
        for thread in [*readers, *writers]:
            thread.start()
        total = sum(s.frame_count or 0 for s in self.sources) or None
        if self.max_frames is not None:
            total = min(total or self.max_frames, self.max_frames)
        bar = tqdm(
            total=total, unit="frame", disable=not self.progress, leave=False, dynamic_ncols=True
        )
        started = time.perf_counter()
        frames = 0
        per_camera = dict.fromkeys(self.cameras, 0)
        snapshot: Image | None = None
        best = -1
        annotator = FrameAnnotator() if self.keep_snapshot else None
        try:
            for batch in self._batches(readers):
                results = self._process(batch)
                for result in results:
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
                            camera.line_totals(), camera.zone_view(),
                        )  # fmt: skip
                frames += len(batch)
                bar.update(len(batch))
                if self.max_frames is not None and frames >= self.max_frames:
                    break
        finally:
            self._stop.set()
            bar.close()
            for reader in readers:
                reader.join(timeout=10)
                reader.source.close()
            for writer in writers:
                writer.close()
        elapsed = time.perf_counter() - started
        for reader in readers:
            if reader.error is not None:
                error = reader.error
                if isinstance(error, AistackError):
                    raise error
                raise SourceError(f"{reader.source.name}: reading failed: {error}")
        return RunSummary(
            cameras=[
                CameraSummary(
                    name, source.name, per_camera[name], camera.line_totals(),
                    {z.name: z.occupancy() for z in camera.zones},
                )
                for (name, camera), source in zip(self.cameras.items(), self.sources, strict=True)
            ],
            frames=frames,
            seconds=elapsed,
            snapshot=snapshot,
        )  # fmt: skip

    def _batches(self, readers: list[_Reader]) -> Iterator[list[Frame]]:
        """One frame per live camera per batch, so every camera advances together."""
        active = list(readers)
        while active and not self._stop.is_set():
            batch: list[Frame] = []
            for reader in list(active):
                try:
                    item = reader.frames.get(timeout=0.5 if not batch else 0.0)
                except queue.Empty:
                    continue
                if item is _END:
                    active.remove(reader)
                else:
                    assert isinstance(item, Frame)
                    batch.append(item)
            if batch:
                yield batch

    def _process(self, batch: list[Frame]) -> list[FrameResult]:
        started = time.perf_counter()
        detections = self.detector.detect([f.image for f in batch])
        self.metrics.inference_seconds.labels(type(self.detector).__name__).observe(
            time.perf_counter() - started
        )
        results = []
        now = time.time()
        for frame, found in zip(batch, detections, strict=True):
            result = self.cameras[frame.camera].process(frame, found)
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
            if self._live[frame.camera]:
                self.metrics.end_to_end_latency.labels(frame.camera).observe(
                    max(0.0, now - frame.timestamp)
                )
            for zone in self.cameras[frame.camera].zones:
                for class_name, inside in zone.occupancy().items():
                    self.metrics.zone_occupancy.labels(frame.camera, zone.name, class_name).set(
                        inside
                    )
        return results
