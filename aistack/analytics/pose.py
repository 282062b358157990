"""Posture per track (standing, sitting, lying) from COCO-17 keypoints, and fall events.

Rules and thresholds are explained in docs/pose.md. Geometry runs on arrays over
all people of a frame; only the per-track smoothing and fall state loop by track.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

import numpy as np
import numpy.typing as npt

from aistack.types import Detections, Event, EventKind, FloatArray

__all__ = [
    "POSTURES",
    "PoseAnalyzer",
    "PoseSettings",
    "Posture",
    "classify_postures",
    "count_in_zones",
    "points_in_polygon",
    "pose_anchor_points",
]

Posture = Literal["standing", "sitting", "lying", "unknown"]
POSTURES: tuple[Posture, ...] = get_args(Posture)
Points = npt.NDArray[np.float64]

# COCO-17 indices (aistack.detect.movenet.KEYPOINT_NAMES).
_SHOULDERS = (5, 6)
_HIPS = (11, 12)
_KNEES = (13, 14)
_ANKLES = (15, 16)


@dataclass(frozen=True)
class PoseSettings:
    """Thresholds of the posture and fall rules; defaults are those of docs/pose.md."""

    keypoint_threshold: float = 0.3  # keypoints scoring lower are ignored
    upright_angle: float = 35.0  # torso within this many degrees of vertical is upright
    lying_angle: float = 60.0  # torso at least this far from vertical is lying
    lying_aspect_ratio: float = 1.2  # box width / height from which a body reads as lying
    sitting_thigh_ratio: float = 0.5  # knee below hip by less than this x torso: sitting
    sitting_height_ratio: float = 2.8  # and the box under this many torso lengths tall
    smoothing_frames: int = 5  # majority vote over this many recent frames per track
    fall_window_seconds: float = 1.5  # standing to lying within this is a fall
    min_lying_seconds: float = 1.0  # and lying must last this long before it is reported
    hip_drop_fraction: float = 0.3  # or the hips fell this fraction of body height in the window
    present_seconds: float = 0.5  # a track unseen for longer stops counting in occupancy
    forget_seconds: float = 10.0  # per-track state is dropped after this long unseen
    posture_events: bool = False  # also emit a "posture" event on each smoothed change
    counter: str = "pose"  # the Event.counter name of fall and posture events

    def __post_init__(self) -> None:
        if not 0.0 <= self.upright_angle < self.lying_angle <= 180.0:
            raise ValueError("need 0 <= upright_angle < lying_angle <= 180")
        if self.smoothing_frames < 1 or self.fall_window_seconds <= 0:
            raise ValueError("need smoothing_frames >= 1 and fall_window_seconds > 0")


def _midpoints(
    keypoints: FloatArray, visible: npt.NDArray[np.bool_], joints: Sequence[int]
) -> tuple[Points, npt.NDArray[np.bool_]]:
    """Mean (N, 2) position of the visible joints among `joints`, and whether any was visible."""
    index = list(joints)
    weight = visible[:, index].astype(np.float64)
    count = weight.sum(axis=1)
    total = (keypoints[:, index, :2].astype(np.float64) * weight[:, :, None]).sum(axis=1)
    return total / np.maximum(count, 1.0)[:, None], count > 0


def classify_postures(
    keypoints: FloatArray, xyxy: FloatArray, settings: PoseSettings | None = None
) -> list[Posture]:
    """One frame's posture per person, from (N, 17, 3) keypoints (x, y, score) and (N, 4) boxes.

    Torso angle (shoulder midpoint over hip midpoint) separates upright from
    lying; for an upright torso, how far the knees sit below the hips, relative
    to the torso's length, separates standing (thighs hang down) from sitting
    (thighs run forward, so the knees are near hip height in the picture, and
    the body is short for its torso). The box's aspect ratio decides when the
    torso is ambiguous or not visible.
    """
    s = settings or PoseSettings()
    kp = np.asarray(keypoints, np.float32).reshape(-1, 17, 3)
    boxes = np.asarray(xyxy, np.float64).reshape(-1, 4)
    visible = kp[:, :, 2] >= s.keypoint_threshold
    shoulder, has_shoulder = _midpoints(kp, visible, _SHOULDERS)
    hip, has_hip = _midpoints(kp, visible, _HIPS)
    torso = shoulder - hip
    torso_length = np.hypot(torso[:, 0], torso[:, 1])
    has_torso = has_shoulder & has_hip & (torso_length > 1.0)
    # 0 degrees: shoulders straight above hips (y grows downwards); 180: head down.
    angle = np.degrees(np.arctan2(np.abs(torso[:, 0]), -torso[:, 1]))
    size = boxes[:, 2:] - boxes[:, :2]
    wide = size[:, 0] >= s.lying_aspect_ratio * np.maximum(size[:, 1], 1e-6)

    # Thigh drop per side with both hip and knee visible, averaged over the sides.
    drop_sum = np.zeros(len(kp))
    sides = np.zeros(len(kp))
    for hip_joint, knee_joint in zip(_HIPS, _KNEES, strict=True):
        seen = visible[:, hip_joint] & visible[:, knee_joint]
        drop_sum += np.where(seen, kp[:, knee_joint, 1] - kp[:, hip_joint, 1], 0.0)
        sides += seen
    thigh_drop = drop_sum / np.maximum(sides, 1.0) / np.maximum(torso_length, 1e-6)
    has_legs = sides > 0

    upright = has_torso & (angle <= s.upright_angle)
    lying = has_torso & (angle >= s.lying_angle)
    lying |= has_torso & (angle > s.upright_angle) & wide  # leaning torso, flat body
    lying |= ~has_torso & wide
    # Knees near hip height alone also fit a walker in a long coat, whose hip
    # keypoints slide down to the hem; a seated body is also short for its torso.
    short = size[:, 1] < s.sitting_height_ratio * torso_length
    sitting = upright & has_legs & (thigh_drop < s.sitting_thigh_ratio) & short
    standing = upright & has_legs & (thigh_drop >= s.sitting_thigh_ratio)
    # Lying first: a flat body wins over whatever its legs seem to say.
    chosen = np.select([lying, standing, sitting], ["lying", "standing", "sitting"], "unknown")
    return cast("list[Posture]", chosen.tolist())


def pose_anchor_points(detections: Detections, keypoint_threshold: float = 0.3) -> Points:
    """Where each person touches the floor: ankle midpoint, else hip midpoint, else box bottom.

    Ankles are the foot point a box's bottom centre only approximates; a box
    stretched by an arm or cut by an obstacle moves its bottom, not the ankles.
    """
    boxes = detections.xyxy.astype(np.float64)
    anchors = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
    if detections.keypoints is None or not len(detections):
        return anchors
    kp = detections.keypoints
    visible = kp[:, :, 2] >= keypoint_threshold
    hip, has_hip = _midpoints(kp, visible, _HIPS)
    ankle, has_ankle = _midpoints(kp, visible, _ANKLES)
    anchors[has_hip] = hip[has_hip]
    anchors[has_ankle] = ankle[has_ankle]
    return anchors


def points_in_polygon(
    points: Points, polygon: Sequence[tuple[float, float]]
) -> npt.NDArray[np.bool_]:
    """Even-odd rule for (N, 2) points against one polygon, vectorised over the points."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    vertices = np.asarray(polygon, np.float64).reshape(-1, 2)
    x, y = p[:, 0:1], p[:, 1:2]
    x1, y1 = vertices[:, 0], vertices[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    # x of the edge at the point's height; the where() keeps horizontal edges finite.
    dy = np.where(y2 == y1, 1.0, y2 - y1)
    crossing_x = x1 + (y - y1) * (x2 - x1) / dy
    crossings = (straddles & (x < crossing_x)).sum(axis=1)
    return np.asarray(crossings % 2 == 1)


def count_in_zones(
    detections: Detections,
    zones: Mapping[str, Sequence[tuple[float, float]]],
    keypoint_threshold: float = 0.3,
) -> dict[str, int]:
    """People per zone now, each placed by its pose anchor (see `pose_anchor_points`)."""
    people = detections[detections.class_id == 0]  # COCO person
    anchors = pose_anchor_points(people, keypoint_threshold)
    return {name: int(points_in_polygon(anchors, polygon).sum()) for name, polygon in zones.items()}


@dataclass
class _TrackPose:
    """What the fall rule needs of one track; bounded deques, dropped when the track dies."""

    recent: deque[Posture]
    hips: deque[tuple[float, float]] = field(default_factory=deque)  # (timestamp, hip y)
    posture: Posture = "unknown"  # the smoothed one
    last_seen: float = 0.0
    last_standing: float | None = None
    standing_height: float = 0.0  # box height when last standing: the body's scale
    lying_since: float | None = None
    lying_was_fast: bool = False
    fell: bool = False  # a fall was reported; re-armed once the person stands again


class PoseAnalyzer:
    """Smoothed posture per track, posture counts for metrics, and fall events.

    Feed it every frame's tracked Detections (with keypoints) in time order.
    """

    def __init__(self, camera: str, settings: PoseSettings | None = None) -> None:
        self.camera = camera
        self.settings = settings or PoseSettings()
        self._tracks: dict[int, _TrackPose] = {}
        self._now = 0.0
        self.falls = 0

    def __len__(self) -> int:
        return len(self._tracks)

    def postures(self) -> dict[int, Posture]:
        """Smoothed posture of each track seen recently, by track id (for drawing)."""
        return {tid: t.posture for tid, t in self._tracks.items() if self._present(t)}

    def occupancy_by_posture(self) -> dict[str, int]:
        """People seen recently, by smoothed posture; every posture is a key, even at 0."""
        counts = Counter(t.posture for t in self._tracks.values() if self._present(t))
        return {posture: counts.get(posture, 0) for posture in POSTURES}

    def update(self, detections: Detections, frame_index: int, timestamp: float) -> list[Event]:
        """Advance every track seen in this frame; returns the fall (and posture) events."""
        self._now = timestamp
        events: list[Event] = []
        keypoints, track_ids = detections.keypoints, detections.tracker_id
        if keypoints is not None and track_ids is not None and len(detections):
            confirmed = track_ids >= 0  # unconfirmed detections carry track id -1
            keypoints, track_ids = keypoints[confirmed], track_ids[confirmed]
            boxes = detections.xyxy[confirmed]
            per_frame = classify_postures(keypoints, boxes, self.settings)
            visible = keypoints[:, :, 2] >= self.settings.keypoint_threshold
            hips, has_hips = _midpoints(keypoints, visible, _HIPS)
            heights = (boxes[:, 3] - boxes[:, 1]).astype(np.float64)
            for i, track_id in enumerate(track_ids.tolist()):
                hip_y = float(hips[i, 1]) if has_hips[i] else None
                events.extend(
                    self._observe(track_id, per_frame[i], hip_y, float(heights[i]),
                                  frame_index, timestamp)
                )  # fmt: skip
        self._forget(timestamp)
        return events

    def _observe(
        self,
        track_id: int,
        posture: Posture,
        hip_y: float | None,
        height: float,
        frame_index: int,
        timestamp: float,
    ) -> list[Event]:
        s = self.settings
        track = self._tracks.get(track_id)
        if track is None:
            track = _TrackPose(recent=deque(maxlen=s.smoothing_frames))
            self._tracks[track_id] = track
        track.last_seen = timestamp
        track.recent.append(posture)
        if hip_y is not None:
            track.hips.append((timestamp, hip_y))
        while track.hips and timestamp - track.hips[0][0] > s.fall_window_seconds:
            track.hips.popleft()
        previous, track.posture = track.posture, _vote(track.recent)
        events: list[Event] = []
        if s.posture_events and track.posture != previous and track.posture != "unknown":
            events.append(self._event(timestamp, "posture", track.posture, track_id, frame_index))
        if track.posture == "standing":
            track.last_standing, track.standing_height = timestamp, height
            track.lying_since, track.fell = None, False
        elif track.posture == "lying" and track.lying_since is None:
            track.lying_since = timestamp
            track.lying_was_fast = self._fast_drop(track, timestamp, hip_y)
        elif track.posture == "sitting":
            track.lying_since = None  # a lie-down through sitting is deliberate, not a fall
        # "unknown" keeps the current lying run: keypoints blur as a body hits the floor.
        if (
            track.posture == "lying"  # not while unknown: report only what is seen
            and track.lying_since is not None
            and track.lying_was_fast
            and not track.fell
            and timestamp - track.lying_since >= s.min_lying_seconds
        ):
            track.fell = True
            self.falls += 1
            events.append(self._event(timestamp, "fall", "down", track_id, frame_index))
        return events

    def _fast_drop(self, track: _TrackPose, timestamp: float, hip_y: float | None) -> bool:
        """Whether the track just went down fast: from standing, or with its hips falling."""
        s = self.settings
        if track.last_standing is None:
            return False  # never seen up: it may have been lying there all along
        if timestamp - track.last_standing <= s.fall_window_seconds:
            return True
        # Standing may have been lost to blur before the body landed; the hips still tell.
        if hip_y is None or track.standing_height <= 0 or not track.hips:
            return False
        highest = min(y for _, y in track.hips)  # within the window (older ones were dropped)
        return hip_y - highest >= s.hip_drop_fraction * track.standing_height

    def _event(
        self, timestamp: float, kind: Literal["fall", "posture"], direction: str,
        track_id: int, frame_index: int,
    ) -> Event:  # fmt: skip
        # The cast is needed only until EventKind lists "fall" and "posture".
        return Event(
            timestamp, self.camera, self.settings.counter, cast("EventKind", kind),
            "person", direction, track_id, frame_index,
        )  # fmt: skip

    def _present(self, track: _TrackPose) -> bool:
        return self._now - track.last_seen <= self.settings.present_seconds

    def _forget(self, timestamp: float) -> None:
        stale = [
            tid for tid, t in self._tracks.items()
            if timestamp - t.last_seen > self.settings.forget_seconds
        ]  # fmt: skip
        for track_id in stale:
            del self._tracks[track_id]


def _vote(recent: deque[Posture]) -> Posture:
    """Most frequent known posture in the window, the newest winning ties; else unknown."""
    known = [p for p in recent if p != "unknown"]
    if not known:
        return "unknown"
    counts = Counter(known)
    best = max(counts.values())
    return next(p for p in reversed(known) if counts[p] == best)
