"""Accuracy of a clip's counts (and tracks) against MOTChallenge ground truth or crossings.csv.

The true crossings of MOT ground truth come from its tracks fed through the same
`LineCounter` the pipeline uses (same anchor, band, persistence, segment extent and
once-per-direction rule), so truth and prediction differ only where the detector and
tracker do, never in geometry. A crossings.csv gives the true crossings directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from aistack.analytics.camera import FrameResult
from aistack.analytics.geometry import to_pixels
from aistack.analytics.lines import LineCounter, LineTotals
from aistack.classes import COCO_CLASSES
from aistack.config import (
    AppConfig,
    CameraConfig,
    CountingConfig,
    LineConfig,
    parse_line,
    source_kind,
)
from aistack.detect import Detector
from aistack.errors import ConfigError, SourceError
from aistack.evaluation.crossings import Crossing, read_crossings
from aistack.evaluation.figures import accuracy_figures, publish
from aistack.evaluation.matching import crossings_from_events, match_crossings, match_tolerance
from aistack.evaluation.mot import TrackBoxes, load_ground_truth, tracking_metrics
from aistack.evaluation.result import EvalResult, LineAccuracy, weighted_count_error
from aistack.evaluation.truth import TruthFile, crossings_truth, mot_truth
from aistack.types import Detections

__all__ = [
    "EvalResult",
    "LineAccuracy",
    "TrueCrossings",
    "accuracy_figures",
    "evaluate",
    "publish",
    "true_crossings",
    "true_line_counts",
    "truth_classes",
    "weighted_count_error",
]

log = logging.getLogger("aistack.evaluation")


def evaluate(
    clip: Path | str,
    gt_path: Path | str | None = None,
    lines: Sequence[str | LineConfig] = (),
    config: AppConfig | None = None,
    *,
    crossings: Path | str | None = None,
    gt_format: str = "auto",
    gt_classes: Mapping[int, str] | None = None,
    match_frames: int | None = None,
    max_frames: int | None = None,
    detector: Detector | None = None,
    progress: bool = False,
) -> EvalResult:
    """Run the real pipeline once on `clip` and score it against one kind of truth.

    The truth is either MOTChallenge ground truth (`gt_path`, read as `gt_format`:
    auto, mot15, mot16 or aistack; tracks and line counts are scored) or a
    crossings.csv (`crossings`; line counts only, `tracking` is None). `lines` are
    `[NAME=]X1,Y1,X2,Y2` strings (pixels, or fractions when all are 0-1) or
    LineConfigs. `config` gives the detector, tracker, counting and pipeline
    settings; its cameras are replaced by the clip. Without a config, the defaults
    are used and only the classes the truth labels are detected, so unlabelled
    things are not false positives. `gt_classes` maps the class column to COCO
    names (see `aistack.evaluation.mot.parse_gt_classes`). Counted and true
    crossings pair within `match_frames` frames (default: one second of the clip).
    `max_frames` stops after that many frames and scores only the truth before it.
    """
    started = time.perf_counter()
    camera = _camera(clip, lines)
    if match_frames is not None and match_frames < 0:
        raise ConfigError(f"--match-frames {match_frames}: must be 0 or more")
    if (gt_path is None) == (crossings is None):
        raise ConfigError("evaluate: give MOT ground truth (--gt) or a crossings file "
                          "(--truth), exactly one")  # fmt: skip
    truth = _truth(gt_path, crossings, gt_format, gt_classes, camera)
    if config is None:
        config = _default_config(truth.classes)
    run_config = config.model_copy(update={"cameras": [camera]})
    classes = tuple(run_config.detector.classes)
    run = _run(run_config, detector, progress, max_frames)
    truth = truth.within(run.frames, cut=max_frames is not None and run.frames >= max_frames)
    truth = truth.of_classes(classes)
    if truth.boxes is None:
        true_lines, true_events = truth.totals(run.lines), list(truth.crossings)
    else:
        found = true_crossings(
            truth.boxes, camera.lines, config.counting, run.frames, run.size, run.fps
        )
        true_lines, true_events = found.totals, found.crossings
    tolerance = match_frames if match_frames is not None else match_tolerance(run.fps)
    tracking = (
        None if truth.boxes is None else tracking_metrics(truth.boxes, run.boxes, truth.ignored)
    )
    return EvalResult(
        clip=str(clip),
        ground_truth=str(truth.path),
        frames=run.frames,
        classes=classes,
        tracking=tracking,
        lines=[
            LineAccuracy(
                p.name,
                p.points,
                t,
                p,
                match_crossings(p.name, true_events, run.crossings, tolerance),
            )
            for t, p in zip(true_lines, run.lines, strict=True)
        ],
        seconds=time.perf_counter() - started,
        truth_format=truth.format,
        pipeline_seconds=run.seconds,
        clip_fps=run.fps,
        match_frames=tolerance,
    )


def _truth(
    gt_path: Path | str | None,
    crossings: Path | str | None,
    gt_format: str,
    gt_classes: Mapping[int, str] | None,
    camera: CameraConfig,
) -> TruthFile:
    if gt_path is not None:
        return mot_truth(load_ground_truth(gt_path, gt_classes, gt_format))
    assert crossings is not None  # evaluate() checked that exactly one is given
    return crossings_truth(Path(crossings), read_crossings(crossings), camera)


def truth_classes(
    gt_path: Path | str | None = None,
    crossings: Path | str | None = None,
    gt_format: str = "auto",
    gt_classes: Mapping[int, str] | None = None,
) -> list[str]:
    """The COCO classes a truth file labels: what eval detects unless told otherwise."""
    if crossings is not None:
        return sorted({c.class_name for c in read_crossings(crossings)}, key=COCO_CLASSES.index)
    if gt_path is None:
        return []
    return load_ground_truth(gt_path, gt_classes, gt_format).boxes.class_names()


def _default_config(classes: Sequence[str]) -> AppConfig:
    return AppConfig.model_validate(
        {
            "cameras": [{"source": {"uri": "unused"}}],  # a config needs one; evaluate() sets it
            "detector": {"classes": list(classes) or ["person"]},
            "metrics": {"enabled": False},
        }
    )


def _camera(clip: Path | str, lines: Sequence[str | LineConfig]) -> CameraConfig:
    if source_kind(str(clip)) != "file":
        raise ConfigError(f"CLIP {clip}: eval needs a video file, not a stream or webcam")
    parsed = [
        line.model_dump() if isinstance(line, LineConfig) else parse_line(line, i)
        for i, line in enumerate(lines)
    ]
    try:
        return CameraConfig.model_validate(
            {"name": "eval", "source": {"uri": str(clip), "type": "file"}, "lines": parsed}
        )
    except ValidationError as error:
        problems = "; ".join(str(p["msg"]).removeprefix("Value error, ") for p in error.errors())
        raise ConfigError(f"--line: {problems}") from None


@dataclass(frozen=True)
class _Run:
    """What one pipeline run over the clip produced."""

    boxes: TrackBoxes
    crossings: list[Crossing]
    frames: int
    size: tuple[int, int]
    fps: float  # the clip's
    lines: list[LineTotals]
    seconds: float  # the pipeline's own run


def _run(
    config: AppConfig, detector: Detector | None, progress: bool, max_frames: int | None
) -> _Run:
    from aistack.pipeline.wiring import Pipeline  # the pipeline's threads load only when run

    parts: list[TrackBoxes] = []
    events = []
    size: list[tuple[int, int]] = []

    def collect(result: FrameResult) -> None:
        found, ids = result.detections, result.detections.tracker_id
        if ids is not None and len(found):
            confirmed = ids >= 0  # -1: a detection not yet confirmed as a track
            frame = np.full(int(confirmed.sum()), result.frame.index)
            xyxy = found.xyxy[confirmed].astype(np.float64)
            parts.append(TrackBoxes(frame, ids[confirmed], xyxy, found.class_id[confirmed]))
        events.extend(result.events)
        if not size:
            size.append((result.frame.width, result.frame.height))

    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"--max-frames {max_frames}: must be 1 or more")
    pipeline = Pipeline(config, detector=detector, pace="unpaced", progress=progress,
                        on_result=collect, max_frames=max_frames)  # fmt: skip
    fps = pipeline.feeds[0].fps or 25.0
    summary = pipeline.run()
    if not size:
        raise SourceError(f"{config.cameras[0].source.uri}: the clip has no frames")
    camera = summary.cameras[0]
    return _Run(TrackBoxes.concat(parts), crossings_from_events(events), camera.frames, size[0],
                fps, camera.lines, summary.seconds)  # fmt: skip


@dataclass(frozen=True)
class TrueCrossings:
    """The crossings of ground-truth tracks: each line's totals, and every crossing's frame."""

    totals: list[LineTotals]
    crossings: list[Crossing] = field(default_factory=list)


def true_crossings(
    truth: TrackBoxes,
    lines: Iterable[LineConfig],
    counting: CountingConfig,
    frames: int,
    size: tuple[int, int],
    fps: float = 25.0,
) -> TrueCrossings:
    """The crossings of ground-truth tracks, counted by the pipeline's own LineCounter.

    Each true track is a tracked detection whose track id is its ground-truth id.
    The counter never forgets a track here: a true identity survives any
    occlusion, so the truth is not limited by how long a tracker can wait. The
    rules that guard against imperfect tracks (motion direction, duplicates,
    stitching; docs/counting.md) are off: a true track neither jumps nor doubles.
    """
    counting = counting.model_copy(
        update={"motion_direction": False, "duplicates": False, "stitch": False}
    )
    width, height = size
    counters = [
        LineCounter(
            line.name,
            tuple(to_pixels(list(line.points), width, height)),  # type: ignore[arg-type]
            "truth",
            counting,
            forget_after=frames + 1,
        )
        for line in lines
    ]
    events = []
    for frame, boxes in truth.by_frame(frames):
        detections = Detections(
            xyxy=boxes.xyxy.astype(np.float32),
            confidence=np.ones(len(boxes), np.float32),
            class_id=boxes.class_id,
            tracker_id=boxes.track_id,
            class_names=COCO_CLASSES,
        )
        for counter in counters:
            events.extend(counter.update(detections, frame, frame / fps))
    return TrueCrossings(
        [counter.totals() for counter in counters],
        [
            Crossing(c.line, c.frame, c.direction, c.class_name, c.note.replace("track", "gt id"))
            for c in crossings_from_events(events)
        ],
    )


def true_line_counts(
    truth: TrackBoxes,
    lines: Iterable[LineConfig],
    counting: CountingConfig,
    frames: int,
    size: tuple[int, int],
) -> list[LineTotals]:
    """Each line's totals from `true_crossings` (kept for callers that need only those)."""
    return true_crossings(truth, lines, counting, frames, size).totals
