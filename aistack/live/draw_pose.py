"""Draw COCO-17 skeletons and each track's posture on a frame."""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from aistack.types import Detections, FloatArray, Image

__all__ = ["POSTURE_COLOURS", "SKELETON_EDGES", "draw_skeletons"]

# Pairs of COCO-17 keypoint indices joined by a bone.
SKELETON_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 2), (1, 3), (2, 4),  # face
    (5, 6), (5, 11), (6, 12), (11, 12),  # torso
    (5, 7), (7, 9), (6, 8), (8, 10),  # arms
    (11, 13), (13, 15), (12, 14), (14, 16),  # legs
)  # fmt: skip
_LEFT = frozenset((1, 3, 5, 7, 9, 11, 13, 15))
_RIGHT = frozenset((2, 4, 6, 8, 10, 12, 14, 16))
# BGR. Left and right limbs differ so a mirrored (mislabelled) skeleton is visible at a glance.
_LEFT_COLOUR = (255, 170, 60)
_RIGHT_COLOUR = (60, 150, 255)
_CENTRE_COLOUR = (230, 230, 230)
POSTURE_COLOURS: dict[str, tuple[int, int, int]] = {
    "standing": (80, 200, 80),
    "sitting": (0, 200, 255),
    "lying": (60, 60, 255),
    "unknown": (160, 160, 160),
}


def _edge_colour(a: int, b: int) -> tuple[int, int, int]:
    if a in _LEFT and b in _LEFT:
        return _LEFT_COLOUR
    if a in _RIGHT and b in _RIGHT:
        return _RIGHT_COLOUR
    return _CENTRE_COLOUR


def draw_skeletons(
    image: Image,
    detections: Detections,
    posture_by_track: Mapping[int, str] | None = None,
    keypoint_threshold: float = 0.3,
) -> Image:
    """A copy of `image` with every person's bones, joints and, if given, posture label.

    Only keypoints scoring at least `keypoint_threshold` are drawn, so a guessed
    joint never draws a confident-looking bone. Line widths follow each person's
    box height: the same skeleton reads on a 60-pixel and a 400-pixel person.
    """
    canvas = image.copy()
    if detections.keypoints is None or not len(detections):
        return canvas
    for i, person in enumerate(detections.keypoints):
        height = float(detections.xyxy[i, 3] - detections.xyxy[i, 1])
        thickness = max(1, round(height / 60))
        radius = thickness + 1
        visible = person[:, 2] >= keypoint_threshold
        # cv2 draws at sub-pixel precision with `shift` = 4 bits of fraction (x16).
        xy = [(int(x), int(y)) for x, y in np.round(person[:, :2] * 16).astype(np.int32)]
        for a, b in SKELETON_EDGES:
            if max(a, b) < len(person) and visible[a] and visible[b]:
                cv2.line(canvas, xy[a], xy[b], _edge_colour(a, b), thickness, cv2.LINE_AA, shift=4)
        for j in np.flatnonzero(visible).tolist():
            cv2.circle(canvas, xy[j], radius * 16, (20, 20, 20), -1, cv2.LINE_AA, shift=4)
            colour = _edge_colour(j, j)
            cv2.circle(canvas, xy[j], max(1, radius - 1) * 16, colour, -1, cv2.LINE_AA, shift=4)
        if posture_by_track is not None and detections.tracker_id is not None:
            posture = posture_by_track.get(int(detections.tracker_id[i]))
            if posture is not None:
                _posture_label(canvas, posture, detections.xyxy[i])
    return canvas


def _posture_label(canvas: Image, posture: str, box: FloatArray) -> None:
    """The posture under the box, where the box annotator's track label never sits."""
    font, scale, weight = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    (w, h), base = cv2.getTextSize(posture, font, scale, weight)
    x, bottom = round(float(box[0])), round(float(box[3]))
    y = bottom + h + 4
    if y + base > canvas.shape[0]:  # no room below: inside the box's bottom instead
        y = bottom - base - 2
    colour = POSTURE_COLOURS.get(posture, POSTURE_COLOURS["unknown"])
    cv2.rectangle(canvas, (x, y - h - 3), (x + w + 4, y + base), (20, 20, 20), -1)
    cv2.putText(canvas, posture, (x + 2, y), font, scale, colour, weight, cv2.LINE_AA)
