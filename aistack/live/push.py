"""Push each camera's annotated video to an RTSP server (RECORD), for VLC, NVRs or Frigate.

FFmpeg does the encoding and the RTSP session: a child process per camera reads
raw BGR frames on stdin (`libx264 -tune zerolatency`; without it frames arrive
seconds late). As in the MJPEG view the pipeline thread only hands over a
reference; drawing and writing happen in the camera's own thread, so a slow or
dead server never holds up counting. A push that fails is started again with
backoff, and its URL is redacted in every log line.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping

from aistack.analytics.camera import FrameResult
from aistack.errors import ConfigError
from aistack.live.draw import FrameAnnotator
from aistack.live.view import CameraOverlay, annotated_frames
from aistack.redact import redact_url
from aistack.sources.feeds import Backoff
from aistack.types import Image

log = logging.getLogger("aistack.rtsp_push")

_SETTLED = 10.0  # seconds a push must last to count as working


class _Push(threading.Thread):
    """One camera's FFmpeg child, fed the newest annotated frame at the push rate."""

    def __init__(self, url: str, fps: float, stop: threading.Event) -> None:
        super().__init__(name=f"aistack-push-{redact_url(url)}", daemon=True)
        self.url = url
        self.fps = fps
        self._stopping = stop
        self._ready = threading.Condition()
        self._render: Callable[[], Image] | None = None
        self.frames_sent = 0

    def offer(self, render: Callable[[], Image]) -> None:
        with self._ready:
            self._render = render
            self._ready.notify()

    def wake(self) -> None:
        with self._ready:
            self._ready.notify_all()

    def run(self) -> None:
        backoff = Backoff(0.5, cap=10.0)
        failures = 0
        started = 0.0
        process: subprocess.Popen[bytes] | None = None
        size: tuple[int, int] | None = None
        try:
            while not self._stopping.is_set():
                image = self._next()
                if image is None:
                    continue
                shape = (image.shape[1], image.shape[0])
                if process is not None and (process.poll() is not None or shape != size):
                    self._end(process)
                    process = None
                if process is None:
                    process, size, started = self._start(shape), shape, time.monotonic()
                try:
                    assert process.stdin is not None
                    process.stdin.write(image.tobytes())
                    process.stdin.flush()
                    self.frames_sent += 1
                except (BrokenPipeError, OSError):
                    # FFmpeg reads a frame before it connects: only a push that lasted
                    # counts as having worked, and starts the backoff over.
                    failures = 0 if time.monotonic() - started > _SETTLED else failures + 1
                    wait = backoff.delay(failures)
                    log.warning(
                        "push to %s stopped (server down?); retrying in %.1f s",
                        redact_url(self.url), wait,
                    )  # fmt: skip
                    self._end(process)
                    process = None
                    self._stopping.wait(wait)
        finally:
            if process is not None:
                self._end(process)

    def _next(self) -> Image | None:
        with self._ready:
            while self._render is None and not self._stopping.is_set():
                self._ready.wait(0.5)
            render, self._render = self._render, None
        return None if render is None else render()

    def _start(self, size: tuple[int, int]) -> subprocess.Popen[bytes]:
        width, height = size
        command = [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
            "-use_wallclock_as_timestamps", "1", "-i", "pipe:0",
            "-an", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-pix_fmt", "yuv420p", "-g", str(max(1, round(self.fps))),
            "-f", "rtsp", "-rtsp_transport", "tcp", self.url,
        ]  # fmt: skip
        # FFmpeg's own messages would print the URL with its password: keep them out.
        return subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    @staticmethod
    def _end(process: subprocess.Popen[bytes]) -> None:
        try:
            if process.stdin is not None:
                process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RtspPublisher:
    """Annotated frames pushed to `url_template` ("{camera}" is replaced), at most `fps` each.

    Use `observer(pipeline.cameras)` as (part of) the pipeline's `on_result`; stop
    with `close()` or `with`. Needs the `ffmpeg` program.
    """

    def __init__(self, url_template: str, fps: float = 10.0) -> None:
        if shutil.which("ffmpeg") is None:
            raise ConfigError(
                "live_view.push_url: pushing RTSP needs the ffmpeg program "
                "(apt-get install ffmpeg), or leave push_url unset"
            )
        if not url_template.startswith(("rtsp://", "rtsps://")):
            raise ConfigError(
                f"live_view.push_url: {redact_url(url_template)!r} is not an rtsp:// URL"
            )
        if fps <= 0:
            raise ConfigError(f"live_view: fps must be above 0, got {fps}")
        self.url_template = url_template
        self.fps = fps
        self._stop = threading.Event()
        self._pushes: dict[str, _Push] = {}

    def url(self, camera: str) -> str:
        return self.url_template.replace("{camera}", camera)

    @property
    def frames_sent(self) -> dict[str, int]:
        return {camera: push.frames_sent for camera, push in self._pushes.items()}

    def observer(
        self,
        cameras: Mapping[str, CameraOverlay] | None = None,
        annotator: FrameAnnotator | None = None,
    ) -> Callable[[FrameResult], None]:
        """A `Pipeline(on_result=...)` callback that pushes annotated frames of every camera."""
        return annotated_frames(
            lambda camera, render: self._push(camera).offer(render), self.fps, cameras, annotator
        )

    def close(self) -> None:
        self._stop.set()
        for push in self._pushes.values():
            push.wake()
            push.join(timeout=5)

    def __enter__(self) -> RtspPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _push(self, camera: str) -> _Push:
        push = self._pushes.get(camera)
        if push is None:
            push = self._pushes[camera] = _Push(self.url(camera), self.fps, self._stop)
            push.start()
        return push
