"""Reader threads that feed frames to the pipeline: lossless for files, supervised for streams.

A `FileFeed` decodes a file ahead of inference into a bounded queue and blocks
when it is full, so nothing is lost. A `StreamFeed` keeps a live source alive:
it reconnects with capped exponential backoff and jitter, and hands inference
only the newest frames (drop-oldest, max age), so a slow consumer never works
through a stale backlog.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import Counter, Gauge

from aistack.config import SourceConfig
from aistack.errors import AistackError
from aistack.sources.video import VideoSource, open_source
from aistack.types import Frame

log = logging.getLogger("aistack.sources")


class FeedMetrics(Protocol):
    """The camera-health metrics a live feed updates; the pipeline's `PipelineMetrics` has them.

    A Protocol, so that sources stay below the pipeline that wires them.
    """

    camera_up: Gauge
    reconnects: Counter
    decode_errors: Counter
    frames_dropped: Counter


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnect attempts: initial × factor^n, capped, ± jitter."""

    initial: float = 0.25
    factor: float = 2.0
    cap: float = 5.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        base = min(self.cap, self.initial * self.factor**attempt)
        return base * (1.0 + random.uniform(-self.jitter, self.jitter))


class LatestFrames:
    """A drop-oldest buffer of the newest frames; frames older than `max_age` are discarded."""

    def __init__(self, size: int, max_age: float) -> None:
        self._frames: collections.deque[Frame] = collections.deque()
        self._size = size
        self._max_age = max_age
        self._ready = threading.Condition()
        self.dropped = 0
        self.ended = False

    def put(self, frame: Frame) -> None:
        with self._ready:
            if len(self._frames) >= self._size:
                self._frames.popleft()
                self.dropped += 1
            self._frames.append(frame)
            self._ready.notify()

    def end(self) -> None:
        with self._ready:
            self.ended = True
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return len(self._frames)

    def get(self, timeout: float) -> Frame | None:
        """The oldest frame still fresh enough, or None after `timeout` with nothing fresh."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while True:
                now = time.time()
                while self._frames and now - self._frames[0].timestamp > self._max_age:
                    self._frames.popleft()
                    self.dropped += 1
                if self._frames:
                    return self._frames.popleft()
                remaining = deadline - time.monotonic()
                if self.ended or remaining <= 0:
                    return None
                self._ready.wait(remaining)


class FileFeed(threading.Thread):
    """Decodes a file ahead into a bounded buffer; blocks instead of dropping."""

    def __init__(
        self,
        source: VideoSource,
        stop: threading.Event,
        size: int = 8,
        on_frame: threading.Event | None = None,
    ) -> None:
        super().__init__(name=f"file-{source.camera}", daemon=True)
        self._on_frame = on_frame
        self.camera = source.camera
        self.source = source
        self.fps: float | None = source.fps
        self.error: BaseException | None = None
        self._halt = stop
        self._frames: collections.deque[Frame] = collections.deque()
        self._size = size
        self._cond = threading.Condition()
        self._ended = False

    def run(self) -> None:
        try:
            for frame in self.source.frames():
                with self._cond:
                    while len(self._frames) >= self._size and not self._halt.is_set():
                        self._cond.wait(0.1)
                    if self._halt.is_set():
                        break
                    self._frames.append(frame)
                    self._cond.notify_all()
                if self._on_frame is not None:
                    self._on_frame.set()
        except Exception as error:  # surfaced by the pipeline, not lost in a thread
            self.error = error
        finally:
            self.source.close()
            with self._cond:
                self._ended = True
                self._cond.notify_all()
            if self._on_frame is not None:
                self._on_frame.set()

    @property
    def depth(self) -> int:
        """Frames decoded and waiting for detection."""
        with self._cond:
            return len(self._frames)

    def get(self, timeout: float) -> Frame | None:
        with self._cond:
            if not self._frames and not self._ended:
                self._cond.wait(timeout)
            if self._frames:
                frame = self._frames.popleft()
                self._cond.notify_all()
                return frame
            return None

    @property
    def finished(self) -> bool:
        with self._cond:
            return self._ended and not self._frames


class StreamFeed(threading.Thread):
    """Keeps one camera connected and its newest frames available; never raises."""

    def __init__(
        self,
        config: SourceConfig,
        camera: str,
        stop: threading.Event,
        metrics: FeedMetrics,
        *,
        pace: str = "native",
        buffer_size: int = 2,
        max_age: float = 1.0,
        backoff: Backoff | None = None,
        opened: VideoSource | None = None,
        reconnect: bool = True,
        on_frame: threading.Event | None = None,
    ) -> None:
        super().__init__(name=f"stream-{camera}", daemon=True)
        self.camera = camera
        self.config = config
        self.fps: float | None = None
        self.frames = LatestFrames(buffer_size, max_age)
        self.error: BaseException | None = None
        self.reconnects = 0
        self._pace = pace
        self._halt = stop
        self._metrics = metrics
        self._backoff = backoff or Backoff()
        self._opened = opened
        self._reconnect = reconnect
        self._on_frame = on_frame
        self._last_dropped = 0
        self._drop_lock = threading.Lock()  # drops are counted from both threads
        metrics.camera_up.labels(camera).set(0)
        metrics.reconnects.labels(camera)  # export 0 before the first reconnect
        metrics.decode_errors.labels(camera)
        metrics.frames_dropped.labels(camera)

    @property
    def depth(self) -> int:
        """Frames read and waiting for detection (at most `buffer_size`)."""
        return len(self.frames)

    def get(self, timeout: float) -> Frame | None:
        frame = self.frames.get(timeout)
        self._count_drops()
        return frame

    @property
    def finished(self) -> bool:
        return self.frames.ended

    def run(self) -> None:
        attempt = 0
        try:
            while not self._halt.is_set():
                delivered = self._stream_once()
                if self._halt.is_set() or not self._reconnect:
                    break
                if self.config.kind == "file" and not self.config.loop and delivered:
                    break  # a paced file that ended is done, not down
                attempt = 0 if delivered else attempt + 1
                self.reconnects += 1
                self._metrics.reconnects.labels(self.camera).inc()
                delay = self._backoff.delay(attempt)
                log.warning("camera %s: reconnecting in %.1f s", self.camera, delay)
                self._halt.wait(delay)
        finally:
            self._metrics.camera_up.labels(self.camera).set(0)
            self.frames.end()
            if self._on_frame is not None:
                self._on_frame.set()

    def _stream_once(self) -> bool:
        """Read until the source fails; True if at least one frame arrived."""
        try:
            source = self._opened or open_source(self.config, self.camera, self._pace)
        except AistackError as error:
            log.warning("camera %s is down: %s", self.camera, error)
            return False
        self._opened = None
        self.fps = source.fps
        delivered = False
        self._metrics.camera_up.labels(self.camera).set(1)
        log.info("camera %s is up: %s", self.camera, source.name)
        try:
            for frame in source.frames():
                if self._halt.is_set():
                    break
                self.frames.put(frame)
                delivered = True
                if self._on_frame is not None:
                    self._on_frame.set()
                self._count_drops()
        except Exception as error:  # a decoder failure is an outage, not a crash
            self._metrics.decode_errors.labels(self.camera).inc()
            log.warning("camera %s: read failed: %s", self.camera, error)
        finally:
            source.close()
            self._metrics.camera_up.labels(self.camera).set(0)
        if not self._halt.is_set():
            log.warning("camera %s: stream ended", self.camera)
        return delivered

    def _count_drops(self) -> None:
        with self._drop_lock:
            dropped = self.frames.dropped
            if dropped > self._last_dropped:
                self._metrics.frames_dropped.labels(self.camera).inc(dropped - self._last_dropped)
                self._last_dropped = dropped
