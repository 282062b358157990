"""Geometry of the counting rules for imperfect tracks: jumps, duplicate tracks, hidden crossings.

Each function works on a track's recent `Observations` (time in seconds, boxes in
pixels) and measures distances in box heights, so the rules hold at any frame rate
and resolution. docs/counting.md says why each rule exists and what it fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aistack.analytics.geometry import along_segment, signed_distance
from aistack.analytics.track_history import FloatArray, Observations

Line = tuple[float, float, float, float]


@dataclass(frozen=True)
class MotionLimits:
    """What a person's own motion can do between two observations.

    A step is a jump (the box moved to someone else, or the box's bottom to a hidden
    knee) when the anchor moves farther than `max_speed` box heights per second for
    the time between the observations plus the `jitter` of a box (box heights, at
    least `jitter_pixels`): a person cannot get there in that time. It is a jump as
    well when the box's height changes by more than `height_ratio` (the taller over
    the shorter): more than one person's box changes between two sightings, so the
    box is now on someone else, nearer or further, or on part of the person only.
    """

    max_speed: float  # box heights per second
    jitter: float  # box heights
    jitter_pixels: float = 0.0
    height_ratio: float = math.inf


def size_change(a: FloatArray | float, b: FloatArray | float) -> FloatArray:
    """How many times taller the taller of two box heights is (elementwise; a box is at
    least a pixel tall)."""
    taller, shorter = np.maximum(a, b), np.maximum(np.minimum(a, b), 1.0)
    return np.asarray(taller / shorter, dtype=np.float64)


# How many boxes in a row may be bad before a change counts as lasting: a box that
# flickers to the upper body or onto a neighbour for a frame or two is detector noise,
# which comes per frame, so the bound is in observations, not seconds.
MAX_OUTLIERS = 2


def _jump_between(
    observations: Observations, a: np.ndarray, b: np.ndarray, limits: MotionLimits
) -> np.ndarray:
    """For observations a[k] and b[k] (index arrays), whether going from one to the other
    is a jump: farther than a person gets in the time between them, or resized."""
    anchors, heights = observations.anchors, observations.heights
    step = np.linalg.norm(anchors[b] - anchors[a], axis=1)
    dt = observations.time[b] - observations.time[a]
    scale = (heights[a] + heights[b]) / 2
    reach = np.maximum(limits.jitter * scale, limits.jitter_pixels) + limits.max_speed * scale * dt
    resized = size_change(heights[b], heights[a]) > limits.height_ratio
    return np.asarray((step > reach) | resized)


def jumps(observations: Observations, limits: MotionLimits) -> np.ndarray:
    """For each step between consecutive observations, whether it is a jump."""
    if len(observations) < 2:
        return np.zeros(0, bool)
    steps = np.arange(len(observations) - 1)
    return _jump_between(observations, steps, steps + 1, limits)


def jump_free_distance(observations: Observations, line: Line, limits: MotionLimits) -> float:
    """Where the track's own motion took it: its signed distance to the line at the last
    good observation, with every jump's displacement taken out (pixels; sign as
    `signed_distance`).

    A track that walked across ends on the far side; one whose box jumped across
    onto another person ends where it was before the jump. A flicker is stepped over:
    up to `MAX_OUTLIERS` bad boxes in a row, each a jump away from the last good box,
    after which the box comes back (fits the last good box, and not the bad one before
    it). The motion is then measured from the last good box to the one that came back,
    so a flicker in mid-crossing does not take the real steps around it out. A box that
    moves and stays is a lasting change (a box now on someone else): its jump is taken
    out and the motion goes on from there.
    """
    if not len(observations):
        return 0.0
    distance = signed_distance(observations.anchors, line)
    total = float(distance[0])
    for start, end in _own_steps(observations, limits)[0]:
        total += float(distance[end] - distance[start])
    return total


def trailing_outliers(observations: Observations, limits: MotionLimits) -> int:
    """How many of the newest boxes, at most `MAX_OUTLIERS`, are a jump away from the last
    good one with nothing after them to tell a flicker from a lasting change: a judgement
    that hangs on them should wait for the next box."""
    return _own_steps(observations, limits)[1]


def _own_steps(
    observations: Observations, limits: MotionLimits
) -> tuple[list[tuple[int, int]], int]:
    """The track's own steps, as (from, to) pairs of good observations, in order, and how
    many of the newest observations are still too new to judge (`trailing_outliers`)."""
    count = len(observations)

    def jump(a: int, b: int) -> bool:
        return bool(_jump_between(observations, np.array([a]), np.array([b]), limits)[0])

    steps: list[tuple[int, int]] = []
    good, index = 0, 1
    while index < count:
        if not jump(good, index):
            steps.append((good, index))
            good, index = index, index + 1
            continue
        last = min(index + MAX_OUTLIERS, count - 1)
        back = [j for j in range(index + 1, last + 1) if not jump(good, j) and jump(j - 1, j)]
        if back:  # a flicker: measure across it
            steps.append((good, back[0]))
            good, index = back[0], back[0] + 1
        elif count - index <= MAX_OUTLIERS and all(jump(good, j) for j in range(index, count)):
            return steps, count - index  # too new to tell a flicker from a lasting change
        else:  # a lasting change: its jump is taken out
            good, index = index, index + 1
    return steps, 0


def velocity(observations: Observations, limits: MotionLimits) -> FloatArray:
    """The track's velocity (pixels per second, x and y): the median of its steps' that are
    not jumps, so one bad box does not steer it. Zero with no such step."""
    if len(observations) < 2:
        return np.zeros(2)
    dt = np.diff(observations.time)
    moving = ~jumps(observations, limits) & (dt > 0)
    if not moving.any():
        return np.zeros(2)
    steps = np.diff(observations.anchors, axis=0)[moving] / dt[moving, None]
    return np.asarray(np.median(steps, axis=0), dtype=np.float64)


def containment(a: FloatArray, b: FloatArray) -> FloatArray:
    """For each pair of boxes (rows of a and b), the share of the smaller one inside the other."""
    width = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    height = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return np.asarray(width * height / np.maximum(np.minimum(area_a, area_b), 1e-9))


def one_person(a: Observations, b: Observations, overlap: float) -> bool:
    """Whether two tracks are boxes of one person: in most of the frames both were seen
    (at least two), the smaller box lies at least `overlap` inside the larger one.

    Evidence over several frames, not one: two people passing each other overlap for
    a moment, while a second box on one person stays on it.
    """
    _, ia, ib = np.intersect1d(a.time, b.time, assume_unique=True, return_indices=True)
    if len(ia) < 2:
        return False
    inside = containment(a.boxes[ia], b.boxes[ib]) >= overlap
    return bool(2 * inside.sum() > len(ia))


def crossing_position(start: FloatArray, end: FloatArray, line: Line) -> float:
    """Where the straight path from `start` to `end` meets the line: 0 at P1, 1 at P2."""
    points = np.stack([start, end])
    d_start, d_end = signed_distance(points, line)
    share = d_start / (d_start - d_end) if d_start != d_end else 0.5
    return float(along_segment((start + share * (end - start))[None, :], line)[0])
