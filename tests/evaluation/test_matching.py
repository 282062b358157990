"""Per-crossing matching and the weighted count error, on hand-made crossings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aistack.analytics.lines import LineTotals
from aistack.evaluation.crossings import Crossing
from aistack.evaluation.matching import MatchTotals, match_crossings, match_tolerance
from aistack.evaluation.result import LineAccuracy, weighted_count_error
from aistack.types import Event


def _c(
    frame: int, direction: str = "in", class_name: str = "person", line: str = "door"
) -> Crossing:
    return Crossing(line, frame, direction, class_name)


def test_closest_pairs_first_one_to_one() -> None:
    truth = [_c(10), _c(20)]
    counted = [_c(19), _c(27)]
    match = match_crossings("door", truth, counted, tolerance=10)
    # 19 is 1 from 20 and 9 from 10: it goes to 20, and 27 (7 from 20) is left for nobody.
    assert [(t.frame, c.frame) for t, c in match.matched] == [(20, 19)]
    assert [c.frame for c in match.missed] == [10]
    assert [c.frame for c in match.spurious] == [27]
    assert match.totals() == MatchTotals(1, 1, 1)


def test_direction_class_line_and_tolerance_must_agree() -> None:
    truth = [_c(10), _c(40, "out"), _c(70, class_name="bicycle"), _c(100)]
    counted = [
        _c(12, "out"),  # wrong direction
        _c(41, "out"),  # a match
        _c(70, class_name="person"),  # wrong class
        _c(100, line="exit"),  # another line: not this line's at all
        _c(111),  # 11 frames late
    ]
    match = match_crossings("door", truth, counted, tolerance=10)
    assert [(t.frame, c.frame) for t, c in match.matched] == [(40, 41)]
    assert match.totals() == MatchTotals(caught=1, missed=3, spurious=3)
    assert match.totals("out") == MatchTotals(caught=1, missed=0, spurious=1)
    assert match.to_dict()["by_direction"]["in"] == {"caught": 0, "missed": 3, "spurious": 2}
    assert match_crossings("door", truth, counted, tolerance=11).caught == 2


def test_tolerance_is_one_second_of_the_clip() -> None:
    assert match_tolerance(10.0) == 10
    assert match_tolerance(29.97) == 30
    assert match_tolerance(0.2) == 1  # never zero: a count on the very frame always matches


crossings = st.lists(
    st.builds(
        _c, st.integers(0, 300), st.sampled_from(["in", "out"]), st.sampled_from(["person", "car"])
    ),
    max_size=25,
)


@given(crossings, crossings, st.integers(0, 30))
def test_every_crossing_is_caught_missed_or_spurious_once(
    truth: list[Crossing], counted: list[Crossing], tolerance: int
) -> None:
    match = match_crossings("door", truth, counted, tolerance)
    assert match.caught + len(match.missed) == len(truth)
    assert match.caught + len(match.spurious) == len(counted)
    for t, c in match.matched:
        assert abs(t.frame - c.frame) <= tolerance
        assert (t.direction, t.class_name) == (c.direction, c.class_name)
    # Nothing left over could still pair: a missed and a spurious crossing that fit each
    # other would mean the matching stopped early.
    for t in match.missed:
        for c in match.spurious:
            fits = (t.direction, t.class_name) == (c.direction, c.class_name)
            assert not (fits and abs(t.frame - c.frame) <= tolerance)


@given(crossings, st.integers(0, 5))
def test_counts_late_by_less_than_the_tolerance_are_all_caught(
    truth: list[Crossing], lag: int
) -> None:
    # Crossings of one direction and class at least 2 x tolerance + 1 apart cannot be confused.
    spaced = [_c(i * 20, t.direction, t.class_name) for i, t in enumerate(truth)]
    late = [_c(c.frame + lag, c.direction, c.class_name) for c in spaced]
    match = match_crossings("door", spaced, late, tolerance=5)
    assert match.caught == len(spaced) and not match.missed and not match.spurious


def test_events_become_crossings() -> None:
    from aistack.evaluation.matching import crossings_from_events

    events = [
        Event(1.0, "cam", "door", "crossing", "person", "in", 7, frame_index=30),
        Event(1.0, "cam", "hall", "enter", "person", "in", 7, frame_index=31),  # a zone
    ]
    assert crossings_from_events(events) == [Crossing("door", 30, "in", "person", "track 7")]


def _line(name: str, truth: dict[str, int], counted: dict[str, int]) -> LineAccuracy:
    def totals(counts: dict[str, int]) -> LineTotals:
        return LineTotals(name, (0, 0, 1, 1), {("person", d): n for d, n in counts.items()})

    return LineAccuracy(name, (0, 0, 1, 1), totals(truth), totals(counted))


def test_weighted_count_error_sums_errors_over_lines_and_directions() -> None:
    lines = [
        _line("v", {"in": 15, "out": 11}, {"in": 19, "out": 14}),
        _line("h", {"in": 12, "out": 18}, {"in": 13, "out": 17}),
    ]
    # |+4| + |+3| + |+1| + |-1| = 9 over 56 true crossings: errors never cancel out.
    assert weighted_count_error(lines) == 9 / 56
    assert weighted_count_error([_line("v", {"in": 3}, {"in": 3})]) == 0.0
    assert weighted_count_error([_line("v", {}, {"in": 2})]) is None  # no truth: no ratio
    assert weighted_count_error([]) is None
