"""Annotated video pushed to a real RTSP server (RECORD) and read back from it."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.errors import ConfigError, SourceError
from aistack.live.draw import LINE_COLOUR
from aistack.live.emulator import Emulator, check_gstreamer
from aistack.live.push import RtspPublisher
from aistack.pipeline.wiring import Pipeline
from aistack.types import Image

pytestmark = pytest.mark.services

LINE_X = 0.62  # the walkway line, vertical from y 0.3 to 0.8


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    try:
        check_gstreamer()
        if shutil.which("ffmpeg") is None:
            raise SourceError("pushing RTSP needs ffmpeg: apt-get install ffmpeg")
    except SourceError as error:
        if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
            pytest.fail(str(error))
        pytest.skip(str(error))
    with Emulator([DEMO_CLIP], port=0, names=["door"], ingest=["annotated-door"]) as server:
        yield server


def _read_view(url: str, seconds: float) -> list[Image]:
    os.environ.setdefault(
        "OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;0|probesize;32"
    )
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    frames: list[Image] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ok, image = capture.read()
        if ok:
            frames.append(image)
    capture.release()
    return frames


def test_the_annotated_view_reaches_an_rtsp_mount(emulator: Emulator) -> None:
    push, view = emulator.ingest_urls["annotated-door"]
    config = AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": "door",
                    "source": {"uri": emulator.urls["door"]},
                    "lines": [{"name": "walkway", "points": [LINE_X, 0.8, LINE_X, 0.3]}],
                }
            ],
            "metrics": {"enabled": False},
        }
    )
    publisher = RtspPublisher(push.replace("annotated-door", "annotated-{camera}"), fps=10)
    pipeline = Pipeline(config, supervise=True)
    pipeline.on_result = publisher.observer(pipeline.cameras)
    runner = threading.Thread(target=pipeline.run, daemon=True)
    runner.start()
    try:
        time.sleep(3.0)  # the push session is up before the reader joins
        frames = _read_view(view, 4.0)
    finally:
        pipeline.stop()
        runner.join(timeout=20)
        publisher.close()
    assert publisher.frames_sent["door"] > 20
    pictures = [f for f in frames if f.shape == (576, 768, 3)]
    assert len(pictures) > 10, [f.shape for f in frames[:5]]
    # The counting line is drawn in its colour along x = 0.62 of the width.
    last = pictures[-1].astype(np.int16)
    column = last[int(0.35 * 576) : int(0.75 * 576), round(LINE_X * 768) - 1]
    close = np.abs(column - np.array(LINE_COLOUR, np.int16)).max(axis=1) < 60
    assert close.mean() > 0.8, column[:5]


def test_a_dead_server_does_not_stop_counting(caplog: pytest.LogCaptureFixture) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("pushing RTSP needs ffmpeg")
    config = AppConfig.model_validate(
        {
            "cameras": [{"name": "door", "source": {"uri": str(DEMO_CLIP)}}],
            "metrics": {"enabled": False},
        }
    )
    with RtspPublisher("rtsp://user:secret@127.0.0.1:9/{camera}", fps=30) as publisher:
        pipeline = Pipeline(config, pace="unpaced", max_frames=200)
        pipeline.on_result = publisher.observer(pipeline.cameras)
        summary = pipeline.run()
    assert summary.frames == 200
    assert "retrying" in caplog.text
    assert "secret" not in caplog.text


def test_bad_push_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not an rtsp:// URL"):
        RtspPublisher("http://127.0.0.1/x")
    with pytest.raises(ConfigError, match="fps"):
        RtspPublisher("rtsp://127.0.0.1/x", fps=0)


def test_bad_ingest_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="ingest mount 'a b'"):
        Emulator([], ingest=["a b"])
    with pytest.raises(ConfigError, match="no other mount has"):
        Emulator([DEMO_CLIP], names=["door"], ingest=["door"])
    with pytest.raises(ConfigError, match="no other mount has"):
        Emulator([DEMO_CLIP], names=["door-view"], ingest=["door"])
    with pytest.raises(ConfigError, match="at least one clip or ingest"):
        Emulator([])
