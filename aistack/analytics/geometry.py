"""Vectorised geometry for counting: anchor points, line sides, units."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from aistack.config import Anchor

Points = npt.NDArray[np.float64]

_ANCHOR_WEIGHTS: dict[str, tuple[float, float]] = {
    # (fraction of width from x1, fraction of height from y1)
    "bottom_center": (0.5, 1.0),
    "center": (0.5, 0.5),
    "top_center": (0.5, 0.0),
    "center_left": (0.0, 0.5),
    "center_right": (1.0, 0.5),
    "bottom_left": (0.0, 1.0),
    "bottom_right": (1.0, 1.0),
    "top_left": (0.0, 0.0),
    "top_right": (1.0, 0.0),
}


def anchor_points(xyxy: npt.NDArray[np.floating], anchor: Anchor) -> Points:
    """The (N, 2) anchor point of each box."""
    fx, fy = _ANCHOR_WEIGHTS[anchor]
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    x = boxes[:, 0] + fx * (boxes[:, 2] - boxes[:, 0])
    y = boxes[:, 1] + fy * (boxes[:, 3] - boxes[:, 1])
    return np.stack([x, y], axis=1)


def signed_side(points: Points, line: tuple[float, float, float, float]) -> npt.NDArray[np.float64]:
    """s(p) = (x2−x1)(py−y1) − (y2−y1)(px−x1) for each point: < 0 one side, > 0 the other.

    An anchor moving from s<0 to s>0 is "in", from s>0 to s<0 is "out". In image
    coordinates (y down), for a line drawn left to right, s>0 is below the line,
    so walking down the picture across it is "in".
    """
    x1, y1, x2, y2 = line
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return (x2 - x1) * (p[:, 1] - y1) - (y2 - y1) * (p[:, 0] - x1)


def signed_distance(
    points: Points, line: tuple[float, float, float, float]
) -> npt.NDArray[np.float64]:
    """Signed perpendicular distance in pixels; same sign as `signed_side`."""
    x1, y1, x2, y2 = line
    return signed_side(points, line) / float(np.hypot(x2 - x1, y2 - y1))


def along_segment(
    points: Points, line: tuple[float, float, float, float]
) -> npt.NDArray[np.float64]:
    """Position of each point's projection on the line: 0 at P1, 1 at P2."""
    x1, y1, x2, y2 = line
    dx, dy = x2 - x1, y2 - y1
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return ((p[:, 0] - x1) * dx + (p[:, 1] - y1) * dy) / (dx * dx + dy * dy)


def to_pixels(
    values: tuple[float, ...] | list[float], width: int, height: int
) -> tuple[float, ...]:
    """Interpret x, y pairs as fractions of the frame when every value is <= 1."""
    if all(0.0 <= v <= 1.0 for v in values):
        return tuple(v * (width if i % 2 == 0 else height) for i, v in enumerate(values))
    return tuple(float(v) for v in values)


def segment_meets_frame(line: tuple[float, ...], width: float, height: float) -> bool:
    """Whether segment x1,y1,x2,y2 touches the frame [0, width] × [0, height] (Liang-Barsky)."""
    x1, y1, x2, y2 = line
    dx, dy = x2 - x1, y2 - y1
    start, end = 0.0, 1.0
    for p, q in ((-dx, x1), (dx, width - x1), (-dy, y1), (dy, height - y1)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            start = max(start, t)
        else:
            end = min(end, t)
        if start > end:
            return False
    return True


def polygon_meets_frame(polygon: list[tuple[float, float]], width: float, height: float) -> bool:
    """Whether a polygon overlaps the frame: an edge touches it, or it encloses the frame."""
    edges = zip(polygon, polygon[1:] + polygon[:1], strict=True)
    if any(segment_meets_frame((*a, *b), width, height) for a, b in edges):
        return True
    cx, cy = width / 2, height / 2  # no edge inside: the frame is wholly in or wholly out
    inside = False
    for (ax, ay), (bx, by) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (ay > cy) != (by > cy) and cx < ax + (cy - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside
