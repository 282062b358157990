"""Detection on worker threads: decode and count one batch while the model runs the next.

One thread takes a batch of the newest frames whenever a model lane is free and
prepares it (resize, normalise); each lane thread runs the model; the caller's
thread decodes boxes and counts, in the order the batches were taken. Live frames
are taken only when a lane can start on them, so under overload none waits behind
another inference; files read as fast as possible may have batches prepared ahead.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aistack.detect import Detector
from aistack.detect.base import StagedDetector
from aistack.types import Detections, Frame, Image

_POLL = 0.1  # seconds between looks at the stop flag while blocked


@dataclass(frozen=True)
class DetectedBatch:
    """Frames with their boxes, and the seconds the model itself took for them."""

    frames: list[Frame]
    detections: list[Detections]
    inference_seconds: float


@dataclass(frozen=True)
class _Steps:
    prepare: Callable[[Sequence[Image]], Any]
    infer: Callable[[Any], Any]
    finish: Callable[[Any], list[Detections]]


def steps_of(detector: Detector) -> _Steps:
    """A detector's three steps; one that cannot split runs whole in the model's thread."""
    if isinstance(detector, StagedDetector):
        return _Steps(detector.prepare, detector.infer, detector.finish)
    return _Steps(list, detector.detect, lambda detections: detections)


class _End:
    """Marks the end of a stage's output; `error` says why it ended early."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class StagedDetection:
    """Runs batches from `batches` through a detector's stages on worker threads.

    Iterate it from the thread that counts; it yields DetectedBatch in the order
    the batches were taken, whatever order the lanes finish in. `lanes` model
    threads run batches side by side (a staged detector only: its `infer` must
    be safe to call concurrently). `ahead` batches are prepared while every lane
    is busy, so a lane that finishes starts the next at once: for files read as
    fast as possible, not for live frames, which should be the newest when a lane
    frees. `limit` caps the frames taken; `stop` ends it early. An error in a
    stage is raised to the iterating thread; leaving the loop early stops the
    stages.
    """

    def __init__(
        self,
        detector: Detector,
        batches: Iterator[list[Frame]],
        stop: threading.Event,
        limit: int | None = None,
        lanes: int = 1,
        ahead: int = 0,
    ) -> None:
        self._steps = steps_of(detector)
        self._batches = batches
        self._stop = stop
        self._limit = limit
        self._lanes = lanes if isinstance(detector, StagedDetector) else 1
        # A batch holds a slot from being taken until its model call ends.
        self._slot = threading.Semaphore(self._lanes + ahead)
        self._prepared: queue.Queue[tuple[int, list[Frame], Any] | _End] = queue.Queue()
        self._raw: queue.Queue[tuple[int, list[Frame], Any, float] | _End] = queue.Queue(
            maxsize=2 * self._lanes
        )
        self._threads = [
            threading.Thread(target=self._prepare_loop, daemon=True, name="aistack-prepare")
        ]
        self._threads += [
            threading.Thread(target=self._infer_loop, daemon=True, name=f"aistack-infer-{lane}")
            for lane in range(self._lanes)
        ]  # fmt: skip

    @property
    def waiting(self) -> int:
        """Batches prepared or detected and not yet handed back."""
        return self._prepared.qsize() + self._raw.qsize()

    def __iter__(self) -> Iterator[DetectedBatch]:
        for thread in self._threads:
            thread.start()
        waiting: dict[int, tuple[list[Frame], Any, float]] = {}
        following = 0  # the sequence number of the batch to hand out next
        ended = 0
        try:
            while ended < self._lanes:
                item = self._get(self._raw)
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    ended += 1
                    continue
                sequence, frames, raw, seconds = item
                waiting[sequence] = (frames, raw, seconds)
                while following in waiting:
                    frames, raw, seconds = waiting.pop(following)
                    following += 1
                    yield DetectedBatch(frames, self._steps.finish(raw), seconds)
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(timeout=10)

    def _prepare_loop(self) -> None:
        taken = sequence = 0
        try:
            while self._limit is None or taken < self._limit:
                # Take frames only when a lane is (about to be) free: the newest on hand.
                while not self._slot.acquire(timeout=_POLL):
                    if self._stop.is_set():
                        return
                batch = next(self._batches, None)
                if batch is None or self._stop.is_set():
                    return
                if self._limit is not None:
                    batch = batch[: self._limit - taken]
                taken += len(batch)
                prepared = self._steps.prepare([frame.image for frame in batch])
                self._prepared.put((sequence, batch, prepared))
                sequence += 1
        except BaseException as error:  # handed on, and raised in the counting thread
            self._stop.set()
            self._prepared.put(_End(error))
        finally:
            for _ in range(self._lanes):
                self._prepared.put(_End())

    def _infer_loop(self) -> None:
        try:
            while True:
                item = self._prepared.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    break
                sequence, frames, prepared = item
                started = time.perf_counter()
                try:
                    raw = self._steps.infer(prepared)
                finally:
                    self._slot.release()  # the lane is free: take the newest frames now
                self._put(self._raw, (sequence, frames, raw, time.perf_counter() - started))
        except BaseException as error:
            self._stop.set()
            self._put(self._raw, _End(error), force=True)
        else:
            self._put(self._raw, _End(), force=True)

    def _get(self, source: queue.Queue[Any]) -> Any:
        while True:
            try:
                return source.get(timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set() and not any(t.is_alive() for t in self._threads):
                    return _End()

    def _put(self, target: queue.Queue[Any], item: Any, force: bool = False) -> None:
        while True:
            try:
                target.put(item, timeout=_POLL)
                return
            except queue.Full:
                if not self._stop.is_set():
                    continue  # the counting thread is busy, not gone: every result must reach it
                if not force:
                    return
                with contextlib.suppress(queue.Empty):  # stopping: make room for the end marker
                    target.get_nowait()
