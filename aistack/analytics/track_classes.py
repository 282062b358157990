"""Give each track one stable class: the confidence-weighted vote of its detections.

Detectors flicker between related classes (car/truck, bicycle/motorcycle) on the
same object; counting the per-frame class would split one vehicle's count.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from aistack.types import Detections


class TrackClassVote:
    """Replaces each tracked detection's class with its track's majority class so far."""

    def __init__(self, forget_after: int = 300) -> None:
        self.forget_after = forget_after
        self._votes: dict[int, defaultdict[int, float]] = {}
        self._last_seen: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._votes)

    def apply(self, detections: Detections, frame_index: int) -> Detections:
        if detections.tracker_id is None or not len(detections):
            self._forget(frame_index)
            return detections
        class_id = detections.class_id.copy()
        for i, track_id in enumerate(detections.tracker_id.tolist()):
            if track_id < 0:
                continue
            votes = self._votes.setdefault(track_id, defaultdict(float))
            votes[int(class_id[i])] += float(detections.confidence[i])
            self._last_seen[track_id] = frame_index
            class_id[i] = max(votes.items(), key=lambda item: item[1])[0]
        self._forget(frame_index)
        return Detections(
            xyxy=detections.xyxy,
            confidence=detections.confidence,
            class_id=np.asarray(class_id),
            tracker_id=detections.tracker_id,
            keypoints=detections.keypoints,
            class_names=detections.class_names,
        )

    def _forget(self, frame_index: int) -> None:
        stale = [t for t, seen in self._last_seen.items() if frame_index - seen > self.forget_after]
        for track_id in stale:
            del self._votes[track_id], self._last_seen[track_id]
