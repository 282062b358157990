"""One pass over a clip: the real pipeline counts, and each line's strips and thumbnails."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from aistack.analytics.camera import FrameResult
from aistack.analytics.geometry import along_segment, anchor_points, signed_distance, to_pixels
from aistack.analytics.pose import pose_anchor_points
from aistack.audit.strips import LineGeometry, StripRecorder, Strips
from aistack.audit.thumbnails import Thumbnails
from aistack.config import AppConfig
from aistack.pipeline.wiring import Pipeline
from aistack.types import Detections, Event

HISTORY_SECONDS = 2.0  # how far back a counted track's side is looked up


@dataclass(frozen=True)
class CountedCrossing:
    """A crossing the pipeline counted, dated as crossings.csv dates crossings.

    `frame` is the event's: the frame its anchor last stepped over the line, the first
    of the run of frames on the new side that ended in the count; `counted_frame` is
    when the counter confirmed it (later, by the band and `counting.min_frames`).
    """

    frame: int
    counted_frame: int
    direction: str
    class_name: str
    track_id: int
    position: float | None  # of the anchor along the line, 0 at P1, 1 at P2
    extent: tuple[float, float] | None  # the span of the track's box along the line, then


@dataclass
class LineRecording:
    """What one pass recorded for one line."""

    geometry: LineGeometry
    strips: Strips
    thumbnails: Thumbnails
    counted: list[CountedCrossing]


@dataclass
class Recording:
    """A clip read once: its frames, rate and size, and each line's recording."""

    clip: str
    fps: float
    frames: int
    first_frame: int
    seconds: float
    lines: list[LineRecording] = field(default_factory=list)


@dataclass(frozen=True)
class _Seen:
    """A track in one frame, as one line sees it."""

    frame: int
    distance: float  # signed, pixels: > 0 on the in side
    position: float  # of the anchor along the line
    span: tuple[float, float]  # of the box along the line


class _LineState:
    """Strips, thumbnails and the recent sides of every track, for one line."""

    def __init__(self, geometry: LineGeometry, history: int) -> None:
        self.geometry = geometry
        self.strips = StripRecorder(geometry)
        self.thumbnails = Thumbnails(geometry)
        self.counted: list[CountedCrossing] = []
        self._history = history
        # track id -> recent (frame, signed distance, position along the line, box's span)
        self._sides: dict[int, deque[_Seen]] = {}

    def observe(self, frame: int, detections: Detections, anchor: str) -> None:
        if detections.tracker_id is None or not len(detections):
            return
        anchors = (
            pose_anchor_points(detections)
            if anchor == "keypoints"
            else anchor_points(detections.xyxy, anchor)  # type: ignore[arg-type]
        )
        points = self.geometry.points
        distances = signed_distance(anchors, points)
        positions = along_segment(anchors, points)
        x1, y1, x2, y2 = (detections.xyxy[:, i] for i in range(4))
        corners = np.stack([along_segment(np.stack([x, y], axis=1), points)
                            for x, y in ((x1, y1), (x1, y2), (x2, y1), (x2, y2))])  # fmt: skip
        spans = np.clip(np.stack([corners.min(axis=0), corners.max(axis=0)], axis=1), 0.0, 1.0)
        for track_id, distance, position, span in zip(
            detections.tracker_id.tolist(), distances.tolist(), positions.tolist(),
            spans.tolist(), strict=True,
        ):  # fmt: skip
            if track_id >= 0:
                sides = self._sides.setdefault(track_id, deque(maxlen=self._history))
                sides.append(_Seen(frame, distance, position, (span[0], span[1])))

    def count(self, event: Event, counted_frame: int) -> None:
        """Record a counted crossing, dated as the counter dates its events; where along
        the line its track was then comes from the track's recent sides."""
        seen = next(
            (s for s in self._sides.get(event.track_id, ()) if s.frame == event.frame_index),
            None,
        )
        self.counted.append(
            CountedCrossing(
                event.frame_index, counted_frame, event.direction, event.class_name,
                event.track_id,
                None if seen is None else min(1.0, max(0.0, seen.position)),
                None if seen is None else seen.span,
            )
        )  # fmt: skip

    def forget(self, frame: int) -> None:
        """Drop tracks not seen for a while, so memory stays bounded on long clips."""
        stale = [t for t, s in self._sides.items() if s and frame - s[-1].frame > 4 * self._history]
        for track_id in stale:
            del self._sides[track_id]


def record(config: AppConfig, max_frames: int | None = None, progress: bool = True) -> Recording:
    """Run the pipeline on the config's one camera, recording every line of it."""
    camera = config.cameras[0]
    anchor = config.counting.anchor
    states: dict[str, _LineState] = {}
    first_frame: list[int] = []
    pipeline: Pipeline

    def on_result(result: FrameResult) -> None:
        frame = result.frame
        if not states:
            fps = pipeline.feeds[0].fps or 25.0
            history = max(4, round(HISTORY_SECONDS * fps))
            for line in camera.lines:
                points = to_pixels(list(line.points), frame.width, frame.height)
                geometry = LineGeometry.of(
                    line.name, (points[0], points[1], points[2], points[3]),
                    (frame.width, frame.height),
                )  # fmt: skip
                states[line.name] = _LineState(geometry, history)
            first_frame.append(frame.index)
        for state in states.values():
            state.strips.add(frame.image, frame.index)
            state.thumbnails.add(frame.image, frame.index)
            state.observe(frame.index, result.detections, anchor)
        for event in result.events:
            if event.kind == "crossing" and event.counter in states:
                states[event.counter].count(event, frame.index)
        if frame.index % 100 == 0:
            for state in states.values():
                state.forget(frame.index)

    started = time.perf_counter()
    pipeline = Pipeline(
        config, pace="unpaced", progress=progress, on_result=on_result, max_frames=max_frames
    )
    summary = pipeline.run()
    fps = pipeline.feeds[0].fps or 25.0
    return Recording(
        clip=camera.source.uri,
        fps=float(fps),
        frames=summary.frames,
        first_frame=first_frame[0] if first_frame else 0,
        seconds=time.perf_counter() - started,
        lines=[
            LineRecording(s.geometry, s.strips.strips(), s.thumbnails, s.counted)
            for s in states.values()
        ],
    )
