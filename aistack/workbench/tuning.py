"""Counting lines and zones being tuned on a frame: editable shapes, pointer edits, drawing.

Everything here is plain Python and numpy, so the tuning widget
(`aistack.workbench.widgets`) stays a thin view over it and tests can drive it without a
browser. Shapes are stored in fractions of the frame's width and height (0–1), so a saved
experiment survives a change of resolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from aistack.analytics.lines import LineTotals
from aistack.live.draw import FrameAnnotator
from aistack.types import Detections, Image

Point = tuple[float, float]
LinePoints = tuple[float, float, float, float]
LineCounts = Mapping[tuple[str, str], int]  # (class, direction) -> count
HANDLE_COLOUR = (255, 255, 255)
SELECTED_COLOUR = (60, 60, 255)  # BGR red: the shape the next edit applies to


def _fraction(value: float, what: str) -> float:
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise ValueError(f"{what}: {value!r} is not a fraction of the frame (0 to 1)")
    return number


class _TunedShape:
    """What lines and zones share: a name, and telling the owner when either changes."""

    def __init__(self, name: str, on_change: Callable[[], None] | None) -> None:
        self._on_change = on_change
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        self._name = name
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


class TunedLine(_TunedShape):
    """A counting line P1→P2 in fractions of the frame; "in" is the arrow's side.

    Setting `points` or `name` tells the owner (the widget redraws and re-checks).
    """

    def __init__(
        self, name: str, points: Sequence[float], on_change: Callable[[], None] | None = None
    ) -> None:
        super().__init__(name, on_change)
        self._points = self._checked(points)

    def _checked(self, points: Sequence[float]) -> LinePoints:
        values = tuple(points)
        if len(values) != 4:
            raise ValueError(f"line '{self._name}': points are x1, y1, x2, y2, not {values!r}")
        x1, y1, x2, y2 = (_fraction(v, f"line '{self._name}'") for v in values)
        return (x1, y1, x2, y2)

    @property
    def points(self) -> LinePoints:
        return self._points

    @points.setter
    def points(self, points: Sequence[float]) -> None:
        self._points = self._checked(points)
        self._changed()

    @property
    def degenerate(self) -> bool:
        x1, y1, x2, y2 = self._points
        return (x1, y1) == (x2, y2)

    def reverse(self) -> None:
        """Swap P1 and P2, which swaps what counts as in and out."""
        x1, y1, x2, y2 = self._points
        self.points = (x2, y2, x1, y1)

    def vertices(self) -> list[Point]:
        x1, y1, x2, y2 = self._points
        return [(x1, y1), (x2, y2)]

    def move_vertex(self, index: int, point: Point) -> None:
        corners = self.vertices()
        corners[index] = point
        self.points = (*corners[0], *corners[1])

    def __repr__(self) -> str:
        return f"TunedLine({self._name!r}, {list(self._points)})"


class TunedZone(_TunedShape):
    """A polygon whose occupancy is counted, in fractions of the frame."""

    def __init__(
        self, name: str, polygon: Sequence[Point], on_change: Callable[[], None] | None = None
    ) -> None:
        super().__init__(name, on_change)
        self._polygon = self._checked(polygon)

    def _checked(self, polygon: Sequence[Point]) -> list[Point]:
        corners = [tuple(p) for p in polygon]
        if len(corners) < 3 or any(len(c) != 2 for c in corners):
            raise ValueError(f"zone '{self._name}': a polygon needs at least three (x, y) points")
        what = f"zone '{self._name}'"
        return [(_fraction(x, what), _fraction(y, what)) for x, y in corners]

    @property
    def polygon(self) -> list[Point]:
        return list(self._polygon)

    @polygon.setter
    def polygon(self, polygon: Sequence[Point]) -> None:
        self._polygon = self._checked(polygon)
        self._changed()

    def vertices(self) -> list[Point]:
        return list(self._polygon)

    def move_vertex(self, index: int, point: Point) -> None:
        corners = self.vertices()
        corners[index] = point
        self.polygon = corners

    def __repr__(self) -> str:
        return f"TunedZone({self._name!r}, {[list(p) for p in self._polygon]})"


Shape = TunedLine | TunedZone


@dataclass(frozen=True)
class Handle:
    """A draggable corner: vertex `index` of `shape`."""

    shape: Shape
    index: int


def nearest_handle(
    shapes: Sequence[Shape], point: Point, size: tuple[int, int], radius: float
) -> Handle | None:
    """The corner within `radius` pixels of `point` (fractions), the closest first."""
    width, height = size
    best: Handle | None = None
    best_distance = radius
    for shape in shapes:
        for index, (x, y) in enumerate(shape.vertices()):
            distance = math.hypot((x - point[0]) * width, (y - point[1]) * height)
            if distance <= best_distance:
                best, best_distance = Handle(shape, index), distance
    return best


def frame_size(image: Image) -> tuple[int, int]:
    return int(image.shape[1]), int(image.shape[0])


def to_fractions(values: Sequence[float], size: tuple[int, int]) -> list[float]:
    """Config coordinates (pixels, or fractions when all <= 1) as fractions, clamped to 0–1."""
    if all(0.0 <= v <= 1.0 for v in values):
        return [float(v) for v in values]
    width, height = size
    return [min(1.0, max(0.0, v / (width if i % 2 == 0 else height))) for i, v in enumerate(values)]


def _pixels(points: Sequence[Point], size: tuple[int, int]) -> list[tuple[float, float]]:
    return [(x * size[0], y * size[1]) for x, y in points]


_NO_DETECTIONS = Detections(
    np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
)


def draw_shapes(
    image: Image,
    lines: Sequence[TunedLine],
    zones: Sequence[TunedZone],
    selected: Shape | None = None,
    pending: Sequence[Point] = (),
    counts: Mapping[str, LineCounts] | None = None,
    annotator: FrameAnnotator | None = None,
) -> Image:
    """The frame as `aistack run` draws it (lines, in-arrows, zones), plus draggable handles.

    `counts` are the last preview's, by line name, so its labels show them until lines change.
    """
    size = frame_size(image)
    totals = [
        LineTotals(line.name, _line_pixels(line, size), dict((counts or {}).get(line.name, {})))
        for line in lines
    ]
    zone_view = [(zone.name, _pixels(zone.polygon, size), 0) for zone in zones]
    canvas = (annotator or FrameAnnotator()).draw(image, _NO_DETECTIONS, totals, zone_view)
    shapes: list[Shape] = [*lines, *zones]
    for shape in shapes:
        colour = SELECTED_COLOUR if shape is selected else HANDLE_COLOUR
        for x, y in _pixels(shape.vertices(), size):
            cv2.circle(canvas, (round(x), round(y)), 7, colour, 2, cv2.LINE_AA)
    if pending:
        corners = np.round(np.asarray(_pixels(pending, size))).astype(np.int32)
        cv2.polylines(canvas, [corners], False, SELECTED_COLOUR, 2, cv2.LINE_AA)
        for x, y in corners:
            cv2.circle(canvas, (int(x), int(y)), 5, SELECTED_COLOUR, -1, cv2.LINE_AA)
    return canvas


def _line_pixels(line: TunedLine, size: tuple[int, int]) -> LinePoints:
    x1, y1, x2, y2 = line.points
    return (x1 * size[0], y1 * size[1], x2 * size[0], y2 * size[1])


Mode = Literal["edit", "line", "zone"]
MODE_HINTS: dict[str, str] = {
    "edit": "drag a white handle to move a corner",
    "line": "press where the line starts and drag to where it ends",
    "zone": "click each corner; click the first corner again to close the zone",
}


class ShapeEditor:
    """Lines and zones on a frame of `size` pixels, edited with a pointer.

    `press`, `move` and `release` take points in fractions of the frame and follow `mode`:
    "edit" drags the nearest corner, "line" draws a line from press to release, "zone" adds
    a corner per press and closes on the first corner. They return a message for the user
    and raise ValueError on a mistake. `on_change` runs after every change.
    """

    def __init__(self, size: tuple[int, int], on_change: Callable[[], None] | None = None):
        self.size = size
        self.on_change = on_change
        self.lines: list[TunedLine] = []
        self.zones: list[TunedZone] = []
        self.selected: Shape | None = None
        self.mode: Mode = "edit"
        self.pending: list[Point] = []
        self.drag: Handle | None = None
        self._new_line: TunedLine | None = None

    @property
    def shapes(self) -> list[Shape]:
        return [*self.lines, *self.zones]

    @property
    def radius(self) -> float:
        """How near (pixels) a press must be to grab a corner."""
        return max(12.0, 0.025 * max(self.size))

    def shape(self, name: str | None) -> Shape | None:
        return next((s for s in self.shapes if s.name == name), None)

    def free_name(self, stem: str) -> str:
        n = 1
        while self.shape(f"{stem}-{n}") is not None:
            n += 1
        return f"{stem}-{n}"

    def add_line(self, name: str, points: Sequence[float]) -> TunedLine:
        self._unique(name)
        line = TunedLine(name, points, self._changed)
        self.lines.append(line)
        self.selected = line
        self._changed()
        return line

    def add_zone(self, name: str, polygon: Sequence[Point]) -> TunedZone:
        self._unique(name)
        zone = TunedZone(name, polygon, self._changed)
        self.zones.append(zone)
        self.selected = zone
        self._changed()
        return zone

    def remove(self, name: str) -> None:
        self.lines = [line for line in self.lines if line.name != name]
        self.zones = [zone for zone in self.zones if zone.name != name]
        if self.selected is not None and self.selected.name == name:
            self.selected = None
        self._changed()

    def rename(self, shape: Shape, name: str) -> None:
        if name != shape.name:
            self._unique(name)
            shape.name = name

    def problems(self) -> list[str]:
        """What would stop the shapes from saving, in words."""
        return [
            f"line '{line.name}': both ends are the same point; drag one end away"
            for line in self.lines
            if line.degenerate
        ]

    def set_mode(self, mode: Mode) -> str:
        self.mode, self.pending = mode, []
        self.cancel()
        return MODE_HINTS[mode]

    def cancel(self) -> None:
        """Forget a drag or a line being drawn (after an error, or a lost mouseup)."""
        if self._new_line is not None:
            self.remove(self._new_line.name)
        self.drag, self._new_line = None, None
        self._changed()

    def press(self, point: Point) -> str:
        if self.mode == "edit":
            self.drag = nearest_handle(self.shapes, point, self.size, self.radius)
            if self.drag is None:
                return "no corner here: " + MODE_HINTS["edit"]
            self.selected = self.drag.shape
            self._changed()
            return f"moving {describe(self.drag.shape)}"
        if self.mode == "line":
            self._new_line = self.add_line(self.free_name("line"), (*point, *point))
            self.drag = Handle(self._new_line, 1)
            return "drag to where the line ends"
        first = self.pending[0] if self.pending else None
        if first is not None and len(self.pending) >= 3 and self._near(first, point):
            zone = self.add_zone(self.free_name("zone"), self.pending)
            self.pending, self.mode = [], "edit"
            self._changed()
            return f"{describe(zone)} added with {len(zone.polygon)} corners"
        self.pending.append(point)
        self._changed()
        return f"{len(self.pending)} corners; " + MODE_HINTS["zone"]

    def move(self, point: Point) -> None:
        if self.drag is not None:
            self.drag.shape.move_vertex(self.drag.index, point)

    def release(self, point: Point) -> str:
        if self.drag is None:
            return ""
        shape, index = self.drag.shape, self.drag.index
        self.drag = None
        shape.move_vertex(index, point)
        if shape is self._new_line:
            self._new_line = None
            if shape.degenerate:
                self.remove(shape.name)
                raise ValueError("a line needs two different points: press, drag, then release")
            self.mode = "edit"
            self._changed()
        x, y = shape.vertices()[index]
        return f"{describe(shape)}: corner {index + 1} at ({x:.3f}, {y:.3f})"

    def _near(self, a: Point, b: Point) -> bool:
        width, height = self.size
        return math.hypot((a[0] - b[0]) * width, (a[1] - b[1]) * height) <= self.radius

    def _unique(self, name: str) -> None:
        if not name.strip():
            raise ValueError("a line or zone needs a name")
        if self.shape(name) is not None:
            raise ValueError(f"'{name}' is taken: names of lines and zones are unique")

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def describe(shape: Shape) -> str:
    return f"{'line' if isinstance(shape, TunedLine) else 'zone'} '{shape.name}'"
