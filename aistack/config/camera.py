"""A camera: where its frames come from, and the lines and zones it counts at."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from aistack.classes import resolve_classes
from aistack.config.base import Strict, check_stream_url, source_kind
from aistack.errors import ConfigError

CAMERA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
COUNTER_NAME_RULE = "any text without '=' or control characters, e.g. door, café, 门口, my door"


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
    lines: list[LineConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
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
