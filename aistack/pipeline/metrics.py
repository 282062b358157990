"""Prometheus metrics of a running pipeline, on a registry of its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from aistack.errors import ConfigError
from aistack.live.view import listen_field

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)


class FrameAges(Collector):
    """`aistack_last_frame_age_seconds`, computed when Prometheus scrapes.

    A gauge set on every frame would freeze at its last value while a camera is down;
    the age of each camera's newest frame, taken at scrape time, grows instead, so an
    outage (or a stalled pipeline) shows, and alerts, while it lasts.
    """

    NAME = "aistack_last_frame_age_seconds"
    HELP = "Seconds since the capture of the camera's newest counted frame (or the run's start)"

    def __init__(self) -> None:
        self._newest: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, camera: str, timestamp: float) -> None:
        """A frame of `camera` captured at `timestamp` (wall-clock seconds) was counted."""
        with self._lock:
            if timestamp > self._newest.get(camera, float("-inf")):
                self._newest[camera] = timestamp

    def age(self, camera: str, now: float | None = None) -> float | None:
        with self._lock:
            newest = self._newest.get(camera)
        return None if newest is None else max(0.0, (now or time.time()) - newest)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self.NAME, self.HELP, labels=["camera"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = time.time()
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["camera"])
        with self._lock:
            newest = sorted(self._newest.items())
        for camera, timestamp in newest:
            family.add_metric([camera], max(0.0, now - timestamp))
        yield family


@dataclass
class PipelineMetrics:
    """Every metric aistack exports. Labels stay bounded: never a track id."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.frames = Counter("aistack_frames", "Frames processed", ["camera"], registry=r)
        self.frames_dropped = Counter(
            "aistack_frames_dropped",
            "Frames read but skipped to stay real time",
            ["camera"],
            registry=r,
        )
        self.decode_errors = Counter(
            "aistack_decode_errors", "Frames that failed to decode", ["camera"], registry=r
        )
        self.inference_seconds = Histogram(
            "aistack_inference_seconds",
            "Detector time per batch",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.end_to_end_latency = Histogram(
            "aistack_end_to_end_latency_seconds",
            "Capture to counted, per frame",
            ["camera"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.crossed = Counter(
            "aistack_objects_crossed",
            "Line crossings counted",
            ["camera", "line", "class", "direction"],
            registry=r,
        )
        self.zone_entries = Counter(
            "aistack_zone_entries", "Zone entries counted", ["camera", "zone", "class"], registry=r
        )
        self.zone_occupancy = Gauge(
            "aistack_zone_occupancy",
            "Objects inside a zone now",
            ["camera", "zone", "class"],
            registry=r,
        )
        self.falls = Counter(
            "aistack_pose_falls",
            "Falls seen (standing to lying fast, then lying)",
            ["camera"],
            registry=r,
        )
        self.posture_count = Gauge(
            "aistack_posture_count",
            "People seen now, by posture",
            ["camera", "posture"],
            registry=r,
        )
        self.camera_up = Gauge(
            "aistack_camera_up", "1 while the camera delivers frames", ["camera"], registry=r
        )
        self.last_frame_age = FrameAges()
        r.register(self.last_frame_age)
        self.reconnects = Counter(
            "aistack_reconnects",
            "Reconnect attempts after a stream failed",
            ["camera"],
            registry=r,
        )
        self.spool_pending = Gauge(
            "aistack_spool_pending",
            "Points a remote sink has spooled but not delivered yet",
            ["sink"],
            registry=r,
        )
        self.shard_index = Gauge(
            "aistack_shard_index",
            "This worker's shard (camera i goes to shard i mod count)",
            registry=r,
        )
        # Not `aistack_shard_count`: `_count` is a histogram's series, and promtool says so.
        self.shards = Gauge("aistack_shards", "Worker shards in all", registry=r)
        self.sink_errors = Counter(
            "aistack_sink_errors", "Failed writes per sink", ["sink"], registry=r
        )


class MetricsServer:
    """Serves /metrics of one registry over HTTP until stopped."""

    def __init__(self, metrics: PipelineMetrics, host: str, port: int) -> None:
        try:
            server, thread = start_http_server(port, addr=host, registry=metrics.registry)
        except (OSError, OverflowError) as error:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({getattr(error, 'strerror', None) or error}); "
                "pick another one or set metrics.enabled: false"
            ).at("metrics", listen_field(error)) from None
        self._server: WSGIServer = server
        self._thread: threading.Thread = thread
        self.port = int(server.server_port)
        self.url = f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
