"""Supervised live feeds: dead and hung servers, and a slow consumer whose lag stays bounded."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from aistack.config import AppConfig, DetectorConfig, SourceConfig
from aistack.data import DEMO_CLIP
from aistack.detect import Detector, load_detector
from aistack.pipeline.metrics import PipelineMetrics
from aistack.pipeline.wiring import Pipeline
from aistack.sources.feeds import Backoff, LatestFrames, StreamFeed
from aistack.types import Detections, Frame, Image


@pytest.fixture
def hung_server() -> Iterator[int]:
    """A TCP port that accepts connections and then never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def _value(metrics: PipelineMetrics, name: str, camera: str) -> float:
    value = metrics.registry.get_sample_value(name, {"camera": camera})
    return 0.0 if value is None else value


@pytest.mark.parametrize("kind", ["refused", "hung"])
def test_a_stream_that_never_answers_is_down_not_a_crash(kind: str, hung_server: int) -> None:
    port = hung_server if kind == "hung" else 9  # nothing listens on the discard port here
    metrics = PipelineMetrics()
    stop = threading.Event()
    feed = StreamFeed(
        SourceConfig(uri=f"rtsp://user:secret@127.0.0.1:{port}/cam"), "door", stop, metrics,
        backoff=Backoff(initial=0.1, cap=0.3),
    )  # fmt: skip
    feed.start()
    time.sleep(7 if kind == "hung" else 2)  # a hung server costs the open timeout (5 s)
    assert feed.is_alive()
    assert feed.get(0.1) is None
    assert _value(metrics, "aistack_camera_up", "door") == 0
    assert _value(metrics, "aistack_reconnects_total", "door") >= 1
    stop.set()
    feed.join(timeout=10)
    assert not feed.is_alive()


def test_down_camera_is_logged_with_its_credentials_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = threading.Event()
    feed = StreamFeed(
        SourceConfig(uri="rtsp://admin:hunter2@127.0.0.1:9/cam"), "door", stop,
        PipelineMetrics(), backoff=Backoff(initial=0.1, cap=0.2),
    )  # fmt: skip
    with caplog.at_level("WARNING", logger="aistack.sources"):
        feed.start()
        time.sleep(1.0)
        stop.set()
        feed.join(timeout=10)
    text = caplog.text
    assert "camera door is down" in text and "admin:***@127.0.0.1:9" in text
    assert "hunter2" not in text


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    backoff = Backoff(initial=0.5, factor=2, cap=4, jitter=0.2)
    delays = [backoff.delay(n) for n in range(8)]
    assert 0.4 <= delays[0] <= 0.6
    assert all(3.2 <= d <= 4.8 for d in delays[3:])


def test_latest_frames_drop_the_oldest_and_stale_ones() -> None:
    buffer = LatestFrames(size=1, max_age=0.5)
    now = time.time()
    for index in range(5):
        buffer.put(Frame("c", index, now, np.zeros((1, 1, 3), np.uint8)))
    frame = buffer.get(0.1)
    assert frame is not None and frame.index == 4 and buffer.dropped == 4
    buffer.put(Frame("c", 5, now - 1.0, np.zeros((1, 1, 3), np.uint8)))
    assert buffer.get(0.05) is None and buffer.dropped == 5


class _SlowDetector:
    """A real detector behind a consumer that takes 3 frame intervals per batch."""

    def __init__(self, inner: Detector, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.class_names = inner.class_names

        self.started: dict[int, float] = {}  # picture id -> when the consumer picked it up

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        now = time.time()
        self.started.update((id(image), now) for image in images)
        time.sleep(self.delay)
        return self.inner.detect(images)


def test_a_slow_consumer_always_works_on_fresh_frames(tmp_path: Path) -> None:
    config = AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": "vtest",
                    "source": {"uri": str(DEMO_CLIP), "pace": "native", "loop": True},
                    "lines": [{"name": "walkway", "points": [0.62, 0.8, 0.62, 0.3]}],
                }
            ],
            "metrics": {"enabled": False},
        }
    )
    interval = 0.1  # the clip's 10 fps
    ages: list[float] = []
    metrics = PipelineMetrics()
    slow = _SlowDetector(load_detector(DetectorConfig()), 3 * interval)
    pipeline = Pipeline(
        config, detector=slow, metrics=metrics, supervise=True,
        on_result=lambda result: ages.append(
            slow.started[id(result.frame.image)] - result.frame.timestamp
        ),
    )  # fmt: skip
    timer = threading.Timer(6.0, pipeline.stop)
    timer.start()
    summary = pipeline.run()
    timer.join()
    assert summary.frames >= 10
    # Age of each frame when the consumer took it: under two frame intervals, though
    # the consumer needs three intervals per frame.
    assert max(ages[2:]) < 2 * interval, ages
    assert _value(metrics, "aistack_frames_dropped_total", "vtest") > 0.5 * summary.frames


@pytest.mark.parametrize("cores", [2, 64])
def test_file_frames_are_ffmpegs_whatever_the_decoding_threads(
    cores: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cv2

    from aistack.sources.video import VideoSource

    monkeypatch.setattr("os.cpu_count", lambda: cores)  # one decoding thread on few cores
    source = VideoSource(SourceConfig(uri=str(DEMO_CLIP)))
    ours = [frame.image for _, frame in zip(range(30), source.frames(), strict=False)]
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    for image in ours:
        ok, expected = capture.read()
        assert ok and np.array_equal(image, expected)
    assert len(ours) == 30
