"""Slit-scan strips and the streaks found in them: a drawn square, then real video."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aistack.audit.streaks import crossing_frame, find_streaks
from aistack.audit.strips import LineGeometry, StripRecorder, Strips
from aistack.data import DEMO_CLIP

WIDTH, HEIGHT = 200, 150


def moving_square(points: tuple[float, float, float, float], start: tuple[int, int],
                  step: tuple[int, int], frames: int = 60) -> Strips:  # fmt: skip
    """A dark 24 px square gliding over a textured floor, sampled on the line `points`."""
    floor = np.random.default_rng(0).integers(150, 200, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    recorder = StripRecorder(LineGeometry.of("line", points, (WIDTH, HEIGHT)))
    for index in range(frames):
        image = floor.copy()
        x, y = start[0] + step[0] * index, start[1] + step[1] * index
        cv2.rectangle(image, (x, y), (x + 23, y + 23), (30, 30, 30), -1)
        recorder.add(image, index)
    return recorder.strips()


def test_strips_hold_the_line_and_both_sides_frame_by_frame() -> None:
    strips = moving_square((20.0, 75.0, 180.0, 75.0), (90, 0), (0, 3))
    geometry = strips.geometry
    assert geometry.samples == 161 and geometry.offset == 2  # 1 % of 150 lines, at least 2
    assert geometry.in_normal == pytest.approx((0.0, 1.0))  # s > 0 below a left-to-right line
    assert strips.line.shape == strips.out_side.shape == strips.in_side.shape == (60, 161, 3)
    # The square covers x 90-113 at y 75 once its top passes 52 (frame 18) until frame 25.
    assert strips.line[20, 75:90].min() < 40 and strips.line[5, 75:90].min() > 100
    assert strips.line[20, 0:60].min() > 100  # the line's pixels away from the square: floor


@pytest.mark.parametrize(
    ("points", "start", "step", "direction"),
    [
        ((20.0, 75.0, 180.0, 75.0), (90, 0), (0, 3), "in"),  # down across a left-right line
        ((20.0, 75.0, 180.0, 75.0), (90, 126), (0, -3), "out"),  # up across it
        ((180.0, 75.0, 20.0, 75.0), (90, 0), (0, 3), "out"),  # down, line drawn right-left
        ((100.0, 10.0, 100.0, 140.0), (0, 60), (4, 0), "out"),  # rightwards, line drawn down
    ],
)
def test_a_crossing_square_is_one_streak_in_its_direction(
    points: tuple[float, float, float, float],
    start: tuple[int, int],
    step: tuple[int, int],
    direction: str,
) -> None:
    (streak,) = find_streaks(moving_square(points, start, step), fps=25.0)
    assert streak.direction == direction
    assert streak.lag >= 1
    assert streak.first <= streak.frame <= streak.last


def test_standing_on_the_line_or_walking_along_it_is_no_crossing() -> None:
    line = (20.0, 75.0, 180.0, 75.0)
    assert find_streaks(moving_square(line, (0, 64), (3, 0)), fps=25.0) == []  # along it
    assert find_streaks(moving_square(line, (90, 64), (0, 0)), fps=25.0) == []  # standing


def test_the_crossing_frame_follows_where_the_anchor_sits_in_the_box() -> None:
    down = (0.0, 1.0)  # the in side is below: "in" moves down the picture
    assert crossing_frame(10, 30, "in", down, anchor_height=1.0) == 10  # feet lead
    assert crossing_frame(10, 30, "out", down, anchor_height=1.0) == 30  # feet trail
    assert crossing_frame(10, 30, "in", (1.0, 0.0), anchor_height=1.0) == 20  # sideways
    assert crossing_frame(10, 30, "in", down, anchor_height=0.5) == 20  # centre anchor


def test_streaks_on_real_video_are_the_crossings_of_the_walkway() -> None:
    """The bundled clip's first 200 frames: the counter counts these crossings of the walkway
    (first frame past the line); the strip alone finds them, in the same directions."""
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    ok, image = capture.read()
    height, width = image.shape[:2]
    points = (0.62 * width, 0.8 * height, 0.62 * width, 0.3 * height)
    recorder = StripRecorder(LineGeometry.of("walkway", points, (width, height)))
    index = 0
    while ok and index < 200:
        recorder.add(image, index)
        ok, image = capture.read()
        index += 1
    capture.release()
    strips = recorder.strips()
    assert strips.frames == 200 and strips.first_frame == 0
    streaks = find_streaks(strips, fps=10.0)
    counted = [(12, "out"), (19, "out"), (115, "in"), (148, "out"), (157, "in")]
    for frame, direction in counted:
        assert any(
            s.direction == direction and s.first - 3 <= frame <= s.last + 3 for s in streaks
        ), (frame, direction, streaks)
    assert len(streaks) <= 2 * len(counted)  # a few more at most, not noise everywhere
    for streak in streaks:
        assert 0 <= streak.first <= streak.frame <= streak.last < 200
        assert 0.0 <= streak.start <= streak.end <= 1.0
