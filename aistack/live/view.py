"""Serve each camera's newest annotated frame over HTTP: an index page, MJPEG streams, stills.

The pipeline thread only hands over a reference (`publish`, or the callback from
`observer`); drawing and JPEG encoding happen later, in the thread of the HTTP
client that asks, at most once per published frame. An unwatched view therefore
costs microseconds per frame (a lock, a reference, a copy of the counts), and a
slow client only slows its own thread.

The stdlib `ThreadingHTTPServer` is enough: three read-only routes, a handful of
viewers, and no extra dependency in the core install. An async framework would
buy nothing here but a second concurrency model next to the pipeline's threads.
"""

from __future__ import annotations

import contextlib
import errno
import html
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

import cv2
import numpy as np

from aistack.analytics.camera import FrameResult
from aistack.analytics.lines import LineTotals
from aistack.errors import ConfigError
from aistack.live.draw import FrameAnnotator
from aistack.types import Image

log = logging.getLogger("aistack.live_view")

BOUNDARY = b"frame"
WAIT_SLICE = 0.25  # seconds an idle stream sleeps before re-checking the stop event
SEND_TIMEOUT = 10.0  # a client that accepts no bytes for this long is dropped

Zone = tuple[str, Sequence[tuple[float, float]], int]


class CameraOverlay(Protocol):
    """What the observer reads to draw a camera's lines and zones; `CameraAnalytics` fits."""

    def line_totals(self) -> Sequence[LineTotals]: ...

    def zone_view(self) -> Sequence[Zone]: ...


def annotated_frames(
    deliver: Callable[[str, Callable[[], Image]], None],
    fps: float,
    cameras: Mapping[str, CameraOverlay] | None = None,
    annotator: FrameAnnotator | None = None,
) -> Callable[[FrameResult], None]:
    """A `Pipeline(on_result=...)` callback calling `deliver(camera, render)`, `fps` at most.

    `render()` draws the frame with its boxes and the counts of that moment. It is
    cheap to hand over and may be called later from another thread: the counts are
    copied now, in the pipeline's thread, and drawing waits until someone wants it.
    """
    # FrameAnnotator holds only drawing settings, so other threads may share one.
    draw = (annotator or FrameAnnotator()).draw
    interval = 1.0 / fps
    due: dict[str, float] = {}

    def observe(result: FrameResult) -> None:
        camera = result.frame.camera
        now = time.monotonic()
        next_due = due.get(camera, now)
        if now < next_due:
            return
        # Keep the cadence when frames arrive a little late, without bursting after a stall.
        due[camera] = next_due + interval if now - next_due < interval else now + interval
        overlay = cameras.get(camera) if cameras is not None else None
        lines = list(overlay.line_totals()) if overlay is not None else []
        zones = list(overlay.zone_view()) if overlay is not None else []
        image, detections, postures = result.frame.image, result.detections, result.postures
        deliver(camera, lambda: draw(image, detections, lines, zones, postures))

    return observe


class _Slot:
    """One camera's newest frame, and its JPEG, encoded at most once and only on demand."""

    def __init__(self, render: Callable[[], Image]) -> None:
        self.changed = threading.Condition()  # guards seq and render; streams wait on it
        self.seq = 1
        self.render = render
        # A separate lock for encoding, so publish() never waits for an encoder.
        self._encoding = threading.Lock()
        self._jpeg = b""
        self._jpeg_seq = 0
        self.encodes = 0

    def put(self, render: Callable[[], Image]) -> None:
        with self.changed:
            self.seq += 1
            self.render = render
            self.changed.notify_all()

    def wait_newer(self, seen: int, stop: threading.Event) -> bool:
        with self.changed:
            self.changed.wait_for(lambda: self.seq != seen or stop.is_set(), WAIT_SLICE)
            return self.seq != seen and not stop.is_set()

    def wake(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def jpeg(self, quality: int) -> tuple[int, bytes]:
        """(sequence number, JPEG) of the newest frame; clients asking together share one encode."""
        with self._encoding:
            with self.changed:
                seq, render = self.seq, self.render
            if seq != self._jpeg_seq:
                ok, encoded = cv2.imencode(".jpg", render(), [cv2.IMWRITE_JPEG_QUALITY, quality])
                if not ok:
                    raise RuntimeError("JPEG encoding failed")
                self._jpeg, self._jpeg_seq = encoded.tobytes(), seq
                self.encodes += 1
            return self._jpeg_seq, self._jpeg


def listen_field(error: BaseException) -> str:
    """Which setting a failed bind is about: the port (in use, privileged) or the host."""
    if isinstance(error, socket.gaierror) or getattr(error, "errno", None) == errno.EADDRNOTAVAIL:
        return "host"
    return "port"


class LiveView:
    """An HTTP server of live annotated frames: `/`, `/cameras/<name>.mjpg|.jpg`, `/healthz`.

    Binds at construction, so a port in use is a `ConfigError` at once; port 0
    picks a free one (see `.port`, `.url`). Serve with `start()`/`stop()` or `with`;
    a stopped view does not start again.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8090,
        fps: float = 10.0,
        jpeg_quality: int = 80,
        max_connections: int = 32,
    ) -> None:
        if fps <= 0:
            raise ConfigError(f"live_view: fps must be above 0, got {fps}")
        if not 1 <= jpeg_quality <= 100:
            raise ConfigError(f"live_view: jpeg_quality must be 1..100, got {jpeg_quality}")
        self.fps = fps
        self.jpeg_quality = jpeg_quality
        self._slots: dict[str, _Slot] = {}
        self._slots_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self._server = _Server((host, port), self, max_connections)
        except (OSError, OverflowError) as error:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({getattr(error, 'strerror', None) or error}); "
                "pick another one or set live_view.enabled: false"
            ).at("live_view", listen_field(error)) from None
        self.port = self._server.server_port
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.url = f"http://{shown}:{self.port}/"

    def publish(self, camera: str, image: Image) -> None:
        """Make `image` the camera's newest frame. It is kept by reference: do not write to it."""
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise ValueError(f"live view: expected a uint8 image, got {image.dtype} {image.shape}")
        self._put(camera, lambda: image)

    def observer(
        self,
        cameras: Mapping[str, CameraOverlay] | None = None,
        annotator: FrameAnnotator | None = None,
    ) -> Callable[[FrameResult], None]:
        """A `Pipeline(on_result=...)` callback that shows annotated frames, at most `fps` a camera.

        `cameras` maps a camera name to its live counters, usually `pipeline.cameras`;
        it is read in the pipeline's thread, so the counts drawn are those of the frame.
        """
        return annotated_frames(self._put, self.fps, cameras, annotator)

    def cameras(self) -> list[str]:
        """Names of the cameras that have shown at least one frame."""
        with self._slots_lock:
            return sorted(self._slots)

    def stream_url(self, camera: str) -> str:
        return f"{self.url}cameras/{quote(camera)}.mjpg"

    def still_url(self, camera: str) -> str:
        return f"{self.url}cameras/{quote(camera)}.jpg"

    @property
    def frames_encoded(self) -> int:
        """JPEG encodes so far, all cameras; stays 0 while nobody watches."""
        with self._slots_lock:
            return sum(slot.encodes for slot in self._slots.values())

    def html(self) -> str:
        """The camera grid with absolute URLs, for a Grafana text panel or IPython.display.HTML."""
        return self._grid(self.url)

    def _repr_html_(self) -> str:
        return self.html()

    def start(self) -> LiveView:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="live-view"
            )
            self._thread.start()
            log.info("live view at %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, cut open streams and join every thread; safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        with self._slots_lock:
            slots = list(self._slots.values())
        for slot in slots:
            slot.wake()
        if self._thread is not None:
            self._server.shutdown()  # waits for serve_forever to return: only if it runs
        self._server.disconnect_all()  # unblocks handlers stuck writing to slow clients
        self._server.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> LiveView:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _put(self, camera: str, render: Callable[[], Image]) -> None:
        slot = self._slots.get(camera)
        if slot is not None:
            slot.put(render)
            return
        with self._slots_lock:
            if camera in self._slots:
                self._slots[camera].put(render)
            else:
                self._slots[camera] = _Slot(render)

    def _slot(self, camera: str) -> _Slot | None:
        return self._slots.get(camera)

    def _grid(self, base: str) -> str:
        names = self.cameras()
        style = "background:#111;color:#ddd;font:14px system-ui,sans-serif;padding:12px"
        if not names:
            return f'<div style="{style}">aistack live view: waiting for the first frame…</div>'
        figures = "".join(
            '<figure style="margin:0;flex:1 1 480px;max-width:100%">'
            f'<figcaption style="margin:0 0 6px;font-weight:600">{html.escape(name)}</figcaption>'
            f'<img src="{html.escape(base)}cameras/{quote(name)}.mjpg" alt="{html.escape(name)}"'
            ' style="display:block;width:100%;border-radius:4px;background:#000"></figure>'
            for name in names
        )
        return f'<div style="{style};display:flex;flex-wrap:wrap;gap:12px">{figures}</div>'

    def _index(self) -> bytes:
        # Relative URLs, so the page works behind any host name or proxy; until a camera
        # shows up the page reloads itself.
        refresh = "" if self.cameras() else '<meta http-equiv="refresh" content="2">'
        return (
            '<!doctype html><html><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>aistack live view</title>{refresh}</head>"
            f'<body style="margin:0;background:#111">{self._grid("")}</body></html>'
        ).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = SEND_TIMEOUT
    server_version = "aistack-live-view"

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        view = self.server.view
        if path in ("/", "/index.html"):
            self._reply(HTTPStatus.OK, "text/html; charset=utf-8", view._index())
        elif path == "/healthz":
            self._reply(HTTPStatus.OK, "text/plain; charset=utf-8", b"ok\n")
        elif path.startswith("/cameras/") and path.endswith((".jpg", ".mjpg")):
            camera, _, kind = path.removeprefix("/cameras/").rpartition(".")
            slot = view._slot(camera)
            if slot is None:
                text = f"no frame from camera {camera!r} yet (cameras: {view.cameras()})\n"
                self._reply(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", text.encode())
            elif kind == "jpg":
                _, jpeg = slot.jpeg(view.jpeg_quality)
                self._reply(HTTPStatus.OK, "image/jpeg", jpeg)
            else:
                self._stream(slot, view)
        else:
            self._reply(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")

    def _reply(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, slot: _Slot, view: LiveView) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        stop, interval = view._stop, 1.0 / view.fps
        seen, next_at = 0, 0.0
        try:
            self.wfile.write(b"--" + BOUNDARY + b"\r\n")
            while not stop.is_set():
                if not slot.wait_newer(seen, stop):
                    continue
                if stop.wait(max(0.0, next_at - time.monotonic())):
                    break
                next_at = time.monotonic() + interval
                # The newest frame when we get here: those published meanwhile are skipped.
                seen, jpeg = slot.jpeg(view.jpeg_quality)
                head = b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                # The closing boundary goes out with the frame: browsers show a part
                # only once the next boundary arrives.
                self.wfile.write(head + jpeg + b"\r\n--" + BOUNDARY + b"\r\n")
        except OSError:
            pass  # the client left, or stop() cut the connection

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    # Handler threads are not daemons: server_close() joins them (block_on_close).
    daemon_threads = False

    def __init__(self, address: tuple[str, int], view: LiveView, max_connections: int) -> None:
        self.view = view
        self.max_connections = max_connections
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on a broken DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Bounded: one thread per connection, and no more than max_connections of them.
        with self._open_lock:
            full = len(self._open) >= self.max_connections
            if not full:
                self._open.add(request)
        if full:
            log.warning("live view: %d connections open; refusing another", self.max_connections)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def disconnect_all(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.warning("live view: request from %s failed", client_address, exc_info=True)
