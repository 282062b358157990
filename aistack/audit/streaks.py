"""Crossing streaks in slit-scan strips: when something crossed the line, where, and which way.

Foreground is a pixel that differs from the background, the per-position median
over a sliding window of frames (so slow light changes do not stay foreground).
An object crossing the line covers the two side slits one after the other: going
"in" it covers the out-side slit first, and the edges of its streak (where a
pixel starts or stops being covered) reappear on the in-side strip a few frames
later. Around every pixel of the strip, the side strips' edges are matched at
every lag up to `max_lag_seconds`; where one non-zero lag matches clearly better
than its reverse and than no lag at all, something crossed. Someone standing on
the line or walking along it covers both slits at once (best lag 0) and is not
a crossing. Patches of such evidence, merged when close, are the streaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from aistack.audit.strips import Samples, Strips

Mask = npt.NDArray[np.bool_]  # (frames, positions)
Scores = npt.NDArray[np.float32]


@dataclass(frozen=True)
class StreakSettings:
    """How foreground and crossings are told apart from noise; the defaults suit 10-30 fps."""

    min_difference: float = 30.0  # RGB distance from the background (0-441) ...
    noise_factor: float = 3.0  # ... and this many times the position's typical distance
    background_seconds: float = 8.0  # the sliding median's window
    max_lag_seconds: float = 0.5  # slowest passage from one side slit to the other
    window_seconds: float = 1.0  # edges are matched over this long ...
    window_fraction: float = 0.04  # ... and this much of the line (a fraction of frame height)
    min_evidence: float = 0.4  # matched edges per position in the window, beyond the reverse lag
    min_width_fraction: float = 0.03  # narrowest streak, as a fraction of the frame height
    merge_seconds: float = 0.5  # patches of one direction this close in time are one streak


@dataclass(frozen=True)
class Streak:
    """Something that crossed the line between frames `first` and `last` of the clip."""

    first: int
    last: int
    start: float  # along the line: 0 at P1, 1 at P2
    end: float
    direction: str  # "in" or "out"
    lag: int  # frames between covering the first side slit and the second
    frame: int  # the estimated frame when the anchor is first on the new side

    @property
    def position(self) -> float:
        return (self.start + self.end) / 2


@dataclass(frozen=True)
class Foreground:
    """Foreground masks of a line's three slits."""

    out_side: Mask
    line: Mask
    in_side: Mask


def foreground(samples: Samples, window: int, settings: StreakSettings) -> Mask:
    """Pixels that differ from the sliding per-position median background."""
    frames = len(samples)
    if frames == 0:
        return np.zeros(samples.shape[:2], np.bool_)
    window = max(3, min(window, frames))
    step = max(1, window // 4)  # one median per quarter window: smooth enough, 4x cheaper
    background = np.empty(samples.shape, np.float32)
    for start in range(0, frames, step):
        low = max(0, min(start + step // 2 - window // 2, frames - window))
        background[start : start + step] = np.median(samples[low : low + window], axis=0)
    distance = np.linalg.norm(samples.astype(np.float32) - background, axis=2)
    # Edges and textures flicker more than plain floor: judge each position by its own noise.
    noise = np.median(distance, axis=0)
    threshold = np.maximum(settings.min_difference, settings.noise_factor * noise)
    mask: Mask = distance > threshold
    return mask


def find_foreground(strips: Strips, fps: float, settings: StreakSettings) -> Foreground:
    window = round(settings.background_seconds * fps)
    return Foreground(
        foreground(strips.out_side, window, settings),
        foreground(strips.line, window, settings),
        foreground(strips.in_side, window, settings),
    )


def lag_evidence(
    masks: Foreground, fps: float, frame_height: int, settings: StreakSettings
) -> tuple[npt.NDArray[np.int64], Scores]:
    """Per pixel: the best lag from the out-side to the in-side strip, and its evidence.

    The evidence is signed (> 0: "in") and counts matched edges per position of the
    window, beyond those the reverse lag or no lag would match: random pairs in a crowd
    match both ways alike and cancel.
    """
    out_edges, in_edges = _edges(masks.out_side), _edges(masks.in_side)
    frames, positions = out_edges.shape
    max_lag = max(2, round(settings.max_lag_seconds * fps))
    window = (
        max(3, round(settings.window_fraction * frame_height)) | 1,  # positions
        max(3, round(settings.window_seconds * fps)) | 1,  # frames
    )

    def matched(lag: int) -> Scores:
        """Edges on the out side seen again on the in side `lag` frames later, per window."""
        pairs = np.zeros((frames, positions), np.float32)
        if lag >= 0:
            pairs[: frames - lag] = out_edges[: frames - lag] * in_edges[lag:]
        else:
            pairs[-lag:] = out_edges[-lag:] * in_edges[: frames + lag]
        summed = cv2.boxFilter(pairs, -1, window, normalize=False, borderType=cv2.BORDER_CONSTANT)
        return np.asarray(summed, np.float32) / float(window[0])

    # A running best over the lags keeps memory at a few strips, however long the clip.
    still = matched(0)
    best_fit, best_lag, reverse = still.copy(), np.zeros((frames, positions), np.int64), still
    for lag in range(1, min(max_lag, frames - 1) + 1):
        ahead, behind = matched(lag), matched(-lag)
        for fit, opposite, signed in ((ahead, behind, lag), (behind, ahead, -lag)):
            better = fit > best_fit
            best_fit = np.where(better, fit, best_fit)
            best_lag = np.where(better, signed, best_lag)
            reverse = np.where(better, opposite, reverse)
    evidence = (best_fit - np.maximum(reverse, still)) * np.sign(best_lag)
    return best_lag, evidence.astype(np.float32)


def find_streaks(
    strips: Strips,
    fps: float,
    anchor_height: float = 1.0,
    settings: StreakSettings | None = None,
    masks: Foreground | None = None,
) -> list[Streak]:
    """The streaks of a line that cross it, in time order.

    `anchor_height` is where the counted point sits in a box, from 0 (top) to 1 (bottom,
    the feet); it places each streak's crossing frame between its first and last frame.
    """
    settings = settings or StreakSettings()
    masks = masks or find_foreground(strips, fps, settings)
    height = strips.geometry.frame_size[1]
    lags, evidence = lag_evidence(masks, fps, height, settings)
    min_width = max(3, round(settings.min_width_fraction * height))
    patches: list[_Patch] = []
    for direction, sign in (("in", 1.0), ("out", -1.0)):
        mask = (sign * evidence >= settings.min_evidence).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for label in range(1, count):
            left, top, width, frames = (int(v) for v in stats[label, :4])
            if width >= min_width:
                patches.append(_Patch(direction, top, top + frames - 1, left, left + width - 1))
    last_sample = strips.geometry.samples - 1
    streaks = []
    for patch in _merge(patches, round(settings.merge_seconds * fps), min_width):
        first, last = _covered(masks.line, patch)
        region = np.abs(lags[patch.top : patch.bottom + 1, patch.left : patch.right + 1])
        offset = strips.first_frame
        streaks.append(
            Streak(
                offset + first, offset + last, patch.left / last_sample,
                patch.right / last_sample, patch.direction,
                int(np.median(region[region > 0])) if np.any(region > 0) else 0,
                offset + crossing_frame(
                    first, last, patch.direction, strips.geometry.in_normal, anchor_height
                ),
            )
        )  # fmt: skip
    return sorted(streaks, key=lambda s: (s.frame, s.start))


@dataclass(frozen=True)
class _Patch:
    direction: str
    top: int  # frames, inclusive
    bottom: int
    left: int  # positions, inclusive
    right: int


def _merge(patches: list[_Patch], gap_frames: int, gap_positions: int) -> list[_Patch]:
    """Join same-direction patches that nearly touch: one object's edges often split in two."""
    merged = sorted(patches, key=lambda p: (p.direction, p.top))
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(merged):
            for j in range(i + 1, len(merged)):
                b = merged[j]
                if (
                    a.direction == b.direction
                    and b.top <= a.bottom + gap_frames and a.top <= b.bottom + gap_frames
                    and b.left <= a.right + gap_positions and a.left <= b.right + gap_positions
                ):  # fmt: skip
                    merged[i] = _Patch(
                        a.direction, min(a.top, b.top), max(a.bottom, b.bottom),
                        min(a.left, b.left), max(a.right, b.right),
                    )  # fmt: skip
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged


def _covered(line: Mask, patch: _Patch) -> tuple[int, int]:
    """The first and last frame of the patch in which the line itself is mostly covered.

    Evidence is smeared by the matching window; the line's own strip says when the
    object was really on it.
    """
    occupancy = line[patch.top : patch.bottom + 1, patch.left : patch.right + 1].mean(axis=1)
    covered = np.flatnonzero(occupancy >= 0.25)
    if len(covered) == 0:
        middle = (patch.top + patch.bottom) // 2
        return middle, middle
    return patch.top + int(covered[0]), patch.top + int(covered[-1])


def _edges(mask: Mask) -> Scores:
    """+1 where a pixel starts being covered, -1 where it stops, 0 elsewhere."""
    values = mask.astype(np.float32)
    edges = np.zeros_like(values)
    edges[1:] = values[1:] - values[:-1]
    return edges


def crossing_frame(
    first: int, last: int, direction: str, in_normal: tuple[float, float], anchor_height: float
) -> int:
    """When the anchor crosses, given when the object started and ended covering the line.

    The silhouette's leading edge touches the line first. If the anchor is that edge (the
    feet of someone walking down the picture), it crosses at `first`; if it trails (the feet
    of someone walking up), at `last`; an anchor halfway along the motion (someone walking
    sideways across a vertical line) crosses in the middle.
    """
    motion_down = in_normal[1] * (1.0 if direction == "in" else -1.0)
    leading = motion_down * (2.0 * anchor_height - 1.0)  # 1: anchor leads, -1: it trails
    return round(first + (last - first) * (1.0 - leading) / 2.0)
