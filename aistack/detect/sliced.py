"""Sliced inference: the frame in overlapping tiles as well as whole, the boxes merged.

For sources whose objects are small against the frame (4K cameras, wide panoramas):
resized whole to the detector's input, such a frame makes its people smaller still,
while a tile is resized from fewer pixels, so its people stay larger to the model
(SAHI's idea). supervision's `InferenceSlicer` cuts the tiles and shifts their boxes
back; the whole frame is detected too, so that objects larger than a tile are seen
whole, and one non-maximum suppression over both keeps the best box of each object.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import supervision as sv

from aistack.detect.base import Detector
from aistack.types import Detections, Image

__all__ = ["SlicedDetector", "tile_size"]


def tile_size(length: int, count: int, overlap: float) -> tuple[int, int]:
    """A tile's side and its overlap, in pixels, for `count` tiles across `length`.

    Neighbouring tiles share `overlap` of a tile, so `count` tiles span
    tile × (count − (count − 1) × overlap) pixels: rounded up, they cover `length`.
    """
    side = math.ceil(length / (count - (count - 1) * overlap))
    return min(side, length), round(side * overlap) if count > 1 else 0


class SlicedDetector:
    """Runs `inner` on the whole frame and on `columns` × `rows` overlapping tiles.

    `overlap` is the share of a tile its neighbour also covers: a person cut by one
    tile's border is whole in the next when they are narrower than that. Boxes from
    the whole frame and every tile then go through one class-agnostic non-maximum
    suppression at `iou`, the inner detector's own. Costs 1 + columns × rows model
    calls a frame.
    """

    def __init__(
        self, inner: Detector, columns: int, rows: int, overlap: float = 0.2, iou: float = 0.6
    ) -> None:
        if columns < 1 or rows < 1 or (columns, rows) == (1, 1):
            raise ValueError(f"need at least 2 tiles, got {columns}x{rows}")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        self.inner = inner
        self.class_names = inner.class_names
        self.columns, self.rows, self.overlap, self.iou = columns, rows, overlap, iou
        self.max_batch = 1
        # One slicer per frame size: a camera keeps its size, so it is built once.
        self._slicers: dict[tuple[int, int], sv.InferenceSlicer] = {}

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        """Detect objects in each BGR image, whole and in tiles; boxes in its own pixels."""
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: Image) -> Detections:
        whole = self.inner.detect([image])[0].to_supervision()
        merged = sv.Detections.merge([whole, self._slicer(*image.shape[1::-1])(image)])
        if len(merged):
            merged = merged.with_nms(threshold=self.iou, class_agnostic=True)
        found = Detections.from_supervision(merged, self.class_names)
        return found[np.argsort(-found.confidence)] if len(found) else found

    def _slicer(self, width: int, height: int) -> sv.InferenceSlicer:
        slicer = self._slicers.get((width, height))
        if slicer is None:
            tile_w, overlap_w = tile_size(width, self.columns, self.overlap)
            tile_h, overlap_h = tile_size(height, self.rows, self.overlap)
            slicer = self._slicers[(width, height)] = sv.InferenceSlicer(
                callback=self._tile,
                slice_wh=(tile_w, tile_h),
                overlap_wh=(overlap_w, overlap_h),
                overlap_filter=sv.OverlapFilter.NONE,  # merged with the whole frame's
                # Tiles run side by side (onnxruntime sessions take concurrent calls): the
                # pipeline gives a detector that is not staged a single lane.
                thread_workers=min(4, os.cpu_count() or 1),
            )
        return slicer

    def _tile(self, tile: Image) -> sv.Detections:
        return self.inner.detect([np.ascontiguousarray(tile)])[0].to_supervision()
