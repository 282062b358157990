"""One camera's analytics state: its tracker, class votes, line and zone counters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aistack.analytics.geometry import polygon_meets_frame, segment_meets_frame, to_pixels
from aistack.analytics.lines import LineCounter, LineTotals
from aistack.analytics.pose import PoseAnalyzer, PoseSettings
from aistack.analytics.track_classes import TrackClassVote
from aistack.analytics.tracking import Tracker, make_tracker
from aistack.analytics.zones import ZoneCounter
from aistack.classes import COCO_CLASSES
from aistack.config import CameraConfig, CountingConfig, PoseConfig, TrackerConfig
from aistack.errors import ConfigError
from aistack.types import Detections, Event, Frame


@dataclass(frozen=True)
class FrameResult:
    """What one frame produced: its tracked detections and the events they completed.

    `postures` is each track's smoothed posture when pose analytics are on, for drawing.
    """

    frame: Frame
    detections: Detections
    events: list[Event]
    postures: dict[int, str] = field(default_factory=dict)


class CameraAnalytics:
    """Tracks and counts for one camera; owns no threads and does no I/O."""

    def __init__(
        self,
        config: CameraConfig,
        tracker: TrackerConfig,
        counting: CountingConfig,
        fps: float,
        frame_size: tuple[int, int],
        pose: PoseConfig | None = None,
    ) -> None:
        width, height = frame_size
        self.name = config.name
        self.config = config
        # Forget per-track state a little after the tracker itself gives a track up.
        forget_after = max(30, int(fps * tracker.lost_track_seconds * 2))
        self.tracker: Tracker = make_tracker(tracker, fps)
        self.votes = TrackClassVote(forget_after)
        self.lines = [
            LineCounter(
                line.name,
                tuple(to_pixels(list(line.points), width, height)),  # type: ignore[arg-type]
                config.name, counting, forget_after,
            )
            for line in config.lines
        ]  # fmt: skip
        self.zones = [
            ZoneCounter(
                zone.name,
                _pairs(to_pixels([v for p in zone.polygon for v in p], width, height)),
                config.name, counting, forget_after, present_within=max(2, round(fps / 2)),
            )
            for zone in config.zones
        ]  # fmt: skip
        self.pose: PoseAnalyzer | None = None
        if pose is not None and pose.enabled:
            settings = PoseSettings(
                **pose.model_dump(exclude={"enabled"}),
                forget_seconds=max(10.0, 2 * tracker.lost_track_seconds),
            )
            self.pose = PoseAnalyzer(config.name, settings)
        self._class_ids = (
            None if config.classes is None
            else np.asarray([COCO_CLASSES.index(c) for c in config.classes], np.int64)
        )  # fmt: skip

    def process(self, frame: Frame, detections: Detections) -> FrameResult:
        if self._class_ids is not None and len(detections):
            detections = detections[np.isin(detections.class_id, self._class_ids)]
        tracked = self.tracker.update(detections)
        tracked = self.votes.apply(tracked, frame.index)
        events: list[Event] = []
        for line in self.lines:
            events.extend(line.update(tracked, frame.index, frame.timestamp))
        for zone in self.zones:
            events.extend(zone.update(tracked, frame.index, frame.timestamp))
        if self.pose is None:
            return FrameResult(frame, tracked, events)
        events.extend(self.pose.update(tracked, frame.index, frame.timestamp))
        return FrameResult(frame, tracked, events, dict(self.pose.postures()))

    def line_totals(self) -> list[LineTotals]:
        return [line.totals() for line in self.lines]

    def zone_view(self) -> list[tuple[str, list[tuple[float, float]], int]]:
        return [(z.name, z.polygon, sum(z.occupancy().values())) for z in self.zones]


def _pairs(values: tuple[float, ...]) -> list[tuple[float, float]]:
    return [(values[i], values[i + 1]) for i in range(0, len(values), 2)]


def check_counters_inside(config: CameraConfig, index: int, frame_size: tuple[int, int]) -> None:
    """Refuse a line or zone wholly outside the frame: it could never count anything.

    Usually pixel coordinates meant for another resolution. `index` is the camera's
    place in the config, for the error's field.
    """
    width, height = frame_size
    if width <= 0 or height <= 0:
        return
    size = f"{width}x{height}"
    hint = f"give pixels within {size}, or fractions 0-1 of the frame"
    for number, line in enumerate(config.lines):
        points = to_pixels(list(line.points), width, height)
        if not segment_meets_frame(points, width, height):
            x1, y1, x2, y2 = points
            raise ConfigError(
                f"line {line.name!r} from ({x1:g}, {y1:g}) to ({x2:g}, {y2:g}) lies wholly "
                f"outside the {size} frame of camera {config.name!r}; {hint}"
            ).at("cameras", index, "lines", number)
    for number, zone in enumerate(config.zones):
        polygon = _pairs(to_pixels([v for p in zone.polygon for v in p], width, height))
        if not polygon_meets_frame(polygon, width, height):
            raise ConfigError(
                f"zone {zone.name!r} lies wholly outside the {size} frame of camera "
                f"{config.name!r}; {hint}"
            ).at("cameras", index, "zones", number)
