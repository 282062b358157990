"""The counting rules for imperfect tracks, as properties over generated tracks.

Jumps (an identity swap, a box moving onto someone else) never count, walks at any
frame rate do; two boxes on one person count once, two people side by side count
twice; a crossing hidden by a gap between two tracks counts once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aistack.analytics.crossing_rules import (
    MotionLimits,
    containment,
    crossing_position,
    jump_free_distance,
    one_person,
    trailing_outliers,
)
from aistack.analytics.lines import LineCounter
from aistack.analytics.track_history import Observations, TrackHistory
from aistack.config import CountingConfig
from aistack.types import Detections

LINE = (0.0, 300.0, 2000.0, 300.0)  # horizontal, drawn left to right: walking down is "in"
H = 100.0  # box height, pixels
W = 40.0
RULES = CountingConfig()  # the defaults: every rule on
BAND = RULES.min_distance_fraction * H
REACH = RULES.max_speed * H  # pixels a second a person can move


@dataclass(frozen=True)
class Box:
    track_id: int
    x: float  # centre
    foot: float  # bottom
    height: float = H
    width: float = W


def _frame(boxes: Sequence[Box]) -> Detections:
    if not boxes:
        return Detections.empty(("person",))
    return Detections(
        xyxy=np.array(
            [[b.x - b.width / 2, b.foot - b.height, b.x + b.width / 2, b.foot] for b in boxes]
        ),
        confidence=np.full(len(boxes), 0.9),
        class_id=np.zeros(len(boxes), np.int64),
        tracker_id=np.array([b.track_id for b in boxes]),
        class_names=("person",),
    )


def _count(frames: Sequence[Sequence[Box]], fps: float, rules: CountingConfig = RULES) -> list[str]:
    counter = LineCounter("l", LINE, settings=rules, forget_after=round(3 * fps))
    directions: list[str] = []
    for index, boxes in enumerate(frames):
        events = counter.update(_frame(boxes), index, 1000.0 + index / fps)
        directions += [e.direction for e in events]
    return directions


def _walk(
    track_id: int, start: float, end: float, speed: float, fps: float, jitter: Sequence[float] = ()
) -> list[Box]:
    """One box walking its foot from `start` to `end` at `speed` px/s or a little slower
    (never faster: whole frames), with foot jitter."""
    steps = max(1, math.ceil(abs(end - start) / speed * fps))
    feet = np.linspace(start, end, steps + 1)
    return [
        Box(track_id, 1000.0, float(y) + (jitter[i % len(jitter)] if jitter else 0.0))
        for i, y in enumerate(feet)
    ]


fps_values = st.sampled_from([5.0, 7.0, 10.0, 15.0, 25.0, 30.0, 60.0])
walking = st.floats(min_value=0.2, max_value=0.9)  # a fraction of the fastest plausible speed
small_jitter = st.lists(st.floats(-BAND / 2, BAND / 2), min_size=1, max_size=7)


@given(fps=fps_values, speed=walking, jitter=small_jitter, down=st.booleans())
@settings(max_examples=150, deadline=None)
def test_a_walk_across_counts_once_in_its_direction_at_any_frame_rate(
    fps: float, speed: float, jitter: list[float], down: bool
) -> None:
    start, end = (150.0, 450.0) if down else (450.0, 150.0)
    frames = [[b] for b in _walk(1, start, end, speed * REACH, fps, jitter)]
    assert _count(frames, fps) == ["in" if down else "out"]


@given(
    fps=fps_values,
    speed=walking,
    jitter=small_jitter,
    beyond=st.floats(min_value=1.2, max_value=4.0),
    share=st.floats(min_value=0.0, max_value=1.0),
    then=st.sampled_from([-1.0, 0.0]),
)
@settings(max_examples=200, deadline=None)
def test_a_swap_like_jump_across_never_counts_in_its_direction(
    fps: float, speed: float, jitter: list[float], beyond: float, share: float, then: float
) -> None:
    # The track walks down towards the line and stops short of it, then its box jumps in
    # one frame onto someone past the line, farther than anyone walks in a frame; that
    # person walks back up (-1) or stands (0), jittering below the band: the move down
    # was never anyone's motion.
    jump = max(beyond * (BAND + REACH / fps), 4 * BAND + 1)
    approach = 2 * BAND + share * (jump - 4 * BAND)
    landing = jump - approach
    before = _walk(1, 150.0, 300.0 - approach, speed * REACH, fps, jitter)
    after = _walk(1, 300.0 + landing, 300.0 + landing + then * 100.0 + 0.1, speed * REACH, fps)
    stand = [Box(1, 1000.0, 300.0 + landing + then * 100.0 + j) for j in jitter * 3]
    frames = [[b] for b in [*before, *after, *stand]]
    assert "in" not in _count(frames, fps)


@given(fps=fps_values, speed=walking)
@settings(max_examples=50, deadline=None)
def test_without_the_rule_the_jump_counts(fps: float, speed: float) -> None:
    before = _walk(1, 150.0, 260.0, speed * REACH, fps)
    after = [Box(1, 1000.0, 360.0)] * 4
    frames = [[b] for b in [*before, *after]]
    plain = RULES.model_copy(update={"motion_direction": False})
    assert _count(frames, fps, plain) == ["in"]
    assert _count(frames, fps) == []


@given(
    fps=fps_values,
    speed=walking,
    inset=st.floats(min_value=0.0, max_value=0.1),
    top_share=st.floats(min_value=0.45, max_value=1.0),
    delay=st.floats(min_value=0.0, max_value=0.5),
)
@settings(max_examples=150, deadline=None)
def test_two_tracks_on_one_person_count_once(
    fps: float, speed: float, inset: float, top_share: float, delay: float
) -> None:
    # Track 1 is the whole person; track 2 a second box on the same person (its upper
    # part, or a slightly smaller box), which starts `delay` seconds later. Its anchor
    # crosses when its own bottom does, whenever that is.
    person = _walk(1, 150.0, 500.0, speed * REACH, fps)
    late = round(delay * fps)
    frames: list[list[Box]] = []
    for i, whole in enumerate(person):
        boxes = [whole]
        if i >= late:
            height = H * top_share * (1 - inset)
            foot = whole.foot - H + H * inset / 2 + height
            boxes.append(Box(2, whole.x, foot, height, W * (1 - inset)))
        frames.append(boxes)
    assert _count(frames, fps) == ["in"]


@given(
    fps=fps_values,
    speed=walking,
    gap=st.floats(min_value=1.05, max_value=3.0),  # centre to centre, in box widths
    lag=st.floats(min_value=-0.3, max_value=0.3),  # seconds the second is behind
    jitter=small_jitter,
)
@settings(max_examples=150, deadline=None)
def test_two_people_side_by_side_both_count(
    fps: float, speed: float, gap: float, lag: float, jitter: list[float]
) -> None:
    first = _walk(1, 150.0, 500.0, speed * REACH, fps, jitter)
    shift = lag * speed * REACH
    second = [Box(2, b.x + gap * W, b.foot - shift) for b in first]
    frames = [[a, b] for a, b in zip(first, second, strict=True)]
    assert _count(frames, fps) == ["in", "in"]


@given(
    fps=fps_values,
    speed=walking,
    behind=st.floats(min_value=0.4, max_value=1.0),  # box heights between their feet
    side=st.floats(min_value=-0.3, max_value=0.3),  # box widths to the side
)
@settings(max_examples=150, deadline=None)
def test_two_people_one_behind_the_other_both_count(
    fps: float, speed: float, behind: float, side: float
) -> None:
    # The one behind is higher in the picture and a little smaller; its box overlaps the
    # front one's, but less than duplicate_overlap of it is inside (closer behind, its
    # box would look like a second box on the front person, and they would count once).
    front = _walk(1, 150.0, 550.0, speed * REACH, fps)
    back = [Box(2, b.x + side * W, b.foot - behind * H, 0.9 * H, 0.9 * W) for b in front]
    frames = [[a, b] for a, b in zip(front, back, strict=True)]
    assert _count(frames, fps) == ["in", "in"]


@given(
    fps=fps_values,
    speed=st.floats(min_value=0.3, max_value=0.9),
    hidden=st.floats(min_value=0.0, max_value=0.4),  # seconds more than the crossing itself
    noise=st.floats(min_value=-0.2, max_value=0.2),  # box heights off the prediction
    found_again=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_a_crossing_hidden_in_a_gap_between_two_tracks_counts_once(
    fps: float, speed: float, hidden: float, noise: float, found_again: bool
) -> None:
    # Track 1 walks down and is lost before the line; a new track 2 appears past it,
    # within stitch_seconds, where track 1 would be by now (give or take `noise`).
    # Perhaps the tracker later finds track 1 again as well: still one crossing.
    path = _walk(1, 100.0, 600.0, speed * REACH, fps)
    lost_at = next(i for i, b in enumerate(path) if b.foot > 300.0 - 2 * BAND)
    past = next(i for i, b in enumerate(path) if b.foot + noise * H > 300.0 + 2 * BAND)
    back_at = max(past, lost_at + round(hidden * fps))
    frames: list[list[Box]] = [[b] for b in path[:lost_at]]
    frames += [[] for _ in range(lost_at, back_at)]
    for i, b in enumerate(path[back_at:], start=back_at):
        boxes = [Box(2, b.x, b.foot + noise * H)]
        if found_again and i > back_at + fps:
            boxes.append(Box(1, b.x + 3, b.foot))
        frames.append(boxes)
    assert (back_at - lost_at + 1) / fps <= RULES.stitch_seconds
    assert _count(frames, fps) == ["in"]


@pytest.mark.parametrize("fps", [10.0, 30.0])
def test_a_hidden_crossing_is_dated_where_the_path_between_the_sightings_meets_the_line(
    fps: float,
) -> None:
    # Walking at a steady speed, lost 2 bands before the line and found 2 bands past it:
    # the event says when the feet crossed the line, not when the new track appeared.
    path = _walk(1, 100.0, 600.0, 0.4 * REACH, fps)
    lost_at = next(i for i, b in enumerate(path) if b.foot > 300.0 - 2 * BAND)
    back_at = next(i for i, b in enumerate(path) if b.foot > 300.0 + 2 * BAND)
    crossed = next(i for i, b in enumerate(path) if b.foot > 300.0)
    frames: list[list[Box]] = [[b] for b in path[:lost_at]]
    frames += [[] for _ in range(lost_at, back_at)]
    frames += [[Box(2, b.x, b.foot)] for b in path[back_at:]]
    counter = LineCounter("l", LINE, settings=RULES, forget_after=round(3 * fps))
    events = [
        event
        for index, boxes in enumerate(frames)
        for event in counter.update(_frame(boxes), index, 1000.0 + index / fps)
    ]
    (event,) = events
    assert event.direction == "in" and event.track_id == 2
    assert back_at - crossed >= 2  # dated when it appeared, it would be off by more than 1
    assert abs(event.frame_index - crossed) <= 1
    assert event.timestamp == pytest.approx(1000.0 + event.frame_index / fps, abs=1 / fps)


@given(fps=fps_values, speed=st.floats(min_value=0.3, max_value=0.9))
@settings(max_examples=30, deadline=None)
def test_without_the_rule_the_hidden_crossing_is_missed(fps: float, speed: float) -> None:
    # Track 1 until just before the line, nothing near it, track 2 from just past it.
    path = _walk(1, 100.0, 600.0, speed * REACH, fps)
    frames = [
        [b] if b.foot < 300.0 - 2 * BAND else [Box(2, b.x, b.foot)] if b.foot > 300 + 2 * BAND
        else []
        for b in path
    ]  # fmt: skip
    assert _count(frames, fps, RULES.model_copy(update={"stitch": False})) == []
    assert _count(frames, fps) == ["in"]


def test_a_new_track_far_from_where_the_lost_one_was_heading_is_not_its_crossing() -> None:
    fps = 10.0
    before = _walk(1, 150.0, 280.0, 100.0, fps)  # down at one box height a second
    frames: list[list[Box]] = [[b] for b in before] + [[], []]
    # Expected near foot 310 at x 1000; this one is three box heights to the side.
    frames += [[Box(2, 1300.0, 320.0 + 10 * i)] for i in range(6)]
    assert _count(frames, fps) == []
    # And a track that was there all along is not a lost person reappearing either.
    frames = [[b, Box(3, 1000.0, 320.0)] for b in before] + [[Box(3, 1000.0, 330.0)]] * 3
    assert _count(frames, fps) == []


@pytest.mark.parametrize(
    ("ratio", "stitched"), [(1.2, True), (1 / 1.2, True), (1.6, False), (0.6, False)]
)
def test_a_new_track_of_another_height_is_someone_else(ratio: float, stitched: bool) -> None:
    # Where track 1 was heading, but `ratio` times as tall: within the detector's own
    # height noise for one person (1.35x) it is the lost person, beyond it someone else.
    fps = 10.0
    before = _walk(1, 150.0, 280.0, 100.0, fps)
    frames: list[list[Box]] = [[b] for b in before] + [[], []]
    frames += [[Box(2, 1000.0, 320.0 + 10 * i, height=H * ratio)] for i in range(6)]
    assert _count(frames, fps) == (["in"] if stitched else [])


def test_a_track_lost_after_it_crossed_in_sight_is_not_a_hidden_crossing() -> None:
    fps = 10.0
    path = _walk(1, 150.0, 600.0, 100.0, fps)
    seen = [b for b in path if b.foot < 340.0]  # counted at 320, lost at 330
    frames: list[list[Box]] = [[b] for b in seen] + [[], []]
    frames += [[Box(2, b.x, b.foot)] for b in path[len(seen) + 2 :]]
    assert _count(frames, fps) == ["in"]
    # Nor is one lost just past the line, still in the band: the line was not crossed
    # while hidden, and never clearly in sight either (a miss the rule accepts).
    seen = [b for b in path if b.foot < 300.0 + BAND]
    frames = [[b] for b in seen] + [[], []] + [[Box(2, b.x, b.foot)] for b in path[len(seen) + 2 :]]
    assert _count(frames, fps) == []


def test_a_stitched_track_found_again_where_it_was_lost_does_not_count_a_return() -> None:
    # Track 1 is lost just before the line; someone else (track 2) appears past it where
    # track 1 was heading: a stitch, counted "in". Then the tracker finds track 1 again,
    # still before the line: the stitch was wrong, and its return is no crossing "out".
    # (MOT1608raw `plaza`, frames 36 and 50, counted out and in before this rule.)
    fps = 10.0
    before = _walk(1, 150.0, 280.0, 100.0, fps)
    frames: list[list[Box]] = [[b] for b in before] + [[], []]
    frames += [[Box(2, 1000.0, 320.0 + 10 * i)] for i in range(4)]
    frames += [[Box(1, 1000.0, 270.0), Box(2, 1000.0, 360.0 + 10 * i)] for i in range(6)]
    assert _count(frames, fps) == ["in"]
    # Found again past the line instead, it counts nothing more either.
    frames = [[b] for b in before] + [[], []]
    frames += [[Box(2, 1000.0, 320.0 + 10 * i)] for i in range(4)]
    frames += [[Box(1, 1003.0, 360.0 + 10 * i), Box(2, 1000.0, 360.0 + 10 * i)] for i in range(6)]
    assert _count(frames, fps) == ["in"]


def test_a_track_lost_and_found_again_across_the_line_counts_once() -> None:
    fps = 10.0
    before = _walk(1, 150.0, 280.0, 100.0, fps)
    frames: list[list[Box]] = [[b] for b in before] + [[]] * 5
    frames += [[Box(1, 1000.0, 340.0 + 10 * i)] for i in range(5)]
    assert _count(frames, fps) == ["in"]


@pytest.mark.parametrize("gap", [0, 5, 14])  # frames unseen at 10 fps, up to the tracker's 1.5 s
@pytest.mark.parametrize("ratio", [2.0, 0.5])
def test_a_track_found_again_on_a_person_of_another_size_does_not_count(
    gap: int, ratio: float
) -> None:
    # The tracker loses track 1 short of the line and then gives its id to someone twice
    # (or half) as tall past it, near enough to walk to in that time (MOT1608raw `street`
    # frames 151, 161 and 390): one person's box does not change size like that.
    fps = 10.0
    before = _walk(1, 150.0, 280.0, 100.0, fps)
    frames: list[list[Box]] = [[b] for b in before] + [[]] * gap
    frames += [[Box(1, 1000.0, 310.0 + 5 * i, height=H * ratio)] for i in range(5)]
    assert _count(frames, fps) == []
    # Within the detector's own height noise for one person it is a walk across.
    frames = [[b] for b in before] + [[]] * gap
    frames += [[Box(1, 1000.0, 310.0 + 5 * i, height=H * 1.2)] for i in range(5)]
    assert _count(frames, fps) == ["in"]


@pytest.mark.parametrize("fps", [10.0, 30.0])
@pytest.mark.parametrize("heights_a_second", [5.0, 10.0, 20.0])
def test_a_fast_car_counts_where_a_person_that_fast_would_be_a_jump(
    fps: float, heights_a_second: float
) -> None:
    # A car 60 px tall at 10 box heights a second is 600 px/s, about 90 km/h: a car's
    # speed, not a jump. A person's box moving like that has jumped between people.
    height = 60.0
    names = ("person", "car")

    def count(class_id: int) -> list[str]:
        counter = LineCounter("l", LINE, settings=RULES, forget_after=round(3 * fps))
        found = []
        for index in range(round(3 * fps)):
            foot = 200.0 + heights_a_second * height * index / fps
            if foot > 500.0:
                break
            detections = Detections(
                xyxy=np.array([[950.0, foot - height, 1050.0, foot]]),
                confidence=np.array([0.9]),
                class_id=np.array([class_id]),
                tracker_id=np.array([1]),
                class_names=names,
            )
            found += [e.direction for e in counter.update(detections, index, index / fps)]
        return found

    assert count(names.index("car")) == ["in"]
    if heights_a_second / fps > RULES.max_speed / fps + 2 * BAND / H:
        assert count(names.index("person")) == []


def test_history_and_state_of_dead_tracks_are_pruned() -> None:
    counter = LineCounter("l", LINE, settings=RULES, forget_after=10)
    for index in range(200):
        box = Box(index, 1000.0, 200.0 + index % 7)
        counter.update(_frame([box]), index, index / 10)
    assert counter.tracked <= 11
    assert counter._history is not None and len(counter._history) <= 11


def test_history_keeps_only_its_time_window() -> None:
    history = TrackHistory(keep_seconds=1.0)
    for index in range(100):
        history.add(7, index / 30, np.array([0.0, 0.0, 10.0, 20.0]), np.array([5.0, 20.0]))
    seen = history.of(7)
    assert len(seen) == 31 and seen.time[-1] - seen.time[0] <= 1.0


def _observations(feet: Sequence[float], fps: float = 10.0) -> Observations:
    feet_array = np.asarray(feet, dtype=np.float64)
    boxes = np.stack([np.full_like(feet_array, 980.0), feet_array - H,
                      np.full_like(feet_array, 1020.0), feet_array], axis=1)  # fmt: skip
    anchors = np.stack([np.full_like(feet_array, 1000.0), feet_array], axis=1)
    return Observations(np.arange(len(feet_array)) / fps, boxes, anchors)


def test_jump_free_distance_takes_out_only_the_jump() -> None:
    limits = MotionLimits(max_speed=3.0, jitter=0.08)
    walk = _observations([250, 260, 270, 280, 290, 300, 310])  # 100 px/s: a walk
    assert jump_free_distance(walk, LINE, limits) == 10.0
    # 110 px in 0.1 s, and the box stays there: a lasting jump, taken out.
    jump = _observations([250, 260, 270, 380, 390, 400])
    assert jump_free_distance(jump, LINE, limits) == -10.0
    assert trailing_outliers(jump, limits) == 0


def test_a_flicker_is_stepped_over_and_a_fresh_jump_waits() -> None:
    limits = MotionLimits(max_speed=3.0, jitter=0.08, height_ratio=1.35)
    # One box on a neighbour 130 px away, then back on the walker: every real step counts.
    away = _observations([250, 260, 390, 280, 290])
    assert jump_free_distance(away, LINE, limits) == -10.0
    # Two boxes on the neighbour, then back.
    twice = _observations([250, 260, 390, 395, 290, 300])
    assert jump_free_distance(twice, LINE, limits) == 0.0
    # One box 1.6x as tall (two people in one box), its foot 20 px lower, then back.
    tall = _observations([250, 260, 270, 300, 290, 300])
    heights = np.array([H, H, H, 1.6 * H, H, H])
    tall.boxes[:, 1] = tall.boxes[:, 3] - heights
    assert jump_free_distance(tall, LINE, limits) == 0.0
    # The newest box has just jumped: too soon to tell a flicker from a lasting change.
    fresh = _observations([250, 260, 270, 380])
    assert trailing_outliers(fresh, limits) == 1
    assert jump_free_distance(fresh, LINE, limits) == -30.0
    # Three boxes away is no flicker: the jump is taken out, the motion after it kept.
    stays = _observations([250, 260, 390, 395, 400])
    assert jump_free_distance(stays, LINE, limits) == -30.0
    assert trailing_outliers(stays, limits) == 0


@given(
    fps=fps_values,
    speed=walking,
    offset=st.integers(min_value=-2, max_value=2),
    kind=st.sampled_from(["taller", "neighbour"]),
    down=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_a_walk_across_counts_even_when_its_box_flickers_at_the_line(
    fps: float, speed: float, offset: int, kind: str, down: bool
) -> None:
    # One frame near where the walker clears the band on the far side, the box is bad:
    # 1.6x as tall with its foot a fifth of a height further on (two people in one box),
    # or on a neighbour 1.5 box heights away. The walk still counts, once, its own way.
    start, end = (150.0, 450.0) if down else (450.0, 150.0)
    walk = _walk(1, start, end, speed * REACH, fps)
    sign = 1.0 if down else -1.0
    cleared = next(i for i, b in enumerate(walk) if sign * (b.foot - 300.0) > BAND)
    bad = min(max(cleared + offset, 1), len(walk) - 2)
    if kind == "taller":
        flicker = Box(1, 1000.0, walk[bad].foot + sign * 0.2 * H, height=1.6 * H)
    else:
        flicker = Box(1, 1000.0, walk[bad].foot + sign * 1.5 * H)
    frames = [[flicker] if i == bad else [b] for i, b in enumerate(walk)]
    assert _count(frames, fps) == ["in" if down else "out"]


def test_containment_and_one_person() -> None:
    big = np.array([[0.0, 0.0, 40.0, 100.0]])
    assert containment(big, np.array([[0.0, 0.0, 40.0, 50.0]]))[0] == 1.0
    assert containment(big, np.array([[40.0, 0.0, 80.0, 100.0]]))[0] == 0.0
    whole = _observations([250, 260, 270])
    upper_boxes = whole.boxes.copy()
    upper_boxes[:, 3] = upper_boxes[:, 1] + 50  # the top half
    upper = Observations(whole.time, upper_boxes, whole.anchors)
    assert one_person(whole, upper, 0.7)
    beside = Observations(whole.time, whole.boxes + np.array([50, 0, 50, 0]), whole.anchors)
    assert not one_person(whole, beside, 0.7)
    assert not one_person(whole, Observations(whole.time[:1], whole.boxes[:1], whole.anchors[:1]),
                          0.7)  # fmt: skip


def test_crossing_position_is_where_the_path_meets_the_line() -> None:
    assert crossing_position(np.array([500.0, 200.0]), np.array([700.0, 400.0]), LINE) == 0.3
