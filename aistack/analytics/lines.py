"""Count tracked objects crossing a line, per class and direction, without jitter counts.

Written here rather than using `supervision.LineZone` because that counts every
flip of a track (no once-per-direction rule), uses the opposite in/out
convention to ours, and has no distance hysteresis, which is what turns foot
jitter on the line into phantom crossings on real footage.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from aistack.analytics.crossing_rules import (
    MotionLimits,
    crossing_position,
    jump_free_distance,
    one_person,
    size_change,
    trailing_outliers,
    velocity,
)
from aistack.analytics.geometry import along_segment, anchor_points, signed_distance
from aistack.analytics.pose import pose_anchor_points
from aistack.analytics.track_history import TrackHistory
from aistack.classes import PRESETS
from aistack.config import CountingConfig
from aistack.types import Detections, Event

VEHICLES = frozenset(PRESETS["traffic"])


@dataclass
class _TrackSide:
    side: int = 0  # confirmed side: -1, +1, or 0 while unknown
    candidate: int = 0
    candidate_frames: int = 0
    counted: set[str] = field(default_factory=set)
    last_seen: int = 0
    first_time: float = math.nan  # when the track was first seen
    last_time: float = 0.0
    left_time: float = -math.inf  # last seen clear of the band on its confirmed side
    stitched: bool = False  # its hidden crossing was handed on to a new track
    # Which side of the line itself (no band) the anchor is on, and the frame and time it
    # was first seen there: when a crossing counts, that is when it happened.
    line_side: int = 0
    line_side_frame: int = 0
    line_side_time: float = 0.0


@dataclass(frozen=True)
class _Counted:
    time: float
    direction: str
    track_id: int


@dataclass(frozen=True)
class LineTotals:
    """Counts of one line so far."""

    name: str
    points: tuple[float, float, float, float]
    counts: dict[tuple[str, str], int]  # (class, direction) -> count

    @property
    def total_in(self) -> int:
        return sum(n for (_, d), n in self.counts.items() if d == "in")

    @property
    def total_out(self) -> int:
        return sum(n for (_, d), n in self.counts.items() if d == "out")

    def by_class(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for (name, direction), n in sorted(self.counts.items()):
            result.setdefault(name, {"in": 0, "out": 0})[direction] += n
        return result


class LineCounter:
    """Counts crossings of the segment P1→P2 by tracked anchors.

    A track has a confirmed side. It changes only when the anchor is clear of the
    line by `max(min_distance, min_distance_fraction × box height)` pixels for
    `min_frames` consecutive clear observations (frames inside that band are
    neutral), and only a change whose anchor lies
    within the segment's extent counts. Each track counts at most once per
    direction. Per-track state is dropped once a track has not been seen for
    `forget_after` frames.
    """

    def __init__(
        self,
        name: str,
        points: tuple[float, float, float, float],
        camera: str = "camera",
        settings: CountingConfig | None = None,
        forget_after: int = 300,
    ) -> None:
        self.name = name
        self.points = points
        self.camera = camera
        self.settings = settings or CountingConfig()
        self.forget_after = forget_after
        self._tracks: dict[int, _TrackSide] = {}
        self._counts: Counter[tuple[str, str]] = Counter()
        settings = self.settings
        # People and vehicles move differently: a person's box cannot outrun max_speed nor
        # change size beyond height_ratio; a car's box moves ten times faster, and grows fast
        # as it drives towards the camera, so vehicles get their own speed and no size bound.
        self._limits = MotionLimits(
            settings.max_speed,
            settings.min_distance_fraction,
            settings.min_distance,
            settings.height_ratio,
        )
        self._vehicle_limits = MotionLimits(
            settings.vehicle_max_speed, settings.min_distance_fraction, settings.min_distance
        )
        uses_history = settings.motion_direction or settings.duplicates or settings.stitch
        keep = 2 * max(settings.motion_seconds, settings.duplicate_seconds)
        self._history = TrackHistory(keep) if uses_history else None
        self._recent: deque[_Counted] = deque()  # counted crossings, for the duplicate rule

    @property
    def tracked(self) -> int:
        """How many tracks the counter holds state for (bounded by pruning)."""
        return len(self._tracks)

    def totals(self) -> LineTotals:
        return LineTotals(self.name, self.points, dict(self._counts))

    def update(self, detections: Detections, frame_index: int, timestamp: float) -> list[Event]:
        """Feed one frame of tracked detections; return the crossings it completed."""
        events: list[Event] = []
        if detections.tracker_id is not None and len(detections):
            events = self._observe(detections, frame_index, timestamp)
        self._forget(frame_index)
        return events

    def _observe(self, detections: Detections, frame_index: int, timestamp: float) -> list[Event]:
        assert detections.tracker_id is not None
        settings = self.settings
        anchors = (
            pose_anchor_points(detections)
            if settings.anchor == "keypoints"
            else anchor_points(detections.xyxy, settings.anchor)
        )
        distance = signed_distance(anchors, self.points)
        boxes = detections.xyxy.astype(np.float64)
        heights = boxes[:, 3] - boxes[:, 1]
        band = np.maximum(settings.min_distance, settings.min_distance_fraction * heights)
        observed = np.where(distance > band, 1, np.where(distance < -band, -1, 0))
        position = along_segment(anchors, self.points)
        within = (position >= 0.0) & (position <= 1.0)
        track_ids = detections.tracker_id.tolist()
        present = set(track_ids)

        events = []
        for i, track_id in enumerate(track_ids):
            if track_id < 0:
                continue
            state = self._tracks.setdefault(track_id, _TrackSide(first_time=timestamp))
            state.last_seen, state.last_time = frame_index, timestamp
            if self._history is not None:
                self._history.add(track_id, timestamp, boxes[i], anchors[i])
            line_side = 1 if distance[i] > 0 else -1 if distance[i] < 0 else state.line_side
            if line_side != state.line_side:
                state.line_side, state.line_side_frame = line_side, frame_index
                state.line_side_time = timestamp
            side = int(observed[i])
            if side == 0:
                continue  # inside the band: no evidence either way
            class_name = detections.class_name(int(detections.class_id[i]))
            if state.side == 0:
                # The first clear sighting sets the side; nothing is counted, so there is
                # no glitch to guard against, and a track entering at the frame edge just
                # before the line keeps its chance to count. Unless it is a lost track's
                # person, seen again on the other side (the stitch rule).
                state.side, state.left_time = side, timestamp
                if settings.stitch and not state.stitched:
                    event = self._stitch(track_id, side, boxes[i], anchors[i], present,
                                         class_name, frame_index, timestamp)  # fmt: skip
                    events += [event] if event is not None else []
                continue
            if side == state.side:
                state.candidate, state.candidate_frames = 0, 0
                state.left_time = timestamp
                continue
            if side != state.candidate:
                state.candidate, state.candidate_frames = side, 0
            state.candidate_frames += 1
            if state.candidate_frames < settings.min_frames:
                continue
            if settings.motion_direction and self._flickering(track_id, class_name):
                continue  # this box is bad: judge the change on the next good one
            left_time = state.left_time
            state.side, state.left_time = side, timestamp
            state.candidate, state.candidate_frames = 0, 0
            if not within[i]:
                continue
            direction = "in" if side > 0 else "out"
            if direction in state.counted:
                continue
            if settings.motion_direction and not self._moved_across(
                track_id, side, left_time, float(band[i]), self._limits_of(class_name)
            ):
                continue  # a jump, not a walk: the track is on the new side, uncounted
            event = self._count(track_id, state, direction, class_name, frame_index, timestamp)
            events += [event] if event is not None else []
        return events

    def _limits_of(self, class_name: str) -> MotionLimits:
        return self._limits if class_name not in VEHICLES else self._vehicle_limits

    def _flickering(self, track_id: int, class_name: str) -> bool:
        """Whether the track's newest box is a bad one (a flicker) within the few that
        `jump_free_distance` steps over, so that a judgement must wait for the next box."""
        assert self._history is not None
        recent = self._history.of(track_id)
        return trailing_outliers(recent, self._limits_of(class_name)) > 0

    def _moved_across(
        self, track_id: int, side: int, left_time: float, band: float, limits: MotionLimits
    ) -> bool:
        """Whether the track's own motion, jumps taken out, carried it clear of the band on
        `side`, from where it was last clear on its old side (jumps before that, all on
        one side, do not matter)."""
        assert self._history is not None
        observations = self._history.of(track_id).since(left_time)
        return jump_free_distance(observations, self.points, limits) * side > band

    def _count(
        self,
        track_id: int,
        state: _TrackSide,
        direction: str,
        class_name: str,
        frame_index: int,
        timestamp: float,
    ) -> Event | None:
        """Count the crossing, unless another track on the same person just counted it.

        The event carries the frame and time the anchor stepped over the line, not the
        later ones when the band and `min_frames` confirmed it: a slow walker takes a
        second or more to clear the band."""
        state.counted.add(direction)
        if self.settings.duplicates and self._duplicate(track_id, direction, timestamp):
            return None
        self._counts[(class_name, direction)] += 1
        if state.line_side == (1 if direction == "in" else -1):
            frame_index, timestamp = state.line_side_frame, state.line_side_time
        return Event(
            timestamp=timestamp,
            camera=self.camera,
            counter=self.name,
            kind="crossing",
            class_name=class_name,
            direction=direction,
            track_id=track_id,
            frame_index=frame_index,
        )

    def _duplicate(self, track_id: int, direction: str, timestamp: float) -> bool:
        """Whether a track on the same person counted this direction within
        `duplicate_seconds`; this crossing is remembered for the ones after it."""
        assert self._history is not None
        window = self.settings.duplicate_seconds
        while self._recent and timestamp - self._recent[0].time > window:
            self._recent.popleft()
        mine = self._history.of(track_id).since(timestamp - window)
        for other in self._recent:
            if other.direction != direction or other.track_id == track_id:
                continue
            theirs = self._history.of(other.track_id).since(timestamp - window)
            if one_person(mine, theirs, self.settings.duplicate_overlap):
                return True
        self._recent.append(_Counted(timestamp, direction, track_id))
        return False

    def _stitch(
        self,
        track_id: int,
        side: int,
        box: np.ndarray,
        anchor: np.ndarray,
        present: set[int],
        class_name: str,
        frame_index: int,
        timestamp: float,
    ) -> Event | None:
        """A track that appeared after another was lost on the other side, seen clear on
        `side` within `stitch_seconds` of the loss where the lost one's motion predicts:
        the lost person crossed hidden."""
        assert self._history is not None
        settings = self.settings
        direction = "in" if side > 0 else "out"
        height = float(box[3] - box[1])
        appeared = self._tracks[track_id].first_time
        best: tuple[float, int, float] | None = None
        for other_id, other in self._tracks.items():
            gap = timestamp - other.last_time
            if (
                other_id in present or other.side != -side or other.stitched
                or direction in other.counted or not other.last_time < appeared
                or gap > settings.stitch_seconds
            ):  # fmt: skip
                continue
            seen = self._history.of(other_id)
            if not len(seen):
                continue
            last_height = float(seen.heights[-1])
            recent = seen.since(seen.time[-1] - settings.motion_seconds)
            predicted = seen.anchors[-1] + velocity(recent, self._limits_of(class_name)) * gap
            miss = float(np.linalg.norm(anchor - predicted)) / last_height
            resized = float(size_change(height, last_height))
            if miss > settings.stitch_distance or resized > settings.height_ratio:
                continue
            # It must have been lost before the line, and crossed it (within the segment)
            # while hidden: a track already past the line when lost crossed in sight.
            last_side = float(signed_distance(seen.anchors[-1:], self.points)[0]) * side
            if (
                last_side >= 0
                or not 0 <= crossing_position(seen.anchors[-1], anchor, self.points) <= 1
            ):
                continue
            if best is None or miss < best[0]:
                best = (miss, other_id, last_side)
        if best is None:
            return None
        lost = self._tracks[best[1]]
        # If the tracker finds the lost track again, its side is whatever it is seen on
        # then, and nothing is counted: over there it crossed (counted here), and back on
        # the old side it never crossed, so its return must not count as a crossing back.
        lost.stitched, lost.side = True, 0
        lost.counted.add(direction)
        state = self._tracks[track_id]
        # Hidden, the person stepped over the line somewhere between the two sightings:
        # where the straight path between them meets it, in time as along the path.
        before = -best[2]
        after = float(signed_distance(anchor[None, :], self.points)[0]) * side
        share = before / (before + after) if before + after > 0 else 1.0
        state.line_side_frame = lost.last_seen + round(share * (frame_index - lost.last_seen))
        state.line_side_time = lost.last_time + share * (timestamp - lost.last_time)
        return self._count(track_id, state, direction, class_name, frame_index, timestamp)

    def _forget(self, frame_index: int) -> None:
        stale = [
            t for t, s in self._tracks.items() if frame_index - s.last_seen > self.forget_after
        ]
        for track_id in stale:
            del self._tracks[track_id]
            if self._history is not None:
                self._history.forget(track_id)
