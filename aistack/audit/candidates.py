"""Candidate crossings of a line: the pipeline's counts, uncounted strip streaks, a truth file.

A streak on the strip that a counted crossing explains (same direction, close in time
and along the line) adds nothing; one that none explains is a crossing the pipeline
may have missed. A counted crossing with no streak near it is flagged in its note: it
may be a false count. Rows of a truth file replace the candidate they match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from aistack.audit.recording import CountedCrossing
from aistack.audit.streaks import Streak
from aistack.evaluation.crossings import Crossing

# Where a candidate came from; what the page shows and candidates.csv's note says.
COUNTED = "aistack"
STRIP = "strip"
TRUTH = "truth"
# A person's verdict: pipeline counts start "counted", strip streaks "unconfirmed".
STATUS_COUNTED = "counted"
STATUS_UNCONFIRMED = "unconfirmed"
STATUS_CONFIRMED = "confirmed"

MATCH_SECONDS = 0.5  # a streak or truth row this close in time to a count is the same crossing
MATCH_POSITION = 0.05  # ... and this close to the counted box, along the line


@dataclass(frozen=True)
class Candidate:
    """A possible crossing of one line, as the page shows it."""

    line: str
    frame: int
    direction: str
    class_name: str
    source: str
    status: str
    note: str = ""
    position: float | None = None  # along the line, 0 at P1, 1 at P2, when known

    def crossing(self) -> Crossing:
        return Crossing(self.line, self.frame, self.direction, self.class_name, self.note)


def line_candidates(
    line: str,
    counted: Sequence[CountedCrossing],
    streaks: Sequence[Streak],
    fps: float,
) -> list[Candidate]:
    """The counted crossings and the streaks no count explains, in frame order."""
    slack = max(2, round(MATCH_SECONDS * fps))
    candidates = []
    for count in counted:
        seen = any(_explains(count, streak, slack) for streak in streaks)
        note = f"aistack track {count.track_id}, counted at frame {count.counted_frame}"
        if not seen:
            note += "; no crossing streak near it on the strip"
        candidates.append(
            Candidate(
                line, count.frame, count.direction, count.class_name, COUNTED, STATUS_COUNTED,
                note, count.position,
            )
        )  # fmt: skip
    for streak in streaks:
        if any(_explains(count, streak, slack) for count in counted):
            continue
        frames = (
            f"frame {streak.first}" if streak.first == streak.last
            else f"frames {streak.first}-{streak.last}"
        )  # fmt: skip
        note = (
            f"strip: {streak.direction} streak at {frames}, side slits {streak.lag} frame(s) apart"
        )
        candidates.append(
            Candidate(
                line, streak.frame, streak.direction, "person", STRIP, STATUS_UNCONFIRMED, note,
                streak.position,
            )
        )  # fmt: skip
    return sorted(candidates, key=lambda c: (c.frame, c.source))


def _explains(count: CountedCrossing, streak: Streak, slack: int) -> bool:
    if count.direction != streak.direction:
        return False
    if not streak.first - slack <= count.frame <= streak.last + slack:
        return False
    # The streak is any part of the silhouette on the line, so it need only overlap the box:
    # on a line along someone's path, their head may cross far from their feet.
    if count.extent is None:
        return True
    low, high = count.extent
    return streak.start - MATCH_POSITION <= high and low <= streak.end + MATCH_POSITION


def with_truth(
    candidates: Sequence[Candidate], truth: Iterable[Crossing], fps: float
) -> list[Candidate]:
    """Confirmed rows of a truth file merged in: each replaces the nearest matching candidate.

    A match has the same line and direction and is within MATCH_SECONDS; the truth row's
    frame, class and note win. Rows that match nothing are added as they are.
    """
    slack = max(2, round(MATCH_SECONDS * fps))
    merged = list(candidates)
    taken: set[int] = set()
    for row in truth:
        near = [
            (abs(c.frame - row.frame), i)
            for i, c in enumerate(merged)
            if i not in taken and c.line == row.line and c.direction == row.direction
            and c.source != TRUTH and abs(c.frame - row.frame) <= slack
        ]  # fmt: skip
        confirmed = {"frame": row.frame, "class_name": row.class_name, "note": row.note,
                     "status": STATUS_CONFIRMED}  # fmt: skip
        if near:
            index = min(near)[1]
            merged[index] = replace(merged[index], **confirmed)  # type: ignore[arg-type]
            taken.add(index)
        else:
            merged.append(
                Candidate(
                    row.line,
                    row.frame,
                    row.direction,
                    row.class_name,
                    TRUTH,
                    STATUS_CONFIRMED,
                    row.note,
                )
            )
            taken.add(len(merged) - 1)
    return sorted(merged, key=lambda c: (c.line, c.frame, c.source))
