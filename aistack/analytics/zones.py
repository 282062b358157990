"""Zone occupancy per class, with enter and exit events per track."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import supervision as sv

from aistack.analytics.pose import points_in_polygon, pose_anchor_points
from aistack.config import CountingConfig
from aistack.types import Detections, Event, EventKind

_SV_ANCHORS = {
    "bottom_center": sv.Position.BOTTOM_CENTER,
    "center": sv.Position.CENTER,
    "top_center": sv.Position.TOP_CENTER,
    "center_left": sv.Position.CENTER_LEFT,
    "center_right": sv.Position.CENTER_RIGHT,
    "bottom_left": sv.Position.BOTTOM_LEFT,
    "bottom_right": sv.Position.BOTTOM_RIGHT,
    "top_left": sv.Position.TOP_LEFT,
    "top_right": sv.Position.TOP_RIGHT,
}


@dataclass
class _Presence:
    inside: bool
    streak: int  # consecutive frames observed on the other state
    last_seen: int
    class_name: str


class ZoneCounter:
    """Occupancy of a polygon by class; a track enters or exits after `min_frames` frames."""

    def __init__(
        self,
        name: str,
        polygon: list[tuple[float, float]],
        camera: str = "camera",
        settings: CountingConfig | None = None,
        forget_after: int = 300,
        present_within: int = 5,
    ) -> None:
        self.name = name
        self.polygon = [(float(x), float(y)) for x, y in polygon]
        self.camera = camera
        self.settings = settings or CountingConfig()
        self.forget_after = forget_after
        # A track still counts as present for a few frames without a detection, so
        # occupancy does not flicker, but a lost track stops counting long before it
        # is forgotten.
        self.present_within = present_within
        self._frame_index = 0
        self._zone = sv.PolygonZone(
            polygon=np.round(np.asarray(self.polygon)).astype(np.int64),
            # "keypoints" places people by pose in update(); the box anchor is unused then.
            triggering_anchors=(_SV_ANCHORS.get(self.settings.anchor, sv.Position.BOTTOM_CENTER),),
        )
        self._tracks: dict[int, _Presence] = {}
        self.entries: Counter[str] = Counter()
        self._seen_classes: set[str] = set()

    def occupancy(self) -> dict[str, int]:
        """Tracks inside the zone now, by class; classes seen before but gone read 0."""
        inside = Counter(
            p.class_name
            for p in self._tracks.values()
            if p.inside and self._frame_index - p.last_seen <= self.present_within
        )
        return {name: inside.get(name, 0) for name in sorted(self._seen_classes | set(inside))}

    def update(self, detections: Detections, frame_index: int, timestamp: float) -> list[Event]:
        events: list[Event] = []
        self._frame_index = frame_index
        if detections.tracker_id is not None and len(detections):
            if self.settings.anchor == "keypoints":
                inside = points_in_polygon(pose_anchor_points(detections), self.polygon)
            else:
                inside = self._zone.trigger(detections.to_supervision())
            for i, track_id in enumerate(detections.tracker_id.tolist()):
                if track_id < 0:
                    continue
                class_name = detections.class_name(int(detections.class_id[i]))
                event = self._observe(track_id, bool(inside[i]), class_name, frame_index)
                if event is not None:
                    events.append(
                        Event(timestamp, self.camera, self.name, event, class_name,
                              "in" if event == "enter" else "out", track_id, frame_index)
                    )  # fmt: skip
        for track_id, presence in list(self._tracks.items()):
            if frame_index - presence.last_seen > self.forget_after:
                del self._tracks[track_id]
                if presence.inside:
                    events.append(
                        Event(timestamp, self.camera, self.name, "exit", presence.class_name,
                              "out", track_id, frame_index)
                    )  # fmt: skip
        return events

    def _observe(
        self, track_id: int, inside: bool, class_name: str, frame_index: int
    ) -> EventKind | None:
        presence = self._tracks.get(track_id)
        if presence is None:
            # A track first seen inside is present, but did not "enter" in view.
            self._tracks[track_id] = _Presence(inside, 0, frame_index, class_name)
            self._seen_classes.add(class_name)
            return None
        presence.last_seen = frame_index
        presence.class_name = class_name
        self._seen_classes.add(class_name)
        if inside == presence.inside:
            presence.streak = 0
            return None
        presence.streak += 1
        if presence.streak < self.settings.min_frames:
            return None
        presence.inside, presence.streak = inside, 0
        if inside:
            self.entries[class_name] += 1
            return "enter"
        return "exit"
