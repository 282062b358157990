"""Draw boxes, track ids, counting lines, zones and their live counts on a frame."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import supervision as sv

from aistack.analytics.lines import LineTotals
from aistack.live.draw_pose import draw_skeletons
from aistack.types import Detections, Image

LINE_COLOUR = (0, 215, 255)  # BGR amber
ZONE_COLOUR = (255, 160, 0)
IN_COLOUR = (80, 200, 80)


class FrameAnnotator:
    """Reusable drawing state; annotators are built once, not per frame."""

    def __init__(self) -> None:
        self._boxes = sv.BoxAnnotator(thickness=2, color_lookup=sv.ColorLookup.TRACK)
        self._labels = sv.LabelAnnotator(
            text_scale=0.45, text_padding=3, color_lookup=sv.ColorLookup.TRACK
        )

    def draw(
        self,
        image: Image,
        detections: Detections,
        lines: Sequence[LineTotals] = (),
        zones: Sequence[tuple[str, Sequence[tuple[float, float]], int]] = (),
        postures: Mapping[int, str] | None = None,
    ) -> Image:
        """A copy of `image` with everything drawn; the input is left untouched."""
        canvas = image.copy()
        for _, polygon, _ in zones:
            points = np.round(np.asarray(polygon)).astype(np.int32)
            overlay = canvas.copy()
            cv2.fillPoly(overlay, [points], ZONE_COLOUR)
            cv2.addWeighted(overlay, 0.18, canvas, 0.82, 0, dst=canvas)
            cv2.polylines(canvas, [points], True, ZONE_COLOUR, 2, cv2.LINE_AA)
        tracked = detections
        if detections.tracker_id is not None and len(detections):
            tracked = detections[detections.tracker_id >= 0]
        if len(tracked):
            sv_detections = tracked.to_supervision()
            if sv_detections.tracker_id is None:
                sv_detections.tracker_id = np.arange(len(tracked))
            labels = [
                f"#{tid} {tracked.class_name(int(cid))}"
                for tid, cid in zip(sv_detections.tracker_id, tracked.class_id, strict=True)
            ]
            canvas = self._boxes.annotate(canvas, sv_detections)
            canvas = self._labels.annotate(canvas, sv_detections, labels=labels)
            if tracked.keypoints is not None:
                canvas = draw_skeletons(canvas, tracked, postures)
        for name, polygon, occupancy in zones:  # labels last, so boxes never hide them
            x, y = np.round(np.asarray(polygon)).astype(np.int32).min(axis=0)
            _label(canvas, f"{name}: {occupancy}", (int(x) + 4, int(y) + 18), ZONE_COLOUR)
        for line in lines:
            x1, y1, x2, y2 = (round(v) for v in line.points)
            cv2.line(canvas, (x1, y1), (x2, y2), LINE_COLOUR, 3, cv2.LINE_AA)
            cv2.circle(canvas, (x1, y1), 5, LINE_COLOUR, -1)
            _in_arrow(canvas, (x1, y1, x2, y2))
            text = f"{line.name}  in {line.total_in}  out {line.total_out}"
            _label(canvas, text, (min(x1, x2) + 6, max(16, min(y1, y2) - 8)), LINE_COLOUR)
        return canvas


def _in_arrow(canvas: Image, line: tuple[int, int, int, int]) -> None:
    """A short green arrow at the line's middle pointing to the side that counts as "in"."""
    x1, y1, x2, y2 = line
    length = max(1.0, float(np.hypot(x2 - x1, y2 - y1)))
    # s > 0 ("in") lies along the normal (-(y2 - y1), x2 - x1).
    nx, ny = -(y2 - y1) / length, (x2 - x1) / length
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    tip = (round(mx + 28 * nx), round(my + 28 * ny))
    cv2.arrowedLine(canvas, (round(mx), round(my)), tip, IN_COLOUR, 3, cv2.LINE_AA, tipLength=0.4)


def _label(canvas: Image, text: str, origin: tuple[int, int], colour: tuple[int, int, int]) -> None:
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    x, y = origin
    cv2.rectangle(canvas, (x - 3, y - h - 4), (x + w + 3, y + base + 1), (20, 20, 20), -1)
    cv2.putText(canvas, text, (x, y), font, scale, colour, thickness, cv2.LINE_AA)
