"""Crossing snapshots: a JPEG of the object (or the whole frame) for each counted event."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from aistack.errors import SinkError
from aistack.types import Detections, Event, Frame


class SnapshotWriter:
    """Writes `<dir>/<camera>/<YYYYmmdd>/<HHMMSS.mmm>_<counter>_<direction>_<track>.jpg`.

    Runs on the counting thread: a padded crop encodes in about a millisecond and
    events are rare next to frames, so a queue would cost more than it saves.
    """

    def __init__(self, directory: Path, kind: str = "crop", quality: int = 85) -> None:
        self.directory = directory
        self.kind = kind
        self._params = [cv2.IMWRITE_JPEG_QUALITY, quality]
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SinkError(f"{directory}: cannot create the snapshot folder ({error})") from None

    def save(self, frame: Frame, detections: Detections, event: Event) -> str | None:
        image = frame.image
        if self.kind == "crop" and detections.tracker_id is not None:
            rows = np.flatnonzero(detections.tracker_id == event.track_id)
            if len(rows):
                image = _padded_crop(frame.image, detections.xyxy[rows[0]])
        stamp = time.strftime("%Y%m%d/%H%M%S", time.gmtime(event.timestamp))
        millis = int((event.timestamp % 1) * 1000)
        name = f"{stamp}.{millis:03d}_{event.counter}_{event.direction}_{event.track_id}.jpg"
        path = self.directory / _safe(event.camera) / name.replace(" ", "_")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), image, self._params):
            return None
        return str(path)


def _padded_crop(image: np.ndarray, box: np.ndarray, pad: float = 0.2) -> np.ndarray:
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    left, top = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    right, bottom = min(width, int(x2 + dx) + 1), min(height, int(y2 + dy) + 1)
    if right <= left or bottom <= top:
        return image
    return image[top:bottom, left:right]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
