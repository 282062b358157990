"""Where results go (store, InfluxDB, metrics, snapshots, live view) and how frames flow."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from aistack.config.base import Port, Strict, check_url, default_data_dir


class StoreConfig(Strict):
    type: Literal["sqlite"] = "sqlite"
    path: Path = Field(default_factory=lambda: default_data_dir() / "aistack.sqlite")
    interval_seconds: float = Field(default=60.0, gt=0)


class InfluxConfig(Strict):
    """InfluxDB sink: events go to a disk spool first, then to the server (no loss on outages).

    The token comes from `token`, or else from $AISTACK_INFLUX_TOKEN / $INFLUX_TOKEN; keep it
    out of config files in the repo.
    """

    enabled: bool = False
    url: str = "http://127.0.0.1:8086"
    api: Literal["v1", "v2"] = Field(
        default="v1", description="v1: /write (InfluxDB 1.x); v2: influxdb-client (2.x, 3.x)"
    )
    database: str = "aistack"
    bucket: str | None = None
    org: str = ""
    token: str | None = None
    spool_path: Path = Field(default_factory=lambda: default_data_dir() / "influx-spool.sqlite")
    max_spool_points: int = Field(default=1_000_000, ge=1000)
    batch_size: int = Field(default=5000, ge=1)
    flush_interval: float = Field(default=1.0, gt=0)
    timeout: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _valid_url(cls, url: str) -> str:
        check_url(url, ("http", "https"))
        return url


class MetricsConfig(Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 9108


class PipelineSettings(Strict):
    """How frames flow from cameras to the detector."""

    batch_size: int = Field(default=4, ge=1, le=64, description="frames per detector call")
    max_wait_ms: float = Field(
        default=5.0, ge=0, description="how long a batch waits for more cameras' frames"
    )
    buffer_size: int = Field(default=1, ge=1, description="newest frames kept per live camera")
    lanes: int | None = Field(
        default=None, ge=1, le=16,
        description="model calls run side by side (onnx backend); unset: on CPU, one "
        "single-thread lane per core, plus one for live cameras (at most 4), or one lane "
        "for a lone live camera",
    )  # fmt: skip
    max_frame_age: float = Field(
        default=1.0, gt=0, description="seconds after which an unprocessed live frame is dropped"
    )
    reconnect_initial_seconds: float = Field(
        default=0.25, gt=0, description="first wait before reconnecting a failed stream"
    )
    reconnect_max_seconds: float = Field(
        default=5.0, gt=0, description="cap of the exponential backoff between reconnects"
    )


class SnapshotConfig(Strict):
    """A JPEG per counted event, linked from the event's row in the store."""

    enabled: bool = False
    directory: Path = Field(default_factory=lambda: default_data_dir() / "snapshots")
    kind: Literal["crop", "frame"] = "crop"
    quality: int = Field(default=85, ge=10, le=100)


class LiveViewConfig(Strict):
    """Annotated MJPEG streams per camera, for a browser, a Grafana text panel or a notebook."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 8090
    fps: float = Field(default=10.0, gt=0, le=30)
    jpeg_quality: int = Field(default=80, ge=10, le=100)
    push_url: str | None = Field(
        default=None,
        description="also push each camera's annotated video to this RTSP URL (RECORD); "
        "'{camera}' in it is replaced by the camera's name. Needs ffmpeg.",
    )

    @field_validator("push_url")
    @classmethod
    def _valid_push_url(cls, url: str | None) -> str | None:
        if url is not None:
            check_url(url.replace("{camera}", "camera"), ("rtsp", "rtsps"))
        return url
