"""Tracked boxes over a clip as parallel arrays, the form both truth and predictions take."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from aistack.classes import COCO_CLASSES

IntArray = npt.NDArray[np.int64]
BoxArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrackBoxes:
    """Tracked boxes over a clip as parallel arrays, one row per object per frame.

    `frame` is the 0-based frame index, `xyxy` pixels, `class_id` a COCO id.
    """

    frame: IntArray
    track_id: IntArray
    xyxy: BoxArray
    class_id: IntArray

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        columns = [
            np.asarray(a, dtype=np.int64).reshape(-1)
            for a in (self.frame, self.track_id, self.class_id)
        ]
        if any(len(c) != len(xyxy) for c in columns):
            raise ValueError(
                f"TrackBoxes arrays disagree: {len(xyxy)} boxes, "
                f"{[len(c) for c in columns]} frames/ids/classes"
            )
        order = np.argsort(columns[0], kind="stable")  # by frame, so frames are slices
        frame, track_id, class_id = columns
        arrays = {"frame": frame, "track_id": track_id, "xyxy": xyxy, "class_id": class_id}
        for name, array in arrays.items():
            sorted_array = array[order]
            sorted_array.setflags(write=False)
            object.__setattr__(self, name, sorted_array)

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> TrackBoxes:
        none = np.zeros(0, np.int64)
        return cls(none, none, np.zeros((0, 4)), none)

    @classmethod
    def concat(cls, parts: Sequence[TrackBoxes]) -> TrackBoxes:
        if not parts:
            return cls.empty()
        return cls(
            *(
                np.concatenate([getattr(p, name) for p in parts])
                for name in ("frame", "track_id", "xyxy", "class_id")
            )
        )

    def __getitem__(self, index: npt.NDArray[np.bool_] | slice) -> TrackBoxes:
        return TrackBoxes(
            self.frame[index], self.track_id[index], self.xyxy[index], self.class_id[index]
        )

    def by_frame(self, frames: int) -> Iterator[tuple[int, TrackBoxes]]:
        """(frame, that frame's boxes) for every frame in 0..frames-1, empty ones included."""
        bounds = np.searchsorted(self.frame, np.arange(frames + 1))
        for frame in range(frames):
            yield frame, self[bounds[frame] : bounds[frame + 1]]

    def class_names(self) -> list[str]:
        return [COCO_CLASSES[i] for i in sorted(set(self.class_id.tolist()))]


def box_iou(a: BoxArray, b: BoxArray) -> BoxArray:
    """(len(a), len(b)) IoU of xyxy boxes."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
