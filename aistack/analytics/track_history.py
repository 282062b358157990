"""Each track's recent boxes in time, for counting rules that need more than the last point."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Observations:
    """One track's observations, oldest first, as parallel arrays.

    `time` is in seconds (the frames' timestamps), `boxes` are xyxy pixels and
    `anchors` the counted point of each box.
    """

    time: FloatArray  # (n,)
    boxes: FloatArray  # (n, 4)
    anchors: FloatArray  # (n, 2)

    def __len__(self) -> int:
        return len(self.time)

    @property
    def heights(self) -> FloatArray:
        return np.maximum(self.boxes[:, 3] - self.boxes[:, 1], 1.0)

    def since(self, time: float) -> Observations:
        keep = self.time >= time
        return Observations(self.time[keep], self.boxes[keep], self.anchors[keep])


class TrackHistory:
    """The last `keep_seconds` of every live track's observations; dead tracks are forgotten.

    Memory is bounded by the frame rate × `keep_seconds` per track, and by the
    owner calling `forget` when a track dies.
    """

    def __init__(self, keep_seconds: float) -> None:
        self.keep_seconds = keep_seconds
        self._rows: dict[int, deque[tuple[float, ...]]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, track_id: int, time: float, box: FloatArray, anchor: FloatArray) -> None:
        rows = self._rows.setdefault(track_id, deque())
        rows.append((time, *box.tolist(), *anchor.tolist()))
        while rows and time - rows[0][0] > self.keep_seconds:
            rows.popleft()

    def of(self, track_id: int) -> Observations:
        rows = self._rows.get(track_id)
        table = np.asarray(rows if rows else np.zeros((0, 7)), dtype=np.float64).reshape(-1, 7)
        return Observations(table[:, 0], table[:, 1:5], table[:, 5:7])

    def forget(self, track_id: int) -> None:
        self._rows.pop(track_id, None)
