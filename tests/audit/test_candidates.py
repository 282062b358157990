"""Candidates: counts and streaks merged, a truth file folded in, crossings.csv round trips."""

from __future__ import annotations

from pathlib import Path

from aistack.audit.candidates import (
    COUNTED,
    STATUS_CONFIRMED,
    STATUS_COUNTED,
    STATUS_UNCONFIRMED,
    STRIP,
    TRUTH,
    line_candidates,
    with_truth,
)
from aistack.audit.recording import CountedCrossing
from aistack.audit.streaks import Streak
from aistack.evaluation.crossings import Crossing, read_crossings, write_crossings

FPS = 10.0


def counted(
    frame: int, direction: str, extent: tuple[float, float] = (0.4, 0.6)
) -> CountedCrossing:
    return CountedCrossing(frame, frame + 2, direction, "person", 7, sum(extent) / 2, extent)


def streak(first: int, last: int, direction: str, start: float = 0.45, end: float = 0.7) -> Streak:
    return Streak(first, last, start, end, direction, 2, (first + last) // 2)


def test_a_streak_a_count_explains_adds_nothing_and_others_become_candidates() -> None:
    candidates = line_candidates(
        "door",
        [counted(20, "in"), counted(60, "out")],
        [
            streak(15, 24, "in"),  # the count at 20
            streak(40, 44, "in"),  # nothing counted then: a possible miss
            streak(58, 63, "in", 0.45, 0.7),  # at the time of the count at 60, the other way
            streak(90, 95, "out", 0.0, 0.1),  # far from every count
        ],
        FPS,
    )
    assert [(c.frame, c.direction, c.source, c.status) for c in candidates] == [
        (20, "in", COUNTED, STATUS_COUNTED),
        (42, "in", STRIP, STATUS_UNCONFIRMED),
        (60, "out", COUNTED, STATUS_COUNTED),
        (60, "in", STRIP, STATUS_UNCONFIRMED),
        (92, "out", STRIP, STATUS_UNCONFIRMED),
    ]
    notes = [c.note for c in candidates]
    assert notes[0] == "aistack track 7, counted at frame 22"
    assert notes[2].endswith("no crossing streak near it on the strip")
    assert notes[1] == "strip: in streak at frames 40-44, side slits 2 frame(s) apart"
    assert all(c.class_name == "person" and c.line == "door" for c in candidates)


def test_a_streak_elsewhere_on_the_line_is_not_the_count() -> None:
    candidates = line_candidates(
        "door", [counted(20, "in", (0.0, 0.2))], [streak(18, 22, "in", 0.6, 0.9)], FPS
    )
    assert [c.source for c in candidates] == [COUNTED, STRIP]


def test_truth_rows_confirm_what_they_match_and_add_the_rest() -> None:
    found = line_candidates("door", [counted(20, "in"), counted(60, "out")], [], FPS)
    truth = [
        Crossing("door", 21, "in", "person", "checked"),  # the count at 20, one frame later
        Crossing("door", 61, "in", "bicycle", ""),  # near the count at 60, other direction
        Crossing("door", 200, "out", "person", "missed"),
    ]
    merged = with_truth(found, truth, FPS)
    assert [(c.frame, c.direction, c.class_name, c.source, c.status, c.note) for c in merged] == [
        (21, "in", "person", COUNTED, STATUS_CONFIRMED, "checked"),
        (60, "out", "person", COUNTED, STATUS_COUNTED, "aistack track 7, counted at frame 62; "
         "no crossing streak near it on the strip"),
        (61, "in", "bicycle", TRUTH, STATUS_CONFIRMED, ""),
        (200, "out", "person", TRUTH, STATUS_CONFIRMED, "missed"),
    ]  # fmt: skip


def test_candidates_round_trip_through_crossings_csv(tmp_path: Path) -> None:
    found = line_candidates(
        "door, east", [counted(20, "in"), counted(5, "out")], [streak(40, 44, "in")], FPS
    )
    path = write_crossings(tmp_path / "candidates.csv", (c.crossing() for c in found))
    assert path.read_text().splitlines()[0] == "line,frame,direction,class,note"
    assert read_crossings(path) == sorted(c.crossing() for c in found)
    assert [c.frame for c in read_crossings(path)] == [5, 20, 42]
