"""Per-crossing matching: which counted crossings are true ones, by frame, one to one.

Equal counts can hide a miss and a phantom that cancel out. Matching each counted
crossing to a true one on the same line, direction and class, within a frame
tolerance, tells caught from missed and spurious.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aistack.evaluation.crossings import Crossing
from aistack.types import Event

# One second of video. The counter confirms a crossing `min_frames` clear observations
# after the anchor leaves a band that grows with the box, so its frame trails the moment
# a person marks by a few frames, more at low frame rates and for slow walkers; a person
# walks about 1.4 m in a second, so two people crossing one line the same way within it
# are rare, and a larger window would start pairing neighbours instead.
MATCH_SECONDS = 1.0


def match_tolerance(fps: float, seconds: float = MATCH_SECONDS) -> int:
    """The frame tolerance for `seconds` of a clip at `fps` (at least one frame)."""
    return max(1, round(fps * seconds))


@dataclass(frozen=True)
class CrossingMatch:
    """How one line's counted crossings pair with its true ones."""

    line: str
    tolerance: int  # frames a counted crossing may be away from its true one
    matched: tuple[tuple[Crossing, Crossing], ...]  # (true, counted), by true frame
    missed: tuple[Crossing, ...]  # true crossings nothing counted
    spurious: tuple[Crossing, ...]  # counted crossings with no true one

    @property
    def caught(self) -> int:
        return len(self.matched)

    def totals(self, direction: str | None = None) -> MatchTotals:
        """Caught, missed and spurious crossings, of one direction or (None) both."""

        def of(crossings: Iterable[Crossing]) -> int:
            return sum(direction is None or c.direction == direction for c in crossings)

        return MatchTotals(of(t for t, _ in self.matched), of(self.missed), of(self.spurious))

    def to_dict(self) -> dict[str, Any]:
        def brief(c: Crossing) -> dict[str, Any]:
            return {"frame": c.frame, "direction": c.direction, "class": c.class_name}

        return {
            **self.totals().to_dict(),
            "by_direction": {d: self.totals(d).to_dict() for d in ("in", "out")},
            "tolerance_frames": self.tolerance,
            "missed_crossings": [brief(c) for c in self.missed],
            "spurious_crossings": [brief(c) for c in self.spurious],
        }


def crossings_from_events(events: Iterable[Event]) -> list[Crossing]:
    """Counted line crossings as `Crossing`s (frame = the frame the counter confirmed it)."""
    return sorted(
        Crossing(e.counter, e.frame_index, e.direction, e.class_name, f"track {e.track_id}")
        for e in events
        if e.kind == "crossing"
    )


def match_crossings(
    line: str, truth: Iterable[Crossing], counted: Iterable[Crossing], tolerance: int
) -> CrossingMatch:
    """Pair `line`'s counted crossings with true ones, closest in frames first, one to one.

    A pair needs the same direction and class and at most `tolerance` frames between
    them; ties go to the earlier true crossing, then the earlier count. Crossings of
    other lines are left out.
    """
    true_ones = sorted(c for c in truth if c.line == line)
    counted_ones = sorted(c for c in counted if c.line == line)
    pairs = sorted(
        (abs(t.frame - c.frame), i, j)
        for i, t in enumerate(true_ones)
        for j, c in enumerate(counted_ones)
        if t.direction == c.direction
        and t.class_name == c.class_name
        and abs(t.frame - c.frame) <= tolerance
    )
    used_true: set[int] = set()
    used_counted: set[int] = set()
    matched: list[tuple[Crossing, Crossing]] = []
    for _, i, j in pairs:
        if i not in used_true and j not in used_counted:
            used_true.add(i)
            used_counted.add(j)
            matched.append((true_ones[i], counted_ones[j]))
    return CrossingMatch(
        line,
        tolerance,
        tuple(sorted(matched)),
        tuple(c for i, c in enumerate(true_ones) if i not in used_true),
        tuple(c for j, c in enumerate(counted_ones) if j not in used_counted),
    )


def match_lines(
    lines: Sequence[str], truth: Sequence[Crossing], counted: Sequence[Crossing], tolerance: int
) -> list[CrossingMatch]:
    """`match_crossings` for every line, in the order given."""
    return [match_crossings(line, truth, counted, tolerance) for line in lines]


@dataclass(frozen=True)
class MatchTotals:
    """Caught, missed and spurious crossings summed over lines."""

    caught: int
    missed: int
    spurious: int

    @classmethod
    def of(cls, matches: Iterable[CrossingMatch]) -> MatchTotals:
        totals = [m.totals() for m in matches]
        return cls(
            sum(t.caught for t in totals),
            sum(t.missed for t in totals),
            sum(t.spurious for t in totals),
        )

    def to_dict(self) -> dict[str, int]:
        return {"caught": self.caught, "missed": self.missed, "spurious": self.spurious}
