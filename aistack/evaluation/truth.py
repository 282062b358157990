"""The truth an evaluation scores against: MOT ground-truth tracks or a crossings.csv."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aistack.analytics.lines import LineTotals
from aistack.classes import COCO_CLASSES
from aistack.config import CameraConfig
from aistack.errors import ConfigError, SourceError
from aistack.evaluation.crossings import Crossing
from aistack.evaluation.mot import GroundTruth, TrackBoxes

log = logging.getLogger("aistack.evaluation")


@dataclass(frozen=True)
class TruthFile:
    """What a truth file says about a clip.

    MOT ground truth has `boxes` (and `ignored` regions), from which the true
    crossings are counted later; a crossings.csv has the `crossings` and no boxes.
    """

    path: Path
    format: str  # mot15, mot16, aistack, or crossings
    boxes: TrackBoxes | None = None
    ignored: TrackBoxes | None = None
    crossings: tuple[Crossing, ...] = ()
    last_frame: int = 0  # MOT only: the highest 1-based frame, and its line
    last_frame_line: int = 0

    @property
    def classes(self) -> list[str]:
        """The COCO classes the truth labels, in COCO order."""
        if self.boxes is not None:
            return self.boxes.class_names()
        return sorted({c.class_name for c in self.crossings}, key=COCO_CLASSES.index)

    def within(self, frames: int, cut: bool) -> TruthFile:
        """The truth of the clip's `frames` frames; beyond them is an error unless `cut`.

        `cut` says the run stopped early on purpose (max_frames), so truth past it
        is not wrong, just not scored.
        """
        if self.boxes is not None:
            if self.last_frame <= frames:
                return self
            if not cut:
                raise SourceError(
                    f"{self.path}:{self.last_frame_line}: frame {self.last_frame} is beyond the "
                    f"clip's {frames} frames (MOT frames are 1-based)"
                )
            ignored = self.ignored if self.ignored is not None else TrackBoxes.empty()
            return dataclasses.replace(
                self, boxes=self.boxes[self.boxes.frame < frames],
                ignored=ignored[ignored.frame < frames], last_frame=frames,
            )  # fmt: skip
        late = [c for c in self.crossings if c.frame >= frames]
        if late and not cut:
            first = min(late, key=lambda c: c.frame)
            raise SourceError(
                f"{self.path}: line {first.line!r} has a crossing at frame {first.frame}, "
                f"beyond the clip's {frames} frames (frames count from 0)"
            )
        return dataclasses.replace(self, crossings=tuple(c for c in self.crossings
                                                         if c.frame < frames))  # fmt: skip

    def of_classes(self, classes: Sequence[str]) -> TruthFile:
        """Only the truth of the detected `classes`; the rest is not scored, with a warning."""
        if unscored := sorted(set(self.classes) - set(classes)):
            log.warning(
                "truth of %s is not scored: not among the detected classes (--classes)",
                ", ".join(unscored),
            )
        if self.boxes is not None:
            wanted = np.isin(self.boxes.class_id, [COCO_CLASSES.index(c) for c in classes])
            return dataclasses.replace(self, boxes=self.boxes[wanted])
        return dataclasses.replace(
            self, crossings=tuple(c for c in self.crossings if c.class_name in classes)
        )

    def totals(self, lines: Sequence[LineTotals]) -> list[LineTotals]:
        """The crossings file's counts for each of `lines` (zero for a line it never names)."""
        counted = Counter((c.line, c.class_name, c.direction) for c in self.crossings)
        return [
            LineTotals(line.name, line.points, {
                (name, direction): n for (of, name, direction), n in counted.items()
                if of == line.name
            })
            for line in lines
        ]  # fmt: skip


def mot_truth(truth: GroundTruth) -> TruthFile:
    return TruthFile(
        truth.path, truth.format, truth.boxes, truth.ignored,
        last_frame=truth.last_frame, last_frame_line=truth.last_frame_line,
    )  # fmt: skip


def crossings_truth(path: Path, crossings: Sequence[Crossing], camera: CameraConfig) -> TruthFile:
    """A crossings.csv's truth; every line it names must be one of the camera's lines.

    A given line the file never names simply had no true crossings.
    """
    given = [line.name for line in camera.lines]
    if unknown := sorted({c.line for c in crossings} - set(given)):
        names = ", ".join(repr(n) for n in unknown)
        raise ConfigError(
            f"--truth {path}: line{'s' if len(unknown) > 1 else ''} {names} "
            f"{'are' if len(unknown) > 1 else 'is'} in the file but not given: add "
            f"--line NAME=X1,Y1,X2,Y2 for {'each' if len(unknown) > 1 else 'it'}"
            + (f" (given: {', '.join(given)})" if given else "")
        )
    return TruthFile(path, "crossings", crossings=tuple(crossings))
