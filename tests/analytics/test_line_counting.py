"""Crossing geometry and the line counter's rules, as properties over many generated tracks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aistack.analytics.geometry import along_segment, anchor_points, signed_side, to_pixels
from aistack.analytics.lines import LineCounter
from aistack.config import CountingConfig
from aistack.types import Detections

LINE = (100.0, 300.0, 500.0, 300.0)  # horizontal, drawn left to right
BOX_H = 100.0
SETTINGS = CountingConfig(min_distance=2.0, min_distance_fraction=0.08, min_frames=2)
BAND = max(SETTINGS.min_distance, SETTINGS.min_distance_fraction * BOX_H)  # 8 px


def _box_at(x: float, foot_y: float, track_id: int = 1, class_id: int = 0) -> Detections:
    return Detections(
        xyxy=np.array([[x - 20, foot_y - BOX_H, x + 20, foot_y]]),
        confidence=np.array([0.9]),
        class_id=np.array([class_id]),
        tracker_id=np.array([track_id]),
        class_names=("person", "bicycle", "car"),
    )


def _run(counter: LineCounter, foot_ys: list[float], x: float = 300.0) -> list[str]:
    directions = []
    for index, y in enumerate(foot_ys):
        directions += [e.direction for e in counter.update(_box_at(x, y), index, float(index))]
    return directions


def test_convention_moving_down_across_a_left_to_right_line_is_in() -> None:
    above, below = np.array([[300.0, 250.0]]), np.array([[300.0, 350.0]])
    assert signed_side(above, LINE)[0] < 0 < signed_side(below, LINE)[0]
    counter = LineCounter("l", LINE, settings=SETTINGS)
    assert _run(counter, [250, 270, 290, 310, 330, 350]) == ["in"]
    assert counter.totals().counts == {("person", "in"): 1}


def test_reversed_line_swaps_direction() -> None:
    x1, y1, x2, y2 = LINE
    counter = LineCounter("l", (x2, y2, x1, y1), settings=SETTINGS)
    assert _run(counter, [250, 270, 290, 310, 330, 350]) == ["out"]


@given(
    sides=st.lists(st.sampled_from([-1, 1]), min_size=1, max_size=8),
    hold=st.integers(min_value=SETTINGS.min_frames, max_value=6),
    jitter=st.lists(
        st.floats(min_value=-BAND + 0.01, max_value=BAND - 0.01), min_size=0, max_size=12
    ),
    distance=st.floats(min_value=BAND + 0.5, max_value=150),
)
@settings(max_examples=300, deadline=None)
def test_crossings_count_once_per_direction_whatever_the_jitter_in_the_band(
    sides: list[int], hold: int, jitter: list[float], distance: float
) -> None:
    # The anchor rests on each side in turn, wandering inside the band in between.
    ys: list[float] = []
    for side in sides:
        ys += [v + 300.0 for v in jitter]
        ys += [300.0 + side * distance] * hold
    counter = LineCounter("l", LINE, settings=SETTINGS)
    directions = _run(counter, ys)
    changes = [(a, b) for a, b in itertools.pairwise(sides) if a != b]
    expected_in = int((-1, 1) in changes)
    expected_out = int((1, -1) in changes)
    assert directions.count("in") == expected_in
    assert directions.count("out") == expected_out
    assert len(directions) == expected_in + expected_out


@given(jitter=st.lists(st.floats(min_value=-BAND + 0.01, max_value=BAND - 0.01), max_size=40))
def test_standing_on_the_line_never_counts(jitter: list[float]) -> None:
    counter = LineCounter("l", LINE, settings=SETTINGS)
    assert _run(counter, [250.0, 250.0, *(300.0 + j for j in jitter)]) == []


def test_a_single_frame_on_the_other_side_is_not_a_crossing() -> None:
    counter = LineCounter("l", LINE, settings=SETTINGS)
    assert _run(counter, [250, 250, 350, 250, 250]) == []


def test_crossing_outside_the_segment_does_not_count() -> None:
    counter = LineCounter("l", LINE, settings=SETTINGS)
    assert _run(counter, [250, 250, 350, 350], x=700.0) == []
    # And it does not count later either: the side was updated outside.
    assert _run(counter, [350, 350]) == []


def test_cross_and_return_counts_one_in_and_one_out() -> None:
    counter = LineCounter("l", LINE, settings=SETTINGS)
    assert _run(counter, [250, 250, 350, 350, 250, 250, 350, 350]) == ["in", "out"]


def test_lost_track_found_again_on_the_same_side_is_not_counted_twice() -> None:
    counter = LineCounter("l", LINE, settings=SETTINGS, forget_after=30)
    # One frame a second: 100 px (one box height) a frame is a walk, not a jump.
    directions = [e.direction for e in counter.update(_box_at(300, 250), 0, 0.0)]
    directions += [e.direction for e in counter.update(_box_at(300, 250), 1, 1.0)]
    directions += [e.direction for e in counter.update(_box_at(300, 350), 2, 2.0)]
    directions += [e.direction for e in counter.update(_box_at(300, 350), 3, 3.0)]
    empty = Detections.empty()
    for index in range(4, 20):  # occluded
        directions += [e.direction for e in counter.update(empty, index, float(index))]
    for index in range(20, 24):
        directions += [e.direction for e in counter.update(_box_at(300, 360), index, float(index))]
    assert directions == ["in"]


def test_state_of_dead_tracks_is_pruned() -> None:
    counter = LineCounter("l", LINE, settings=SETTINGS, forget_after=10)
    for track_id in range(50):
        counter.update(_box_at(300, 250, track_id), track_id, float(track_id))
    assert counter.tracked <= 11


def test_class_and_events_carry_the_track() -> None:
    counter = LineCounter("door", LINE, camera="cam1", settings=SETTINGS)
    events = []
    for index, y in enumerate([250, 250, 350, 350]):
        events += counter.update(_box_at(300, y, track_id=7, class_id=2), index, 1000.0 + index)
    (event,) = events
    assert (event.camera, event.counter, event.class_name, event.track_id) == (
        "cam1", "door", "car", 7,
    )  # fmt: skip
    # Counted on the 2nd frame past the line (min_frames), dated when it stepped over.
    assert event.kind == "crossing" and (event.timestamp, event.frame_index) == (1002.0, 2)


def test_a_slow_crossing_is_dated_when_the_anchor_stepped_over_the_line() -> None:
    """Feet that creep through the band count only once clear of it, seconds later; the
    event says when they last stepped over the line itself, back-steps included."""
    counter = LineCounter("door", LINE, settings=SETTINGS)
    walk = [280, 290, 298, 302, 299, 301, 303, 305, 307, 309, 311, 313, 330, 330]
    events = []
    for index, y in enumerate(walk):
        events += counter.update(_box_at(300, y, track_id=3), index, 10.0 + index / 10)
    (event,) = events
    assert event.direction == "in" and event.frame_index == 5
    assert event.timestamp == pytest.approx(10.5)


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [("bottom_center", (15.0, 40.0)), ("center", (15.0, 30.0)), ("top_left", (10.0, 20.0))],
)
def test_anchor_points(anchor: str, expected: tuple[float, float]) -> None:
    point = anchor_points(np.array([[10.0, 20.0, 20.0, 40.0]]), anchor)  # type: ignore[arg-type]
    assert tuple(point[0]) == expected


@given(st.floats(0, 1), st.floats(0, 1))
def test_fractions_scale_to_pixels(fx: float, fy: float) -> None:
    x, y = to_pixels([fx, fy], 640, 480)
    assert x == pytest.approx(fx * 640) and y == pytest.approx(fy * 480)


def test_along_segment_is_zero_at_p1_and_one_at_p2() -> None:
    points = np.array([[100.0, 300.0], [500.0, 300.0], [300.0, 0.0]])
    assert along_segment(points, LINE).tolist() == [0.0, 1.0, 0.5]


def test_zone_occupancy_forgets_lost_tracks_quickly_but_not_at_once() -> None:
    from aistack.analytics.zones import ZoneCounter

    zone = ZoneCounter("z", [(0, 0), (600, 0), (600, 600), (0, 600)], present_within=3)
    zone.update(_box_at(300, 400, track_id=1), 0, 0.0)
    assert zone.occupancy() == {"person": 1}
    for index in range(1, 4):  # missed detections for three frames: still there
        zone.update(Detections.empty(), index, float(index))
    assert zone.occupancy() == {"person": 1}
    zone.update(Detections.empty(), 4, 4.0)
    assert zone.occupancy() == {"person": 0}
