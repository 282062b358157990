"""Read frames from a video file, an RTSP/HTTP stream or a webcam with OpenCV."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import cv2

from aistack.config import SourceConfig
from aistack.errors import SourceError
from aistack.redact import redact_url
from aistack.sources.probe import explain_stream_failure
from aistack.types import Frame, Image

# FFmpeg and OpenCV print their own warnings for every bad input; aistack reports
# one clear error instead. Users can raise these levels through the same variables.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

# Fast RTSP open (about 3 s → 0.1 s) over TCP; users may override the variable.
_FFMPEG_OPTIONS = "rtsp_transport;tcp|analyzeduration;0|probesize;32"
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000
SMALL_CPU_CORES = 4  # up to this many cores, files are decoded on one thread


def _file_decode_params() -> list[int]:
    """One FFmpeg decoding thread for files on a small CPU, FFmpeg's own choice otherwise.

    A reader thread already decodes files ahead of the model; on a few cores the model
    needs every one, and FFmpeg's frame threads only add hand-over work (vtest.mp4 on
    2 cores: 0.85 ms of CPU a frame with one thread, 0.97-1.11 ms with FFmpeg's two).
    """
    if (os.cpu_count() or 1) > SMALL_CPU_CORES:
        return []
    return [cv2.CAP_PROP_N_THREADS, 1]


class VideoSource:
    """One camera's frames. Files give video-time timestamps; live sources give wall time.

    `pace="native"` sleeps so a file plays at its own fps, as a live camera would.
    """

    def __init__(self, config: SourceConfig, camera: str = "camera", pace: str = "unpaced") -> None:
        self.config = config
        self.camera = camera
        self.kind = config.kind
        self.pace = config.pace or pace
        self.name = redact_url(config.uri)
        self._capture = self._open()
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.5 < fps < 1000 else 25.0
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count: int | None = count if self.kind == "file" and count > 0 else None
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.start_time = time.time()

    def _open(self) -> cv2.VideoCapture:
        uri = self.config.uri
        if self.kind == "file":
            path = Path(uri).expanduser()
            if not path.exists():
                raise SourceError(f"{uri}: no such video file")
            if not path.is_file():
                raise SourceError(f"{uri}: not a file")
            capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, _file_decode_params())
            what = f"{uri}: cannot read this video (corrupt file or unsupported format)"
        elif self.kind == "webcam":
            with _opencv_silent():  # its backends log every device they probe
                capture = cv2.VideoCapture(int(uri))
            what = f"webcam {uri}: cannot open it (no such device, or it is busy)"
        else:
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", _FFMPEG_OPTIONS)
            self._opening = time.monotonic()
            capture = cv2.VideoCapture(
                uri,
                cv2.CAP_FFMPEG,
                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS,
                 cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS],
            )  # fmt: skip
            what = (
                f"{self.name}: cannot connect to the stream within {OPEN_TIMEOUT_MS / 1000:.0f} s "
                "(check the host, port, path and credentials)"
            )
        if not capture.isOpened():
            capture.release()
            raise SourceError(self._explained(what))
        with _opencv_silent():
            ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            if self.kind == "file":
                raise SourceError(f"{uri}: no decodable frames")
            raise SourceError(self._explained(what))
        self._first = first
        return capture

    def _explained(self, what: str) -> str:
        """For a stream, what the network says went wrong, rather than OpenCV's silence.

        Only when OpenCV gave up early: a server that answered (refused, 404, 401, a name
        that does not resolve) says why at once, while one that never answers timed out,
        which the message already says, and asking again would only delay a reconnect.
        """
        if self.kind not in ("rtsp", "http"):
            return what
        if time.monotonic() - self._opening > 0.8 * OPEN_TIMEOUT_MS / 1000:
            return what
        reason = explain_stream_failure(self.config.uri, timeout=2.0)
        return what if reason is None else f"{self.name}: cannot open the stream: {reason}"

    def frames(self) -> Iterator[Frame]:
        """Yield frames until the source ends (files) or fails to deliver (streams)."""
        index = 0
        image = self._first
        started = time.monotonic()
        paced = self.kind == "file" and self.pace == "native"
        # A paced file plays like a camera from the moment reading starts.
        origin = time.time() if paced else self.start_time
        read_seconds = 0.005  # running estimate of one read, to start it just in time
        while image is not None:
            if self.kind == "file":
                if paced:
                    delay = started + index / self.fps - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                timestamp = origin + index / self.fps
            else:
                timestamp = time.time()
            yield Frame(self.camera, index, timestamp, cast(Image, image))
            index += 1
            if paced:
                # A camera delivers each frame when it is captured. Decoding the next one
                # right away would compete with this one's detection, which no camera does,
                # so the read starts just before the next frame is due.
                early = started + index / self.fps - time.monotonic() - 2 * read_seconds
                if early > 0:
                    time.sleep(early)
            began = time.monotonic()
            ok, image = self._capture.read()
            read_seconds = 0.8 * read_seconds + 0.2 * (time.monotonic() - began)
            if not ok:
                if self.kind == "file" and self.config.loop:
                    self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    ok, image = self._capture.read()
                image = image if ok else None  # type: ignore[assignment]

    def close(self) -> None:
        self._capture.release()


@contextlib.contextmanager
def _opencv_silent() -> Iterator[None]:
    previous = cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def open_source(config: SourceConfig, camera: str = "camera", pace: str = "unpaced") -> VideoSource:
    return VideoSource(config, camera, pace)


def first_frame(path: Path | str) -> Image:
    """A video file's first picture, e.g. to warm a model up before timing it."""
    capture = cv2.VideoCapture(str(path))
    try:
        ok, image = capture.read()
    finally:
        capture.release()
    if not ok or image is None:
        raise SourceError(f"{path}: not a readable video file (no first frame)")
    return cast(Image, image)
