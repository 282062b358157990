"""The RTSP emulator against real readers: native rate, loop wrap, crash and restart."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

import cv2
import numpy as np
import pytest

from aistack.data import DEMO_CLIP
from aistack.errors import ConfigError, SourceError
from aistack.live.emulator import Emulator, check_gstreamer

pytestmark = pytest.mark.services

# The fast-open options aistack's own reader uses (aistack/sources/video.py).
os.environ.setdefault(
    "OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp|analyzeduration;0|probesize;32"
)
COUNTER_FPS = 15
COUNTER_FRAMES = 2 * COUNTER_FPS  # a 2 s clip, so the loop wraps within a short read
GRAY_STEP = 7  # frame i is a flat gray of 20 + 7·i, so a reader can tell where it is


def require_or_skip(reason: str) -> NoReturn:
    """Skip, or fail where CI promises the services (AISTACK_REQUIRE_SERVICES=1)."""
    if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"AISTACK_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def gstreamer() -> None:
    try:
        check_gstreamer()
    except SourceError as error:
        require_or_skip(str(error))


@pytest.fixture(scope="module")
def counter_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "counter.mp4"
    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    writer = cv2.VideoWriter(str(path), fourcc, COUNTER_FPS, (320, 240))
    for index in range(COUNTER_FRAMES):
        writer.write(np.full((240, 320, 3), 20 + GRAY_STEP * index, np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def emulator(gstreamer: None, counter_clip: Path) -> Iterator[Emulator]:
    with Emulator([DEMO_CLIP, counter_clip], port=0) as running:
        yield running


def open_capture(url: str, read_timeout_ms: int = 5000) -> cv2.VideoCapture:
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000]
    timeouts += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, read_timeout_ms]  # a hung server fails the test
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, timeouts)
    assert capture.isOpened(), f"cannot open {url}"
    return capture


def read_frames(url: str, count: int) -> tuple[list[np.ndarray], list[float]]:
    """`count` frames and the monotonic time each arrived."""
    capture = open_capture(url)
    images: list[np.ndarray] = []
    times: list[float] = []
    try:
        for _ in range(count):
            ok, image = capture.read()
            assert ok, f"{url}: read failed after {len(images)} frames"
            images.append(image)
            times.append(time.monotonic())
    finally:
        capture.release()
    return images, times


def measured_fps(times: list[float], skip: int = 5) -> float:
    """Frames per second after the first few, which may arrive together on joining."""
    return (len(times) - 1 - skip) / (times[-1] - times[skip])


def test_each_mount_streams_its_clip_at_its_native_rate(emulator: Emulator) -> None:
    assert set(emulator.urls) == {"vtest", "counter"}
    assert emulator.urls["vtest"] == f"rtsp://127.0.0.1:{emulator.port}/vtest"
    vtest, counter = emulator.mounts["vtest"], emulator.mounts["counter"]
    assert (vtest.width, vtest.height, vtest.fps) == (768, 576, 10.0)
    assert (counter.width, counter.height, counter.fps) == (320, 240, COUNTER_FPS)
    with ThreadPoolExecutor(2) as pool:  # two readers at once, one on each mount
        vtest_read = pool.submit(read_frames, vtest.url, 32)
        counter_read = pool.submit(read_frames, counter.url, 48)
        (vtest_images, vtest_times), (counter_images, counter_times) = (
            vtest_read.result(), counter_read.result()
        )  # fmt: skip
    assert {image.shape for image in vtest_images} == {(576, 768, 3)}
    assert {image.shape for image in counter_images} == {(240, 320, 3)}
    assert 6 <= measured_fps(vtest_times) <= 14
    assert 0.7 * COUNTER_FPS <= measured_fps(counter_times) <= 1.3 * COUNTER_FPS


def test_reading_goes_on_across_the_loop_wrap(emulator: Emulator) -> None:
    images, _ = read_frames(emulator.urls["counter"], int(COUNTER_FRAMES * 1.7))
    positions = [round((float(image.mean()) - 20) / GRAY_STEP) for image in images]
    steps = np.diff(positions)
    wraps = int(np.sum(steps < -COUNTER_FRAMES // 2))
    assert wraps >= 1, positions
    # Between wraps the clip only plays forward. A busy machine may repeat or skip a
    # frame or two (the encoder is real time), but never jumps or goes back.
    forward = steps[steps >= -COUNTER_FRAMES // 2]
    assert forward.min() >= 0 and forward.max() <= 4, positions
    assert np.mean(forward >= 1) > 0.6, positions


def test_a_killed_server_restarts_and_readers_get_frames_again(
    gstreamer: None, counter_clip: Path
) -> None:
    with Emulator([counter_clip], port=0) as emulator:
        url = emulator.urls["counter"]
        capture = open_capture(url, read_timeout_ms=2000)
        assert capture.read()[0]
        emulator.kill()
        assert not emulator.running and emulator.pid is None
        failed_at = time.monotonic() + 5
        while capture.read()[0]:  # frames already in flight may still arrive
            assert time.monotonic() < failed_at, "reads still succeed after the server died"
        capture.release()

        started = time.monotonic()
        emulator.restart()
        assert emulator.urls["counter"] == url  # same port: readers reconnect to the same URL
        capture = open_capture(url)
        ok, image = capture.read()
        recovered = time.monotonic() - started
        capture.release()
        assert ok and image.shape == (240, 320, 3)
        assert recovered < 5, f"first frame {recovered:.2f} s after restart"


def test_a_missing_clip_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such clip"):
        Emulator([tmp_path / "missing.mp4"]).start()


def test_an_unplayable_clip_is_a_source_error(gstreamer: None, tmp_path: Path) -> None:
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(b"not a video" * 100)
    with pytest.raises(SourceError, match=r"broken\.mp4: GStreamer cannot play"):
        Emulator([clip], port=0).start()


def test_a_port_in_use_is_a_source_error(gstreamer: None, counter_clip: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SourceError, match=re.escape(f"cannot listen on 127.0.0.1:{port}")):
            Emulator([counter_clip], port=port).start()


def test_mount_names_default_to_stems_and_must_be_usable() -> None:
    assert Emulator(["a/cam.mp4", "b/cam.mp4", "door.mp4"]).names == ["cam", "cam-2", "door"]
    assert Emulator(["cam.mp4", "x.mp4"], names=[None, "cam"]).names == ["cam-2", "cam"]
    assert Emulator(["cam.mp4"], port=0).urls == {"cam": "rtsp://127.0.0.1:0/cam"}
    with pytest.raises(ConfigError, match="use letters"):
        Emulator(["cam.mp4"], names=["a/b"])
    with pytest.raises(ConfigError, match="must differ"):
        Emulator(["a.mp4", "b.mp4"], names=["x", "x"])


def test_without_pygobject_the_error_names_what_to_install() -> None:
    code = (
        "import sys; sys.modules['gi'] = None\n"
        "from aistack.live.emulator import check_gstreamer\n"
        "check_gstreamer()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "SourceError" in result.stderr and "PyGObject<3.51" in result.stderr
    assert "gir1.2-gst-rtsp-server-1.0" in result.stderr


def test_the_server_ends_when_its_parent_dies(gstreamer: None, counter_clip: Path) -> None:
    code = (
        "import sys, time\n"
        "from aistack.live.emulator import Emulator\n"
        f"emulator = Emulator([{str(counter_clip)!r}], port=0).start()\n"
        "print(emulator.pid, flush=True)\n"
        "time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    parent.kill()  # no cleanup runs: the server must notice on its own
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(server_pid):
        assert time.monotonic() < deadline, "the server outlived its parent"
        time.sleep(0.05)


def test_emulate_command_prints_urls_serves_and_stops_on_sigterm(
    gstreamer: None, counter_clip: Path
) -> None:
    # Until `emulate` is wired into aistack.cli.main, run its parser and handler directly.
    code = (
        "import argparse, sys\n"
        "from aistack.cli.emulate import add_emulate_parser, run_emulate\n"
        "parser = argparse.ArgumentParser()\n"
        "add_emulate_parser(parser.add_subparsers())\n"
        "sys.exit(run_emulate(parser.parse_args(sys.argv[1:])))"
    )
    command = [sys.executable, "-c", code, "emulate", f"cam={counter_clip}", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("rtsp://127.0.0.1:") and url.endswith("/cam"), url
        images, _ = read_frames(url, 3)
        assert images[0].shape == (240, 320, 3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.communicate()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited, which is all that matters here.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
