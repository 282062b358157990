"""Pydantic models of an aistack configuration, loaded strictly from YAML."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from aistack.classes import resolve_classes
from aistack.errors import ConfigError

Anchor = Literal[
    "bottom_center", "center", "top_center", "center_left", "center_right",
    "bottom_left", "bottom_right", "top_left", "top_right", "keypoints",
]  # fmt: skip

CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https")
COUNTER_NAME_RULE = "any text without '=' or control characters, e.g. door, café, 门口, my door"


def _port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError(f"a port is a number from 1 to 65535, got {port}")
    return port


Port = Annotated[int, AfterValidator(_port)]


def default_data_dir() -> Path:
    """Where stores live unless configured: $AISTACK_HOME, else the XDG data dir."""
    if home := os.environ.get("AISTACK_HOME"):
        return Path(home)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "aistack"


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    # NaN and infinity are never meant: YAML's .inf, 1e400 and nan are errors.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SourceConfig(Strict):
    """Where frames come from. `uri` is a file path, an rtsp/http(s) URL or a webcam index."""

    uri: str
    type: Literal["file", "rtsp", "http", "webcam"] | None = None
    pace: Literal["native", "unpaced"] | None = Field(
        default=None,
        description="Files only: 'native' plays at the clip's fps like a camera; "
        "'unpaced' reads as fast as possible. Default: unpaced for `count`, native for `run`.",
    )
    loop: bool = False

    @field_validator("uri")
    @classmethod
    def _valid_uri(cls, uri: str) -> str:
        if not uri.strip():
            raise ValueError(
                "empty: give a video file, an rtsp:// or http(s):// URL, or a webcam index"
            )
        check_stream_url(uri)
        return uri

    @property
    def kind(self) -> Literal["file", "rtsp", "http", "webcam"]:
        if self.type is not None:
            return self.type
        return source_kind(self.uri)


def check_stream_url(uri: str) -> None:
    """Refuse a URL aistack cannot open: another scheme, no host, a port that is no port.

    Paths and webcam indexes pass; the messages never repeat the URL (it may hold a
    password).
    """
    if "://" in uri:
        check_url(uri, STREAM_SCHEMES, "a video file path or a webcam index")


def check_url(uri: str, schemes: tuple[str, ...], otherwise: str = "") -> None:
    """Refuse a URL with a scheme not in `schemes`, no host, or a port that is no port."""
    scheme, sep, _ = uri.partition("://")
    if not sep or scheme.lower() not in schemes:
        supported = ", ".join(f"{s}://" for s in schemes) + (f", {otherwise}" if otherwise else "")
        given = f"unsupported scheme '{scheme}://'" if sep else "not a URL"
        raise ValueError(f"{given}; supported: {supported}")
    netloc = urlsplit(uri).netloc
    hostport = netloc.rpartition("@")[2]
    host, colon, port = hostport.rpartition(":") if not hostport.endswith("]") else ("", "", "")
    if not colon:
        host, port = hostport, ""
    if not host or host == "[]":
        raise ValueError(f"malformed URL: no host after '{scheme}://'")
    if colon and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"malformed URL: bad port {port!r} (a port is a number from 1 to 65535)")


def source_kind(uri: str) -> Literal["file", "rtsp", "http", "webcam"]:
    lowered = uri.lower()
    if lowered.startswith(("rtsp://", "rtsps://", "rtmp://")):
        return "rtsp"
    if lowered.startswith(("http://", "https://")):
        return "http"
    if uri.isdigit():
        return "webcam"
    return "file"


Coordinate = Annotated[float, Field(ge=0)]


def _counter_name(name: str) -> str:
    if not name.strip() or "=" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"bad name {name!r}: a line or zone name is {COUNTER_NAME_RULE}")
    return name


CounterName = Annotated[str, AfterValidator(_counter_name)]


class LineConfig(Strict):
    """A counting line from P1 to P2, in pixels, or in fractions of width/height when all <= 1."""

    name: CounterName
    points: tuple[Coordinate, Coordinate, Coordinate, Coordinate]

    @model_validator(mode="after")
    def _not_degenerate(self) -> LineConfig:
        x1, y1, x2, y2 = self.points
        if (x1, y1) == (x2, y2):
            raise ValueError("a line needs two different points")
        return self


def parse_line(text: str, index: int) -> dict[str, Any]:
    """`[NAME=]X1,Y1,X2,Y2` in pixels, or in fractions of width/height when all are <= 1.

    NAME is any text without '=' (the name rule of YAML configs); it is checked with the
    config, so both say the same.
    """
    name, _, coords = text.strip().rpartition("=")
    parts = coords.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 4 and not all(math.isfinite(v) for v in values):
        bad = next(p.strip() for p, v in zip(parts, values, strict=True) if not math.isfinite(v))
        raise ConfigError(f"--line {text!r}: {bad} is not a finite number; every value must be")
    if len(values) != 4 or any(v < 0 for v in values):
        raise ConfigError(
            f"--line {text!r}: expected [NAME=]X1,Y1,X2,Y2 with four non-negative numbers "
            "(pixels, or fractions of width and height when all are 0-1); NAME is "
            + COUNTER_NAME_RULE
        )
    return {"name": name.strip() or f"line{index + 1}", "points": values}


class ZoneConfig(Strict):
    """A polygon whose occupancy is counted per class; same units rule as lines."""

    name: CounterName
    polygon: list[tuple[Coordinate, Coordinate]] = Field(min_length=3)


class CameraConfig(Strict):
    name: str = "camera"
    source: SourceConfig
    lines: list[LineConfig] = []
    zones: list[ZoneConfig] = []
    classes: list[str] | None = Field(
        default=None, description="Classes counted on this camera; default: the detector's."
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not CAMERA_NAME.match(name):
            raise ValueError("camera names use letters, digits, '_', '-' and '.' only")
        return name

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, classes: list[str] | None) -> list[str] | None:
        return None if classes is None else resolve_classes(classes)

    @model_validator(mode="after")
    def _unique_counter_names(self) -> CameraConfig:
        names = [line.name for line in self.lines] + [zone.name for zone in self.zones]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"line and zone names must be unique, repeated: {duplicates}")
        return self


class DetectorConfig(Strict):
    type: Literal["onnx", "ultralytics", "movenet"] = "onnx"
    model: str = Field(
        default="nanodet",
        description="'nanodet' or 'centernet' (bundled, offline; the preset picks one when "
        "unset) or a path to an .onnx file for `onnx`; "
        "'movenet' (bundled) or a MoveNet MultiPose .onnx path for `movenet`; "
        "a YOLO weights name or path (.pt, .onnx, .engine, .yaml) for `ultralytics`.",
    )
    device: str = "cpu"
    confidence: float = Field(default=0.25, gt=0, lt=1)
    iou: float = Field(default=0.6, gt=0, lt=1)
    classes: list[str] = Field(default_factory=lambda: resolve_classes(["people", "traffic"]))
    imgsz: int = Field(default=640, ge=32, description="ultralytics input size")
    input_size: int = Field(
        default=512, ge=64, multiple_of=32, description="movenet: the longer input side"
    )
    nanodet_size: int | tuple[int, int] | None = Field(
        default=None,
        description="The bundled NanoDet's or CenterNet's input, in pixels, multiples of 32. "
        "N: every frame is resized "
        "to N pixels high, keeping its aspect ratio (the width to the nearest multiple of "
        "32): 960x540 at 416 runs at 736x416, 768x576 at 544x416. A person is then N/10 "
        "pixels tall to the model when a tenth of the frame's height, whatever the camera. "
        "'WxH': every frame is stretched to exactly that (416x416: the size the model was "
        "trained at, and aistack's only input before this key). Unset: 416, or the graph's "
        "own size for a NanoDet .onnx with a fixed input. A larger N finds smaller people, "
        "misses more large ones, and costs time in proportion to the input's area "
        "(docs/models.md).",
    )
    precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="the bundled NanoDet's numbers: fp32, or int8 (nanodet-int8.onnx, "
        "quantised with calibration frames: about twice the frames per second on a CPU, "
        "dev-set counts within a point; docs/models.md). The presets choose int8 for the "
        "bundled NanoDet and leave other models as they are.",
    )
    threads: int | None = Field(default=None, ge=1)
    slices: tuple[int, int] | None = Field(
        default=None,
        description="sliced inference for sources whose objects are small against the "
        "frame (4K, wide panoramas): 'CxR' runs the detector on the whole frame and on C "
        "columns x R rows of tiles that overlap by a fifth, and merges the boxes; each "
        "frame then costs 1 + C x R model calls. Unset: the whole frame only "
        "(docs/models.md, *Sliced inference*).",
    )

    @field_validator("slices", mode="before")
    @classmethod
    def _slices(cls, slices: object) -> object:
        # YAML and the command line give "2x2"; Python may give (2, 2).
        if isinstance(slices, str):
            columns, x, rows = slices.strip().lower().partition("x")
            if not x or not columns.isdigit() or not rows.isdigit():
                raise ValueError(f"slices must be CxR, e.g. 2x2 or 3x1; got {slices!r}")
            return (int(columns), int(rows))
        return slices

    @field_validator("slices")
    @classmethod
    def _two_tiles_or_more(cls, slices: tuple[int, int] | None) -> tuple[int, int] | None:
        if slices is not None and (min(slices) < 1 or slices == (1, 1)):
            raise ValueError(f"slices needs at least 2 tiles, e.g. 2x1; got {slices!r}")
        return slices

    @field_validator("precision")
    @classmethod
    def _int8_is_bundled(cls, precision: str, info: ValidationInfo) -> str:
        # On the field (type and model come before it), so the error names detector.precision.
        kind, model = info.data.get("type"), info.data.get("model")
        if precision == "int8" and model is not None and (kind, model) != ("onnx", "nanodet"):
            raise ValueError(
                f"precision int8 runs the bundled nanodet's int8 graph (nanodet-int8.onnx) and "
                f"cannot apply to model {model}; use precision fp32 with it"
            )
        return precision

    @model_validator(mode="before")
    @classmethod
    def _movenet_model(cls, data: object) -> object:
        # `model` defaults to nanodet; for `type: movenet` the bundled MoveNet is meant.
        if isinstance(data, dict) and data.get("type") == "movenet" and "model" not in data:
            return {**data, "model": "movenet"}
        return data

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, classes: list[str]) -> list[str]:
        return resolve_classes(classes)

    @field_validator("nanodet_size", mode="before")
    @classmethod
    def _nanodet_size(cls, size: object) -> object:
        # YAML gives 640 as a number and 416x416 as a string.
        if isinstance(size, str) and size.strip().isdigit():
            size = int(size)
        elif isinstance(size, str):
            width, x, height = size.strip().lower().partition("x")
            if not x or not width.isdigit() or not height.isdigit():
                raise ValueError(
                    f"nanodet_size must be N or WxH, e.g. 640 or 416x416; got {size!r}"
                )
            size = (int(width), int(height))
        sides = size if isinstance(size, (tuple, list)) else [size]
        if size is not None and not all(
            isinstance(side, int) and side >= 32 and side % 32 == 0 for side in sides
        ):
            raise ValueError(f"nanodet_size sides must be multiples of 32; got {size!r}")
        return size

    @field_validator("device")
    @classmethod
    def _valid_device(cls, device: str) -> str:
        if not re.match(r"^(cpu|mps|cuda(:\d+)?|\d+)$", device):
            raise ValueError("device must be cpu, mps, cuda or cuda:N")
        return device

    @model_validator(mode="after")
    def _slices_keep_boxes_only(self) -> DetectorConfig:
        # InferenceSlicer moves each tile's boxes back into the frame, not keypoints.
        if self.slices is not None and self.type == "movenet":
            raise ValueError(
                "slices: sliced inference is for boxes; pose keypoints cannot be sliced"
            )
        return self

    @field_validator("classes")
    @classmethod
    def _pose_classes(cls, classes: list[str], info: ValidationInfo) -> list[str]:
        # MoveNet finds people only; asking it for cars would silently count nothing.
        others = [c for c in classes if c != "person"]
        if info.data.get("type") == "movenet" and others:
            raise ValueError(
                f"pose models detect people only; {', '.join(others)} cannot be counted with "
                "movenet (use people, or a detector such as nanodet)"
            )
        return classes


class TrackerConfig(Strict):
    """The tracker and its thresholds. OC-SORT by default: on the accuracy dev set it tracked
    and counted best (experiments/tracking/README.md); thresholds suit NanoDet's low scores."""

    type: Literal["bytetrack", "ocsort", "sort"] = "ocsort"
    track_activation_threshold: float = Field(default=0.4, gt=0, lt=1)
    # OC-SORT drops every box under it. NanoDet's boxes under 0.45 are about nine tenths
    # false; from 0.45 real low-scoring people start (docs/models.md, *The tracker's
    # threshold*: 0.5 tracks PETS better but loses the golden side_by_side walker).
    high_conf_det_threshold: float = Field(default=0.45, gt=0, lt=1)
    minimum_iou_threshold: float = Field(default=0.1, gt=0, lt=1)
    minimum_consecutive_frames: int = Field(default=2, ge=1)
    lost_track_seconds: float = Field(default=1.5, gt=0)


class CountingConfig(Strict):
    """How anchors become crossings. See docs/counting.md for the rules."""

    anchor: Anchor = "bottom_center"
    min_distance: float = Field(
        default=2.0, ge=0, description="pixels an anchor must clear the line by to change side"
    )
    min_distance_fraction: float = Field(
        default=0.08, ge=0, le=1, description="same, as a fraction of the box height (larger wins)"
    )
    min_frames: int = Field(
        default=2, ge=1, description="consecutive frames on the new side before a crossing counts"
    )
    # Rules for imperfect tracks (docs/counting.md). Ground-truth tracks need none of them.
    motion_direction: bool = Field(
        default=True,
        description="count a side change only if the track's own motion, jumps "
        "taken out, carried it across (an identity swap or a jump never counts)",
    )
    max_speed: float = Field(
        default=3.0,
        gt=0,
        description="box heights per second a person can move; a faster "
        "step (beyond the band's jitter) is a jump between people, not motion",
    )
    vehicle_max_speed: float = Field(
        default=30.0,
        gt=0,
        description="the same for vehicles (car, bus, truck, motorcycle, bicycle), in their "
        "box heights per second: about 45 m/s for a car 1.5 m tall. Vehicles have no "
        "height_ratio bound: a car driving towards the camera grows fast",
    )
    height_ratio: float = Field(
        default=1.35,
        gt=1,
        description="largest ratio (the taller over the shorter) of one person's box heights "
        "between two sightings: in 99 of 100 cases they differ by less than 1.35x up to 1.5 s "
        "apart (PETS S2L1, experiments/counting/height_noise.json). A step that changes more "
        "is a jump to another person, and a new track that differs more is not a lost one",
    )
    motion_seconds: float = Field(
        default=0.5, gt=0, description="recent history a lost track's velocity is taken over"
    )
    duplicates: bool = Field(
        default=True, description="two tracks on one person count one crossing"
    )
    duplicate_seconds: float = Field(
        default=1.0,
        gt=0,
        description="how far apart in time one person's two tracks' "
        "crossings of a line (same direction) may be",
    )
    duplicate_overlap: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description="share of the smaller box inside the larger, in "
        "most frames both tracks were seen within duplicate_seconds, for them to be one person",
    )
    stitch: bool = Field(
        default=True,
        description="a track lost on one side and a new one where its motion "
        "predicts, on the other side, is one person crossing while hidden",
    )
    stitch_seconds: float = Field(
        default=1.5,
        gt=0,
        description="longest gap a hidden crossing is bridged over (the tracker keeps a lost "
        "track as long by default: tracker.lost_track_seconds)",
    )
    stitch_distance: float = Field(
        default=0.5,
        gt=0,
        description="box heights the new track may be from where the lost one's motion predicts",
    )


class PoseConfig(Strict):
    """Posture per track and fall events from keypoints; see docs/pose.md for the rules.

    Needs a detector that gives keypoints: `movenet`, or an ultralytics `-pose` model.
    """

    enabled: bool = False
    keypoint_threshold: float = Field(default=0.3, ge=0, le=1)
    upright_angle: float = Field(default=35.0, ge=0, lt=90)
    lying_angle: float = Field(default=60.0, gt=0, le=180)
    lying_aspect_ratio: float = Field(default=1.2, gt=0)
    sitting_thigh_ratio: float = Field(default=0.5, gt=0)
    sitting_height_ratio: float = Field(default=2.8, gt=0)
    smoothing_frames: int = Field(default=5, ge=1, le=100)
    fall_window_seconds: float = Field(default=1.5, gt=0)
    min_lying_seconds: float = Field(default=1.0, ge=0)
    hip_drop_fraction: float = Field(default=0.3, gt=0, le=1)
    posture_events: bool = False

    @model_validator(mode="after")
    def _angles_in_order(self) -> PoseConfig:
        if self.upright_angle >= self.lying_angle:
            raise ValueError("upright_angle must be smaller than lying_angle")
        return self


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


# Speed against accuracy: which bundled detector a preset runs, at what input height (each
# frame keeps its aspect ratio) and precision. `balanced`, the default, is the most accurate
# that keeps a 960x540 camera above 30 fps on 2 cores: CenterNet 448 px high (about 38 fps
# since its hard-swish is exact and fused, docs/models.md step 8), whose stride-4 heat map
# finds the small, crowded people NanoDet misses. At 480 it ran at 34 fps, with less
# headroom, and counted worse on every dev-set case. `fast` is NanoDet 416 on its int8
# graph (about 64 fps). `accurate` is CenterNet at 544, the 540p source at its own
# resolution (about 26 fps; at 640, upscaled, it counted worse on the street). CenterNet
# has no int8 graph: quantised, it loses the small people again.
# Measurements and reasoning: docs/models.md, docs/accuracy.md.
PRESET_MODELS: dict[str, str] = {
    "fast": "nanodet",
    "balanced": "centernet",
    "accurate": "centernet",
}
# Each bundled model's own trade-off per preset, used when a config names the model itself:
# NanoDet's was chosen the same way on its int8 graph (docs/models.md, *int8*).
BUNDLED_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "nanodet": {
        "fast": {"nanodet_size": 416, "precision": "int8"},
        "balanced": {"nanodet_size": 544, "precision": "int8"},
        "accurate": {"nanodet_size": 544, "precision": "fp32"},
    },
    "centernet": {  # 448: its largest size with headroom over 30 fps on 2 cores (38 fps)
        "fast": {"nanodet_size": 416, "precision": "fp32"},
        "balanced": {"nanodet_size": 448, "precision": "fp32"},
        "accurate": {"nanodet_size": 544, "precision": "fp32"},
    },
}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    preset: {"detector": {"model": model, **BUNDLED_PRESETS[model][preset]}}
    for preset, model in PRESET_MODELS.items()
}
Preset = Literal["fast", "balanced", "accurate"]


def preset_models_in_words() -> str:
    """Which bundled model each preset runs, for help texts: "nanodet for fast, ..."."""
    presets_of: dict[str, list[str]] = {}
    for preset, model in PRESET_MODELS.items():
        presets_of.setdefault(model, []).append(preset)
    return ", ".join(f"{model} for {' and '.join(p)}" for model, p in presets_of.items())


POSE_TRACKER: dict[str, Any] = {"type": "bytetrack", "high_conf_det_threshold": 0.4}
# The tracker's threshold for each bundled detector's score range (docs/models.md, *The
# tracker's threshold* and *CenterNet*): CenterNet's person scores run lower than
# NanoDet's, and its boxes are more often right than wrong from 0.35 on small people
# (PETS at 0.35x), where NanoDet's are from 0.45.
MODEL_TRACKER: dict[str, dict[str, Any]] = {"centernet": {"high_conf_det_threshold": 0.35}}
DEFAULT_PRESET: Preset = "balanced"


def tracker_for(detector: Mapping[str, Any]) -> dict[str, Any]:
    """The tracker settings a detector section (as given) needs unless the config says.

    OC-SORT and its 0.45 threshold were chosen on NanoDet's boxes; on MoveNet's lower
    person scores they confirm half as many walkers (tests/detect/test_pose.py), so pose
    runs ByteTrack at 0.4; CenterNet's threshold is its own (`MODEL_TRACKER`).
    """
    kind = detector.get("type", "onnx")
    if kind == "movenet":
        return dict(POSE_TRACKER)
    model = detector.get("model", "nanodet")
    return dict(MODEL_TRACKER.get(str(model), {})) if kind == "onnx" else {}


def _preset_detector(preset: str, given: object) -> dict[str, Any]:
    """The detector keys a preset fills in for a detector section as given (before validation).

    Unnamed, the model is the preset's; `precision: int8` alone means NanoDet, the only
    model with an int8 graph. A bundled model named in the config gets its own input
    size and precision for the preset; any other model only NanoDet's input size, which
    a NanoDet .onnx of one's own reads and other backends ignore.
    """
    section = given if isinstance(given, dict) else {}
    kind, model = section.get("type", "onnx"), section.get("model")
    if kind == "onnx" and model is None:
        model = "nanodet" if section.get("precision") == "int8" else PRESET_MODELS[preset]
        return {"model": model, **BUNDLED_PRESETS[model][preset]}
    if kind == "onnx" and model in BUNDLED_PRESETS:
        return dict(BUNDLED_PRESETS[str(model)][preset])
    size = BUNDLED_PRESETS["nanodet"][preset]["nanodet_size"]
    return {"nanodet_size": size}


class AppConfig(Strict):
    """A whole run: cameras with their lines and zones, and the shared stages."""

    preset: Preset = Field(
        default=DEFAULT_PRESET,
        description="fast, balanced or accurate: which bundled detector runs "
        f"({preset_models_in_words()}), at what input size and precision "
        "(docs/accuracy.md has each one's speed and count error); a key set explicitly, "
        "such as detector.nanodet_size or detector.model, wins over the preset, and a "
        "bundled model named in the config gets its own size for the preset",
    )
    cameras: list[CameraConfig] = Field(min_length=1)
    detector: DetectorConfig = DetectorConfig()
    tracker: TrackerConfig = TrackerConfig()
    counting: CountingConfig = CountingConfig()
    pose: PoseConfig = PoseConfig()
    store: StoreConfig = Field(default_factory=StoreConfig)
    influx: InfluxConfig = Field(default_factory=InfluxConfig)
    metrics: MetricsConfig = MetricsConfig()
    pipeline: PipelineSettings = PipelineSettings()
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    live_view: LiveViewConfig = LiveViewConfig()

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: object) -> object:
        # The preset fills in only what the config leaves unset.
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", DEFAULT_PRESET)
        if preset not in PRESETS:
            return data  # the field's own validation names the choices
        merged = dict(data)
        for section, values in PRESETS[preset].items():
            given = merged.get(section)
            if section == "detector":
                values = _preset_detector(preset, given)
            if given is None:
                merged[section] = dict(values)
            elif isinstance(given, dict):
                merged[section] = {**values, **given}
        # The tracker settings the detector's scores need, unless the tracker section says.
        detector, tracker = merged.get("detector"), merged.get("tracker")
        if isinstance(detector, dict) and (tracker is None or isinstance(tracker, dict)):
            merged["tracker"] = {**tracker_for(detector), **(tracker or {})}
        return merged

    @model_validator(mode="after")
    def _unique_cameras(self) -> AppConfig:
        names = [camera.name for camera in self.cameras]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"camera names must be unique, repeated: {duplicates}")
        push = self.live_view.push_url
        if push is not None and len(names) > 1 and "{camera}" not in push:
            raise ValueError(
                "live_view.push_url: with several cameras put '{camera}' in it, "
                "so each camera pushes to its own mount"
            )
        return self
