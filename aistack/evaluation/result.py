"""What an evaluation measured: per-line true and counted crossings, matching, tracking."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aistack.analytics.lines import LineTotals
from aistack.evaluation.matching import CrossingMatch, MatchTotals
from aistack.evaluation.mot import TrackingMetrics

DIRECTIONS = ("in", "out")


@dataclass(frozen=True)
class LineAccuracy:
    """One line's true and predicted crossings, by class and direction, and how they pair."""

    name: str
    points: tuple[float, float, float, float]  # pixels
    truth: LineTotals
    predicted: LineTotals
    match: CrossingMatch | None = None

    def error(self, direction: str, class_name: str | None = None) -> int:
        """Predicted minus true crossings: > 0 over-counts, < 0 misses."""
        return count(self.predicted, direction, class_name) - count(
            self.truth, direction, class_name
        )

    def abs_pct_error(self, direction: str, class_name: str | None = None) -> float | None:
        """|error| as a percentage of the truth; None when the truth is 0 but not the count."""
        truth = count(self.truth, direction, class_name)
        error = abs(self.error(direction, class_name))
        if truth == 0:
            return 0.0 if error == 0 else None
        return 100.0 * error / truth

    def to_dict(self) -> dict[str, Any]:
        classes = sorted(set(self.truth.by_class()) | set(self.predicted.by_class()))
        result: dict[str, Any] = {
            "name": self.name,
            "points": [round(v, 2) for v in self.points],
            **self._comparison(None),
            "by_class": {name: self._comparison(name) for name in classes},
        }
        if self.match is not None:
            result["matching"] = self.match.to_dict()
        return result

    def _comparison(self, class_name: str | None) -> dict[str, dict[str, Any]]:
        def per_direction(value: Any) -> dict[str, Any]:
            return {d: value(d) for d in DIRECTIONS}

        pct = per_direction(lambda d: self.abs_pct_error(d, class_name))
        return {
            "truth": per_direction(lambda d: count(self.truth, d, class_name)),
            "predicted": per_direction(lambda d: count(self.predicted, d, class_name)),
            "error": per_direction(lambda d: self.error(d, class_name)),
            "abs_error": per_direction(lambda d: abs(self.error(d, class_name))),
            "abs_pct_error": {d: None if v is None else round(v, 2) for d, v in pct.items()},
        }


def count(totals: LineTotals, direction: str, class_name: str | None = None) -> int:
    """Crossings of one direction in `totals`, of one class or (None) all of them."""
    return sum(
        n
        for (name, d), n in totals.counts.items()
        if d == direction and (class_name is None or name == class_name)
    )


def weighted_count_error(lines: Iterable[LineAccuracy]) -> float | None:
    """Σ|counted − true| / Σ true over every line × direction; None without true crossings.

    Classes are summed within a line and direction first, so a car counted as a
    truck costs nothing here (the matching shows it). Weighting by the truth keeps
    a busy line from being drowned out by quiet ones, as a mean of percentages would.
    """
    errors = truth = 0
    for line in lines:
        for direction in DIRECTIONS:
            errors += abs(line.error(direction))
            truth += count(line.truth, direction)
    return errors / truth if truth else None


@dataclass(frozen=True)
class EvalResult:
    """What `aistack eval` measured on one clip.

    `tracking` is None when the truth is a crossings file (no boxes to score).
    `seconds` is the whole evaluation; `pipeline_seconds` only the pipeline's run
    over the `frames`, which is what `fps` divides by.
    """

    clip: str
    ground_truth: str
    frames: int
    classes: tuple[str, ...]
    tracking: TrackingMetrics | None
    lines: list[LineAccuracy]
    seconds: float
    truth_format: str = "aistack"  # mot15, mot16, aistack, or crossings
    pipeline_seconds: float = 0.0
    clip_fps: float = 0.0  # the video's own frame rate
    match_frames: int = 0  # the matching's frame tolerance

    @property
    def fps(self) -> float:
        """Frames the pipeline processed per second of its run."""
        return self.frames / self.pipeline_seconds if self.pipeline_seconds > 0 else 0.0

    @property
    def weighted_count_error(self) -> float | None:
        return weighted_count_error(self.lines)

    @property
    def matching(self) -> MatchTotals:
        """Caught, missed and spurious crossings over every line."""
        return MatchTotals.of(line.match for line in self.lines if line.match is not None)

    def to_dict(self) -> dict[str, Any]:
        """The `aistack eval --json` object."""
        weighted = self.weighted_count_error
        return {
            "clip": self.clip,
            "gt": self.ground_truth,
            "gt_format": self.truth_format,
            "frames": self.frames,
            "classes": list(self.classes),
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "tracking": None if self.tracking is None else self.tracking.to_dict(),
            "weighted_count_error": None if weighted is None else round(weighted, 4),
            "matching": {**self.matching.to_dict(), "tolerance_frames": self.match_frames},
            "lines": [line.to_dict() for line in self.lines],
        }
