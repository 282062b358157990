"""The live view over real HTTP: stills, MJPEG streams, lazy encoding, shutdown, a real browser."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pytest

from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.errors import ConfigError, one_line
from aistack.live.draw import LINE_COLOUR, ZONE_COLOUR
from aistack.live.view import LiveView
from aistack.pipeline.wiring import Pipeline
from aistack.types import Image

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def frames() -> list[Image]:
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    images: list[Image] = []
    while len(images) < 60:
        ok, image = capture.read()
        assert ok, f"cannot read {DEMO_CLIP}"
        images.append(cast(Image, image))
    capture.release()
    return images


@pytest.fixture
def view() -> Iterator[LiveView]:
    with LiveView(port=0, fps=10.0) as live:
        yield live


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.headers["Content-Type"], error.read()


def _decode(jpeg: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return cast(Image, image)


def _open_stream(view: LiveView, camera: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", view.port, timeout=5)
    connection.request("GET", f"/cameras/{camera}.mjpg")
    response = connection.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
    return response


def _parts(response: http.client.HTTPResponse) -> Iterator[bytes]:
    """The JPEG bodies of a multipart/x-mixed-replace stream, as they arrive."""
    while True:
        line = response.readline()
        if not line:
            return
        if line.strip() != b"--frame":
            continue
        length = None
        while (header := response.readline().strip()) != b"":
            name, _, value = header.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if length is None:
            return  # the stream ended after a boundary
        yield response.read(length)


def _publish_for(view: LiveView, frames: list[Image], seconds: float) -> threading.Thread:
    def publish() -> None:
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            view.publish("vtest", frames[i % len(frames)])
            i += 1
            time.sleep(1 / 30)  # a 30 fps camera, faster than the view's 10 fps

    thread = threading.Thread(target=publish)
    thread.start()
    return thread


def test_still_is_the_newest_frame_as_a_jpeg(view: LiveView, frames: list[Image]) -> None:
    view.publish("vtest", frames[0])
    view.publish("vtest", frames[30])
    status, content_type, body = _get(view.still_url("vtest"))
    assert (status, content_type) == (200, "image/jpeg")
    image = _decode(body)
    assert image.shape == frames[30].shape
    diff = np.abs(image.astype(np.int16) - frames[30].astype(np.int16)).mean()
    assert diff < 4 < np.abs(image.astype(np.int16) - frames[0].astype(np.int16)).mean()


def test_unknown_or_not_yet_seen_cameras_are_404_with_a_reason(
    view: LiveView, frames: list[Image]
) -> None:
    status, content_type, body = _get(view.still_url("vtest"))
    assert (status, content_type) == (404, "text/plain; charset=utf-8")
    assert b"no frame from camera 'vtest' yet" in body
    view.publish("vtest", frames[0])
    assert _get(view.stream_url("nope"))[0] == 404
    assert _get(view.url + "nothing-here")[0] == 404
    assert _get(view.url + "healthz")[:2] == (200, "text/plain; charset=utf-8")


def test_index_lists_each_camera_with_its_stream(view: LiveView, frames: list[Image]) -> None:
    status, _, body = _get(view.url)
    assert status == 200 and b"waiting for the first frame" in body
    view.publish("gate-1", frames[0])
    view.publish("vtest", frames[0])
    _, content_type, body = _get(view.url)
    assert content_type == "text/html; charset=utf-8"
    assert b'src="cameras/gate-1.mjpg"' in body and b'src="cameras/vtest.mjpg"' in body
    assert f'src="{view.url}cameras/vtest.mjpg"' in view.html()  # absolute, for embedding


def test_an_unwatched_view_never_encodes_and_a_frame_is_encoded_once(
    view: LiveView, frames: list[Image]
) -> None:
    for image in frames:
        view.publish("vtest", image)
    assert view.frames_encoded == 0
    first = _get(view.still_url("vtest"))[2]
    assert _get(view.still_url("vtest"))[2] == first
    assert view.frames_encoded == 1  # the second request reused the first encode
    view.publish("vtest", frames[0])
    _get(view.still_url("vtest"))
    assert view.frames_encoded == 2


def test_stream_pushes_distinct_frames_at_most_fps(view: LiveView, frames: list[Image]) -> None:
    view.publish("vtest", frames[0])
    publisher = _publish_for(view, frames, 1.6)
    response = _open_stream(view, "vtest")
    digests = []
    started = time.monotonic()
    for part in _parts(response):
        digests.append(hashlib.sha1(part).hexdigest())
        assert _decode(part).shape == frames[0].shape
        if time.monotonic() - started >= 1.0:
            break
    elapsed = time.monotonic() - started
    response.close()
    publisher.join()
    assert len(set(digests)) >= 3
    assert len(digests) <= view.fps * elapsed + 2  # 30 fps published, 10 fps streamed


def test_two_clients_both_get_frames(view: LiveView, frames: list[Image]) -> None:
    view.publish("vtest", frames[0])
    publisher = _publish_for(view, frames, 1.5)
    received = [0, 0]

    def watch(index: int) -> None:
        response = _open_stream(view, "vtest")
        for _ in _parts(response):
            received[index] += 1
            if received[index] == 4:
                break
        response.close()

    watchers = [threading.Thread(target=watch, args=(i,)) for i in range(2)]
    for watcher in watchers:
        watcher.start()
    for watcher in watchers:
        watcher.join(timeout=10)
    publisher.join()
    assert received == [4, 4]


def test_stop_returns_promptly_with_clients_connected(frames: list[Image]) -> None:
    view = LiveView(port=0).start()
    view.publish("vtest", frames[0])
    streams = [_open_stream(view, "vtest") for _ in range(2)]
    for stream in streams:
        next(_parts(stream))  # connected and served; now idle, waiting for a new frame
    started = time.monotonic()
    view.stop()
    assert time.monotonic() - started < 1.5
    for stream in streams:
        assert list(_parts(stream)) == []  # the server ended the stream
    assert not any(t.name == "live-view" for t in threading.enumerate())
    with pytest.raises(OSError):
        _get(view.url + "healthz")


def test_port_in_use_is_a_config_error_naming_host_and_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(
            ConfigError, match=re.escape(f"cannot listen on 127.0.0.1:{port} ")
        ) as caught:
            LiveView(port=port)
        assert one_line(caught.value).startswith("live_view.port: cannot listen")


def test_a_real_pipeline_in_a_real_browser() -> None:
    """Chromium shows the annotated stream of a running pipeline: boxes, ids, line, zone."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
            pytest.fail("playwright not installed: pip install playwright", pytrace=False)
        pytest.skip("playwright not installed: pip install playwright (uses /usr/bin/chromium)")
    chromium = "/usr/bin/chromium"
    if not os.path.exists(chromium):
        if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
            pytest.fail("chromium not installed: apt-get install chromium", pytrace=False)
        pytest.skip("chromium not installed: apt-get install chromium")
    config = AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": "vtest",
                    "source": {"uri": str(DEMO_CLIP)},
                    "lines": [{"name": "walkway", "points": [0.62, 0.8, 0.62, 0.3]}],
                    "zones": [
                        {"name": "plaza", "polygon": [[0, 0.3], [0.5, 0.3], [0.5, 0.7], [0, 0.7]]}
                    ],
                }
            ],
            "detector": {"classes": ["people"]},
        }
    )
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "live_view.png"
    with LiveView(port=0, fps=10.0) as view:
        pipeline = Pipeline(config, pace="unpaced", max_frames=200)
        pipeline.on_result = view.observer(pipeline.cameras)
        summaries = []
        runner = threading.Thread(target=lambda: summaries.append(pipeline.run()))
        runner.start()
        try:
            deadline = time.monotonic() + 60
            while "vtest" not in view.cameras() and time.monotonic() < deadline:
                time.sleep(0.05)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page(viewport={"width": 900, "height": 700})
                page.goto(view.url)
                loaded = "document.querySelector('img')?.naturalWidth > 0"
                page.wait_for_function(loaded, timeout=20_000)
                runner.join(timeout=120)  # the stream keeps showing the last frame after the run
                time.sleep(0.5)
                size = page.evaluate(
                    "[document.querySelector('img').naturalWidth, "
                    "document.querySelector('img').naturalHeight]"
                )
                page.screenshot(path=str(screenshot), full_page=True)
                browser.close()
        finally:
            pipeline.stop()
            runner.join(timeout=30)
    assert size == [768, 576]
    (line,) = summaries[0].cameras[0].lines
    assert line.total_in + line.total_out > 0  # so the drawn counts are not all zero
    shot = cv2.imread(str(screenshot))
    assert shot is not None and shot.std() > 30

    def pixels_near(colour: tuple[int, int, int]) -> int:
        distance = np.abs(shot.astype(np.int16) - np.array(colour, np.int16)).sum(axis=2)
        return int((distance < 60).sum())

    assert pixels_near(LINE_COLOUR) > 500  # the counting line and its label
    assert pixels_near(ZONE_COLOUR) > 500  # the zone's outline and label


def test_a_client_that_stops_reading_blocks_neither_publish_nor_others_nor_stop() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), np.uint8)
    big = [np.roll(noise, i * 7, axis=1) for i in range(4)]  # ~2 MB JPEGs fill socket buffers
    view = LiveView(port=0, fps=20.0).start()
    view.publish("vtest", big[0])
    stuck = socket.create_connection(("127.0.0.1", view.port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(b"GET /cameras/vtest.mjpg HTTP/1.0\r\n\r\n")  # and never reads
    slowest = 0.0
    end = time.monotonic() + 1.5
    i = 0
    while time.monotonic() < end:
        started = time.perf_counter()
        view.publish("vtest", big[i % len(big)])
        slowest = max(slowest, time.perf_counter() - started)
        i += 1
        time.sleep(0.02)
    watcher = _open_stream(view, "vtest")
    assert _decode(next(_parts(watcher))).shape == (1080, 1920, 3)
    started = time.monotonic()
    view.stop()
    assert time.monotonic() - started < 1.5
    assert slowest < 0.01
    stuck.close()
    watcher.close()
