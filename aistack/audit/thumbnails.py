"""Small JPEGs of the picture around a counting line, with the line drawn, one per frame."""

from __future__ import annotations

import math

import cv2
import numpy as np

from aistack.audit.strips import LineGeometry
from aistack.live.draw import IN_COLOUR, LINE_COLOUR
from aistack.types import Image

# What is cropped around the line's bounding box, as a fraction of the frame height: enough
# to see a person's legs on both sides, so a reviewer can tell which side the feet are on.
MARGIN_FRACTION = 0.2
MIN_ASPECT = 0.75  # the crop's shorter side, at least, as a fraction of its longer one
THUMBNAIL_BOX = (256, 160)  # the largest thumbnail, width x height
JPEG_QUALITY = 60  # 5-8 KB a thumbnail of a busy street


class Thumbnails:
    """Crops, shrinks, draws on and JPEG-encodes the region around one line, frame by frame.

    Every frame is kept (a few KB each), because which frames a reviewer needs is known
    only once the whole clip has been read.
    """

    def __init__(
        self,
        geometry: LineGeometry,
        box: tuple[int, int] = THUMBNAIL_BOX,
        quality: int = JPEG_QUALITY,
    ) -> None:
        width, height = geometry.frame_size
        x1, y1, x2, y2 = geometry.points
        # Around the line, and no thinner than MIN_ASPECT either way: a steep line still gets
        # room to its sides, a flat one above and below.
        margin = MARGIN_FRACTION * height
        crop_w = abs(x2 - x1) + 2 * margin
        crop_h = abs(y2 - y1) + 2 * margin
        crop_w, crop_h = max(crop_w, MIN_ASPECT * crop_h), max(crop_h, MIN_ASPECT * crop_w)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        left = min(width - 1, max(0, math.floor(cx - crop_w / 2)))
        top = min(height - 1, max(0, math.floor(cy - crop_h / 2)))
        right = min(width, math.ceil(cx + crop_w / 2))
        bottom = min(height, math.ceil(cy + crop_h / 2))
        self.crop = (left, top, max(right, left + 1), max(bottom, top + 1))
        crop_w, crop_h = self.crop[2] - left, self.crop[3] - top
        self.scale = min(box[0] / crop_w, box[1] / crop_h, 1.0)
        self.size = (max(1, round(crop_w * self.scale)), max(1, round(crop_h * self.scale)))
        self.line = tuple(
            (v - (left if i % 2 == 0 else top)) * self.scale for i, v in enumerate(geometry.points)
        )
        self.geometry = geometry
        self.quality = quality
        self.jpegs: dict[int, bytes] = {}

    def add(self, image: Image, frame_index: int) -> None:
        left, top, right, bottom = self.crop
        small: Image = np.asarray(
            cv2.resize(image[top:bottom, left:right], self.size, interpolation=cv2.INTER_AREA),
            np.uint8,
        )
        self._draw_line(small)
        ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if ok:
            self.jpegs[frame_index] = encoded.tobytes()

    def _draw_line(self, canvas: Image) -> None:
        """The line, thin so it hides little, and a short arrow towards the "in" side."""
        x1, y1, x2, y2 = self.line
        shift = 4  # cv2 draws at sub-pixel precision with this many fractional bits
        scale = 1 << shift

        def point(x: float, y: float) -> tuple[int, int]:
            return round(x * scale), round(y * scale)

        cv2.line(canvas, point(x1, y1), point(x2, y2), LINE_COLOUR, 1, cv2.LINE_AA, shift)
        nx, ny = self.geometry.in_normal
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        reach = max(8.0, 0.06 * min(self.size))
        cv2.arrowedLine(
            canvas, point(mx, my), point(mx + reach * nx, my + reach * ny), IN_COLOUR, 1,
            cv2.LINE_AA, shift, tipLength=0.35,
        )  # fmt: skip
