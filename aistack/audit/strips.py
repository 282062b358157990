"""Slit-scan strips: the pixels on a counting line and just either side of it, frame by frame.

Three slits are sampled in every frame: the line itself, and two parallel copies
`offset` pixels off it, one on each side. Stacked over time they make strips in
which everything that touches the line leaves a streak, and the order in which
an object covers the two side slits tells which way it went: an object going
"in" (from the side where s < 0 to the side where s > 0, docs/counting.md)
covers the out-side slit first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from aistack.types import Image

# The side slits sit this fraction of the frame height off the line (5 px at 540 lines):
# near enough that every crossing object covers both, far enough that a walker takes a
# few frames to get from one to the other, so the order is measurable.
SIDE_OFFSET_FRACTION = 0.01
MIN_SIDE_OFFSET = 2

Samples = npt.NDArray[np.uint8]  # (frames, positions along the line, 3) BGR


@dataclass(frozen=True)
class LineGeometry:
    """A counting line in pixels, and where its slits are sampled."""

    name: str
    points: tuple[float, float, float, float]
    frame_size: tuple[int, int]  # width, height
    offset: float  # pixels between the line and each side slit

    @classmethod
    def of(
        cls, name: str, points: tuple[float, float, float, float], frame_size: tuple[int, int]
    ) -> LineGeometry:
        offset = max(MIN_SIDE_OFFSET, round(SIDE_OFFSET_FRACTION * frame_size[1]))
        return cls(name, points, frame_size, float(offset))

    @property
    def length(self) -> float:
        x1, y1, x2, y2 = self.points
        return math.hypot(x2 - x1, y2 - y1)

    @property
    def samples(self) -> int:
        """Positions sampled along the line: one a pixel, both ends included."""
        return max(2, math.ceil(self.length) + 1)

    @property
    def in_normal(self) -> tuple[float, float]:
        """The unit normal pointing to the side where s > 0: where "in" goes."""
        x1, y1, x2, y2 = self.points
        length = max(self.length, 1e-9)
        return -(y2 - y1) / length, (x2 - x1) / length

    def point_at(self, position: float, side: float = 0.0) -> tuple[float, float]:
        """The pixel at `position` (0 at P1, 1 at P2), `side` pixels towards the in side."""
        x1, y1, x2, y2 = self.points
        nx, ny = self.in_normal
        return x1 + position * (x2 - x1) + side * nx, y1 + position * (y2 - y1) + side * ny


@dataclass(frozen=True)
class Strips:
    """One line's slits over time: `out_side`, `line` and `in_side` are (T, N, 3) BGR."""

    geometry: LineGeometry
    first_frame: int
    out_side: Samples
    line: Samples
    in_side: Samples

    @property
    def frames(self) -> int:
        return int(self.line.shape[0])


class StripRecorder:
    """Samples one line's three slits from each frame it is given, in frame order."""

    def __init__(self, geometry: LineGeometry) -> None:
        self.geometry = geometry
        t = np.linspace(0.0, 1.0, geometry.samples)
        x1, y1, x2, y2 = geometry.points
        nx, ny = geometry.in_normal
        sides = np.array([-geometry.offset, 0.0, geometry.offset])[:, None]
        # One remap call samples all three slits (rows: out side, line, in side), bilinearly.
        self._map_x = (x1 + t * (x2 - x1) + sides * nx).astype(np.float32)
        self._map_y = (y1 + t * (y2 - y1) + sides * ny).astype(np.float32)
        self._rows: list[Samples] = []
        self._first: int | None = None

    def add(self, image: Image, frame_index: int) -> None:
        if self._first is None:
            self._first = frame_index
        sampled = cv2.remap(
            image, self._map_x, self._map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        self._rows.append(np.asarray(sampled, dtype=np.uint8))

    def strips(self) -> Strips:
        n = self.geometry.samples
        stacked = (
            np.stack(self._rows) if self._rows else np.zeros((0, 3, n, 3), np.uint8)
        )  # (T, 3, N, 3)
        return Strips(
            self.geometry,
            self._first or 0,
            np.ascontiguousarray(stacked[:, 0]),
            np.ascontiguousarray(stacked[:, 1]),
            np.ascontiguousarray(stacked[:, 2]),
        )
