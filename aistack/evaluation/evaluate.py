"""Accuracy of a clip's counts and tracks against MOTChallenge ground truth.

The true crossings come from the ground-truth tracks fed through the same
`LineCounter` the pipeline uses (same anchor, band, persistence, segment extent
and once-per-direction rule), so truth and prediction differ only where the
detector and tracker do, never in geometry.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
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
from aistack.evaluation.mot import (
    GroundTruth,
    TrackBoxes,
    TrackingMetrics,
    load_ground_truth,
    tracking_metrics,
)
from aistack.types import Detections

__all__ = [
    "EvalResult",
    "LineAccuracy",
    "accuracy_figures",
    "evaluate",
    "publish",
    "true_line_counts",
]

log = logging.getLogger("aistack.evaluation")

DIRECTIONS = ("in", "out")


@dataclass(frozen=True)
class LineAccuracy:
    """One line's true and predicted crossings, by class and direction."""

    name: str
    points: tuple[float, float, float, float]  # pixels
    truth: LineTotals
    predicted: LineTotals

    def error(self, direction: str, class_name: str | None = None) -> int:
        """Predicted minus true crossings: > 0 over-counts, < 0 misses."""
        return _count(self.predicted, direction, class_name) - _count(
            self.truth, direction, class_name
        )

    def abs_pct_error(self, direction: str, class_name: str | None = None) -> float | None:
        """|error| as a percentage of the truth; None when the truth is 0 but not the count."""
        truth = _count(self.truth, direction, class_name)
        error = abs(self.error(direction, class_name))
        if truth == 0:
            return 0.0 if error == 0 else None
        return 100.0 * error / truth

    def to_dict(self) -> dict[str, Any]:
        classes = sorted(set(self.truth.by_class()) | set(self.predicted.by_class()))
        return {
            "name": self.name,
            "points": [round(v, 2) for v in self.points],
            **self._comparison(None),
            "by_class": {name: self._comparison(name) for name in classes},
        }

    def _comparison(self, class_name: str | None) -> dict[str, dict[str, Any]]:
        def per_direction(value: Any) -> dict[str, Any]:
            return {d: value(d) for d in DIRECTIONS}

        pct = per_direction(lambda d: self.abs_pct_error(d, class_name))
        return {
            "truth": per_direction(lambda d: _count(self.truth, d, class_name)),
            "predicted": per_direction(lambda d: _count(self.predicted, d, class_name)),
            "error": per_direction(lambda d: self.error(d, class_name)),
            "abs_error": per_direction(lambda d: abs(self.error(d, class_name))),
            "abs_pct_error": {d: None if v is None else round(v, 2) for d, v in pct.items()},
        }


def _count(totals: LineTotals, direction: str, class_name: str | None) -> int:
    return sum(
        n
        for (name, d), n in totals.counts.items()
        if d == direction and (class_name is None or name == class_name)
    )


@dataclass(frozen=True)
class EvalResult:
    """What `aistack eval` measured on one clip."""

    clip: str
    ground_truth: str
    frames: int
    classes: tuple[str, ...]
    tracking: TrackingMetrics
    lines: list[LineAccuracy]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The `aistack eval --json` object."""
        return {
            "clip": self.clip,
            "gt": self.ground_truth,
            "frames": self.frames,
            "classes": list(self.classes),
            "seconds": round(self.seconds, 3),
            "tracking": self.tracking.to_dict(),
            "lines": [line.to_dict() for line in self.lines],
        }


def evaluate(
    clip: Path | str,
    gt_path: Path | str,
    lines: Sequence[str | LineConfig] = (),
    config: AppConfig | None = None,
    *,
    gt_classes: Mapping[int, str] | None = None,
    detector: Detector | None = None,
    progress: bool = False,
) -> EvalResult:
    """Run the real pipeline on `clip` and score its tracks and line counts against `gt_path`.

    `lines` are `[NAME=]X1,Y1,X2,Y2` strings (pixels, or fractions when all are
    0-1) or LineConfigs. `config` gives the detector, tracker, counting and
    pipeline settings; its cameras are replaced by the clip. Without a config,
    the defaults are used and only the classes the ground truth labels are
    detected, so unlabelled things are not false positives. `gt_classes` maps
    the file's class column to COCO names (default: COCO id + 1; see
    `aistack.evaluation.mot.parse_gt_classes`).
    """
    started = time.perf_counter()
    truth = load_ground_truth(gt_path, gt_classes)
    if config is None:
        config = _default_config(truth)
    run_config = config.model_copy(update={"cameras": [_camera(clip, lines)]})
    classes = tuple(run_config.detector.classes)
    boxes, frames, size, predicted = _run(run_config, detector, progress)
    if truth.last_frame > frames:
        raise SourceError(
            f"{truth.path}:{truth.last_frame_line}: frame {truth.last_frame} is beyond the "
            f"clip's {frames} frames (MOT frames are 1-based)"
        )
    wanted = np.isin(truth.boxes.class_id, [COCO_CLASSES.index(c) for c in classes])
    if unscored := sorted(set(truth.boxes[~wanted].class_names())):
        log.warning(
            "ground truth of %s is not scored: not among the detected classes (--classes)",
            ", ".join(unscored),
        )
    evaluated = truth.boxes[wanted]
    true_totals = true_line_counts(
        evaluated, run_config.cameras[0].lines, config.counting, frames, size
    )
    return EvalResult(
        clip=str(clip),
        ground_truth=str(truth.path),
        frames=frames,
        classes=classes,
        tracking=tracking_metrics(evaluated, boxes, truth.ignored),
        lines=[
            LineAccuracy(p.name, p.points, t, p)
            for t, p in zip(true_totals, predicted, strict=True)
        ],
        seconds=time.perf_counter() - started,
    )


def _default_config(truth: GroundTruth) -> AppConfig:
    classes = truth.boxes.class_names() or ["person"]
    return AppConfig.model_validate(
        {
            "cameras": [{"source": {"uri": "unused"}}],  # a config needs one; evaluate() sets it
            "detector": {"classes": classes},
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


def _run(
    config: AppConfig, detector: Detector | None, progress: bool
) -> tuple[TrackBoxes, int, tuple[int, int], list[LineTotals]]:
    """Tracked boxes of every frame, the frame count and size, and the predicted line totals."""
    from aistack.pipeline.wiring import Pipeline  # the pipeline's threads load only when run

    parts: list[TrackBoxes] = []
    size: list[tuple[int, int]] = []

    def collect(result: FrameResult) -> None:
        found, ids = result.detections, result.detections.tracker_id
        if ids is not None and len(found):
            confirmed = ids >= 0  # -1: a detection not yet confirmed as a track
            frame = np.full(int(confirmed.sum()), result.frame.index)
            xyxy = found.xyxy[confirmed].astype(np.float64)
            parts.append(TrackBoxes(frame, ids[confirmed], xyxy, found.class_id[confirmed]))
        if not size:
            size.append((result.frame.width, result.frame.height))

    summary = Pipeline(
        config, detector=detector, pace="unpaced", progress=progress, on_result=collect
    ).run()
    if not size:
        raise SourceError(f"{config.cameras[0].source.uri}: the clip has no frames")
    boxes = TrackBoxes.concat(parts)
    return boxes, summary.cameras[0].frames, size[0], summary.cameras[0].lines


def true_line_counts(
    truth: TrackBoxes,
    lines: Iterable[LineConfig],
    counting: CountingConfig,
    frames: int,
    size: tuple[int, int],
) -> list[LineTotals]:
    """The crossings of ground-truth tracks, counted by the pipeline's own LineCounter.

    Each true track is a tracked detection whose track id is its ground-truth id.
    The counter never forgets a track here: a true identity survives any
    occlusion, so the truth is not limited by how long a tracker can wait.
    """
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
    for frame, boxes in truth.by_frame(frames):
        detections = Detections(
            xyxy=boxes.xyxy.astype(np.float32),
            confidence=np.ones(len(boxes), np.float32),
            class_id=boxes.class_id,
            tracker_id=boxes.track_id,
            class_names=COCO_CLASSES,
        )
        for counter in counters:
            counter.update(detections, frame, float(frame))
    return [counter.totals() for counter in counters]


def accuracy_figures(result: EvalResult) -> dict[str, float]:
    """The accuracy figures as one flat dict of numbers, for a metrics store or InfluxDB.

    Keys: hota, deta, assa, idf1, mota, motp, idsw, then `<line>.<direction>.truth`,
    `.predicted`, `.error` (predicted − truth) and `.abs_pct_error` (left out
    where the truth is 0 and the count is not, as it has no value then).
    """
    t = result.tracking
    figures: dict[str, float] = {
        "hota": t.hota,
        "deta": t.deta,
        "assa": t.assa,
        "idf1": t.idf1,
        "mota": t.mota,
        "motp": t.motp,
        "idsw": float(t.idsw),
    }
    for line in result.lines:
        for direction in DIRECTIONS:
            key = f"{line.name}.{direction}"
            figures[f"{key}.truth"] = float(_count(line.truth, direction, None))
            figures[f"{key}.predicted"] = float(_count(line.predicted, direction, None))
            figures[f"{key}.error"] = float(line.error(direction))
            pct = line.abs_pct_error(direction)
            if pct is not None:
                figures[f"{key}.abs_pct_error"] = pct
    return figures


class _EvalCollector:
    """Serves the latest evaluation's figures at scrape time."""

    def __init__(self, result: EvalResult) -> None:
        self.result = result

    def collect(self) -> Iterator[Metric]:
        t = self.result.tracking
        for name, value, what in (
            ("hota", t.hota, "Higher Order Tracking Accuracy of the last evaluation (0-1)"),
            ("idf1", t.idf1, "ID F1 score of the last evaluation (0-1)"),
            ("mota", t.mota, "Multiple Object Tracking Accuracy of the last evaluation (<= 1)"),
        ):
            yield GaugeMetricFamily(f"aistack_eval_{name}", what, value=value)
        errors = GaugeMetricFamily(
            "aistack_eval_count_error",
            "Counted minus true line crossings in the last evaluation",
            labels=["line", "direction"],
        )
        for line in self.result.lines:
            for direction in DIRECTIONS:
                errors.add_metric([line.name, direction], line.error(direction))
        yield errors


_collectors: weakref.WeakKeyDictionary[CollectorRegistry, _EvalCollector] = (
    weakref.WeakKeyDictionary()
)


def publish(result: EvalResult, registry: CollectorRegistry) -> None:
    """Expose `aistack_eval_hota`, `_idf1`, `_mota` and `_count_error{line,direction}`.

    Publishing again on the same registry replaces the figures, so lines that
    are gone disappear instead of keeping stale values.
    """
    collector = _collectors.get(registry)
    if collector is None:
        collector = _collectors[registry] = _EvalCollector(result)
        registry.register(collector)
    collector.result = result
