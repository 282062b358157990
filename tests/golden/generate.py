"""Write golden clips: real sprites on known paths across a counting line, with MOT ground truth.

Usage: python -m tests.golden.generate --out DIR [--scenario NAME ...]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from aistack.types import Direction

from .sprites import (
    Image,
    Sprite,
    SpriteUnavailableError,
    background,
    load_sprite,
    scaled_size,
    sprite_class,
    sprite_size,
)

Keyframe = tuple[int, float, float]  # 0-based frame, anchor x, anchor y (box bottom-centre)
Line = tuple[float, float, float, float]  # x1, y1, x2, y2: P1 → P2

# A crossing counts once the anchor is this far past the line, having been this far
# before it on the other side: a human's count, blind to jitter on the line.
CROSSING_MARGIN_PX = 10.0
# MOT "class" column: COCO class id + 1 (person 1, bus 6), so 0 never means a class.
MOT_CLASS = {"person": 1, "bus": 6}
MOT_COLUMNS = ("frame", "id", "x", "y", "w", "h", "conf", "class", "visibility")


@dataclass(frozen=True)
class SceneObject:
    """One sprite moving along keyframes, linearly interpolated; absent outside them."""

    sprite: str
    class_name: str
    path: tuple[Keyframe, ...]
    hidden: tuple[tuple[int, int], ...] = ()  # [start, stop) frames where it is occluded
    mirror: bool = False
    scale: float = 1.0

    def __post_init__(self) -> None:
        if sprite_class(self.sprite) != self.class_name:
            raise ValueError(f"sprite {self.sprite!r} is a {sprite_class(self.sprite)}")
        frames = [k[0] for k in self.path]
        if not frames or any(b <= a for a, b in itertools.pairwise(frames)):
            raise ValueError(f"{self.sprite}: keyframe frames must increase, got {frames}")

    @property
    def size(self) -> tuple[int, int]:
        return scaled_size(sprite_size(self.sprite), self.scale)

    def anchor(self, frame: int) -> tuple[float, float] | None:
        first, last = self.path[0][0], self.path[-1][0]
        if not first <= frame <= last or any(a <= frame < b for a, b in self.hidden):
            return None
        frames, xs, ys = zip(*self.path, strict=True)
        return float(np.interp(frame, frames, xs)), float(np.interp(frame, frames, ys))


@dataclass(frozen=True)
class Scenario:
    """A clip's geometry, objects and the crossings a human would count in it."""

    name: str
    description: str
    line: Line
    objects: tuple[SceneObject, ...]
    expected_in: int
    expected_out: int
    n_frames: int
    width: int = 640
    height: int = 480
    fps: int = 10

    @property
    def expected(self) -> dict[Direction, int]:
        return {"in": self.expected_in, "out": self.expected_out}


@dataclass(frozen=True)
class Crossing:
    frame: int  # 1-based frame where the anchor is first clear on the new side
    track_id: int
    class_name: str
    direction: Direction


@dataclass(frozen=True)
class GroundTruth:
    """MOT rows (N, 9), one per visible object per frame, and the true crossings."""

    rows: npt.NDArray[np.float64]
    crossings: tuple[Crossing, ...]

    @property
    def counts(self) -> dict[Direction, int]:
        return {d: sum(c.direction == d for c in self.crossings) for d in ("in", "out")}


@dataclass(frozen=True)
class GoldenClip:
    scenario: Scenario
    video: Path
    ground_truth_file: Path
    codec: str
    truth: GroundTruth

    @property
    def expected(self) -> dict[Direction, int]:
        return self.truth.counts


def ground_truth(scenario: Scenario) -> GroundTruth:
    """The MOT rows and crossings of a scenario, from its constants alone (no pixels)."""
    rows: list[list[float]] = []
    for frame, track, (x, y, w, h) in _placements(scenario):
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, scenario.width), min(y + h, scenario.height)
        if x1 > x0 and y1 > y0:
            visibility = round((x1 - x0) * (y1 - y0) / (w * h), 3)
            class_id = MOT_CLASS[scenario.objects[track - 1].class_name]
            rows.append([frame + 1, track, x0, y0, x1 - x0, y1 - y0, 1, class_id, visibility])
    table = np.array(rows, dtype=np.float64).reshape(-1, len(MOT_COLUMNS))
    names = {track: obj.class_name for track, obj in enumerate(scenario.objects, start=1)}
    return GroundTruth(table, count_crossings(table, scenario.line, names))


Placement = tuple[int, int, tuple[int, int, int, int]]


def _placements(scenario: Scenario) -> Iterator[Placement]:
    """(0-based frame, track id, unclipped object box x, y, w, h) for every drawn object."""
    for frame in range(scenario.n_frames):
        for track, obj in enumerate(scenario.objects, start=1):
            anchor = obj.anchor(frame)
            if anchor is None:
                continue
            w, h = obj.size
            x = math.floor(anchor[0] - w / 2 + 0.5)
            bottom = math.floor(anchor[1] + 0.5)
            yield frame, track, (x, bottom - h, w, h)


def count_crossings(
    rows: npt.NDArray[np.float64],
    line: Line,
    class_names: dict[int, str],
    margin: float = CROSSING_MARGIN_PX,
) -> tuple[Crossing, ...]:
    """Crossings of the bottom-centre anchors in MOT rows, at most one per track and direction.

    s(p) = (x2−x1)(py−y1) − (y2−y1)(px−x1); from s<0 to s>0 is "in". A side is
    only taken when the anchor is `margin` px clear of the line, and within the
    segment's extent. margin=0 gives the naive count of raw sign flips.
    """
    x1, y1, x2, y2 = line
    length = math.hypot(x2 - x1, y2 - y1)
    found: list[Crossing] = []
    for track in sorted({int(t) for t in rows[:, 1]}):
        side, seen = 0, set[str]()
        mine = rows[rows[:, 1] == track]
        for frame, _, x, y, w, h, *_ in mine[np.argsort(mine[:, 0], kind="stable")]:
            px, py = x + w / 2, y + h
            along = ((px - x1) * (x2 - x1) + (py - y1) * (y2 - y1)) / length**2
            distance = ((x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)) / length
            if not 0.0 <= along <= 1.0 or abs(distance) <= margin:
                continue
            new_side = 1 if distance > 0 else -1
            direction: Direction = "in" if new_side > 0 else "out"
            if side == -new_side and direction not in seen:
                seen.add(direction)
                found.append(Crossing(int(frame), track, class_names[track], direction))
            side = new_side
    return tuple(sorted(found, key=lambda c: (c.frame, c.track_id)))


# ---------------------------------------------------------------- scenarios
# Horizontal lines are drawn left → right, so s > 0 is below them and walking down the
# picture is "in". People are 36-57 px wide and 86-152 px tall. The bus is pasted at 0.75
# (280x356): any smaller and NanoDet calls it a train, as the crop shows its side, not its ends.
LINE_Y = 270.0
ACROSS: Line = (0.0, LINE_Y, 640.0, LINE_Y)


def _person(
    sprite: str, *path: Keyframe, hidden: tuple[tuple[int, int], ...] = (), mirror: bool = False
) -> SceneObject:
    return SceneObject(sprite, "person", tuple(path), hidden=hidden, mirror=mirror)


def _on_line(
    rng: np.random.Generator, frames: range, x: tuple[float, float], amplitude: int
) -> list[Keyframe]:
    """Keyframes drifting from x[0] to x[1], the anchor jittering ±amplitude about the line."""
    span = max(len(frames) - 1, 1)
    return [
        (f, x[0] + (x[1] - x[0]) * i / span + float(rng.integers(-1, 2)),
         LINE_Y + float(rng.integers(-amplitude, amplitude + 1)))
        for i, f in enumerate(frames)
    ]  # fmt: skip


def _build_scenarios() -> dict[str, Scenario]:
    standing_rng = np.random.default_rng(3)
    standing = _on_line(standing_rng, range(0, 60), (250.0, 300.0), 3)
    # Make sure the jitter really straddles the line, or the trap is not a trap.
    standing[1] = (standing[1][0], standing[1][1], LINE_Y - 3)
    standing[2] = (standing[2][0], standing[2][1], LINE_Y + 3)

    jitter_rng = np.random.default_rng(4)
    oscillation = [
        (f, 300.0 + float(jitter_rng.integers(-2, 3)), LINE_Y + (6.0 if i % 2 else -6.0))
        for i, f in enumerate(range(25, 35))
    ]

    scenarios = [
        Scenario(
            "people_cross",
            "three people walk down across the line at different times, one walks up",
            ACROSS,
            (
                _person("man_glasses", (0, 150, 165), (50, 170, 420)),
                _person("man_back_jeans", (20, 330, 150), (75, 300, 430)),
                _person("man_red_jacket", (35, 520, 160), (89, 540, 450)),
                _person("woman_black_coat", (10, 430, 470), (70, 445, 175)),
            ),
            expected_in=3,
            expected_out=1,
            n_frames=90,
        ),
        Scenario(
            "cross_and_return",
            "one person walks down across the line, pauses, and walks back up",
            ACROSS,
            (
                _person(
                    "man_dark_jacket", (0, 320, 170), (30, 320, 400), (36, 325, 400), (70, 330, 170)
                ),
            ),
            expected_in=1,
            expected_out=1,
            n_frames=75,
        ),
        Scenario(
            "standing_on_line",
            "one person lingers on the line, anchor jittering ±3 px; another walks up across it",
            ACROSS,
            (
                _person("man_glasses", *standing),
                _person("man_back_jeans", (5, 520, 450), (55, 500, 170)),
            ),
            expected_in=0,
            expected_out=1,
            n_frames=60,
        ),
        Scenario(
            "jitter_across",
            "one person walks down across the line, oscillating ±6 px about it for 10 frames",
            ACROSS,
            (
                _person(
                    "man_jacket_jeans",
                    *[(0, 300, 170), (24, 300, 262), *oscillation, (36, 300, 284), (65, 300, 430)],
                ),
            ),
            expected_in=1,
            expected_out=0,
            n_frames=70,
        ),
        Scenario(
            "side_by_side",
            "two people walk down across the line together, boxes 60+ px apart",
            ACROSS,
            (
                _person("man_glasses", (0, 220, 175), (55, 225, 440)),
                _person("man_back_jeans", (0, 330, 175), (55, 335, 440)),
            ),
            expected_in=2,
            expected_out=0,
            n_frames=65,
        ),
        Scenario(
            "bus_cross",
            "the bus drives left to right across a vertical line drawn bottom to top",
            (320.0, 460.0, 320.0, 20.0),
            (SceneObject("bus", "bus", ((0, 145.0, 400.0), (49, 495.0, 400.0)), scale=0.75),),
            expected_in=1,
            expected_out=0,
            n_frames=50,
        ),
        Scenario(
            "edge_enter_exit",
            "people enter and leave at the frame edges: two cross down, one up, one never crosses",
            ACROSS,
            (
                _person("man_dark_jacket", (0, -30, 200), (50, 260, 600)),
                _person("woman_black_coat", (0, 450, 10), (55, 470, 420), (85, 700, 420)),
                _person("man_back_jeans", (10, 680, 400), (70, -40, 380), mirror=True),
                _person("man_glasses", (20, 560, 600), (85, 560, -10)),
            ),
            expected_in=2,
            expected_out=1,
            n_frames=90,
        ),
        Scenario(
            "occluded_cross",
            "one person walks down across the line and is hidden for the 6 frames around it",
            ACROSS,
            (_person("woman_black_coat", (0, 320, 180), (50, 330, 420), hidden=((16, 22),)),),
            expected_in=1,
            expected_out=0,
            n_frames=60,
        ),
    ]
    return {s.name: s for s in scenarios}


SCENARIOS: dict[str, Scenario] = _build_scenarios()


# ---------------------------------------------------------------- rendering and files
def _sprites_for(scenario: Scenario) -> list[Sprite]:
    """Each object's sprite, scaled and mirrored; raises SpriteUnavailableError first."""
    sprites = []
    for obj in scenario.objects:
        sprite = load_sprite(obj.sprite).scaled(obj.scale)
        sprite = sprite.mirrored() if obj.mirror else sprite
        if sprite.size != obj.size:
            raise AssertionError(f"{obj.sprite}: pixels {sprite.size} != constants {obj.size}")
        sprites.append(sprite)
    return sprites


def _paste(image: Image, sprite: Sprite, x: int, y: int) -> None:
    """Alpha-blend the sprite so its object box's top-left lands at (x, y), clipped to the image."""
    sx, sy = x - sprite.box[0], y - sprite.box[1]
    sh, sw = sprite.alpha.shape
    x0, y0 = max(sx, 0), max(sy, 0)
    x1, y1 = min(sx + sw, image.shape[1]), min(sy + sh, image.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    alpha = sprite.alpha[y0 - sy : y1 - sy, x0 - sx : x1 - sx, None]
    source = sprite.image[y0 - sy : y1 - sy, x0 - sx : x1 - sx].astype(np.float32)
    target = image[y0:y1, x0:x1]
    target[:] = (alpha * source + (1.0 - alpha) * target + 0.5).astype(np.uint8)


def render(scenario: Scenario, sprites: Sequence[Sprite] | None = None) -> Iterator[Image]:
    """The clip's BGR frames, in order."""
    sprites = list(sprites) if sprites is not None else _sprites_for(scenario)
    empty = background(scenario.width, scenario.height)
    by_frame: dict[int, list[tuple[int, tuple[int, int, int, int]]]] = {}
    for frame, track, box in _placements(scenario):
        by_frame.setdefault(frame, []).append((track, box))
    for frame in range(scenario.n_frames):
        image = empty.copy()
        # Nearer objects (lower in the picture) are drawn last, over farther ones.
        for track, (x, y, _, _) in sorted(by_frame.get(frame, []), key=_bottom):
            _paste(image, sprites[track - 1], x, y)
        yield image


def _bottom(placed: tuple[int, tuple[int, int, int, int]]) -> int:
    _, (_, y, _, h) = placed
    return y + h


@functools.cache
def video_codec() -> str:
    """'avc1' (H.264) where this OpenCV build can write it, else 'mp4v'."""
    with tempfile.TemporaryDirectory() as folder:
        writer = cv2.VideoWriter(
            str(Path(folder) / "probe.mp4"), cv2.VideoWriter.fourcc(*"avc1"), 10, (64, 64)
        )
        ok = writer.isOpened()
        writer.release()
    return "avc1" if ok else "mp4v"


def format_mot(rows: npt.NDArray[np.float64]) -> str:
    lines = [
        f"{int(f)},{int(i)},{int(x)},{int(y)},{int(w)},{int(h)},{int(c)},{int(k)},{v:.3f}"
        for f, i, x, y, w, h, c, k, v in rows
    ]
    return "".join(line + "\n" for line in lines)


def load_ground_truth(path: Path | str) -> npt.NDArray[np.float64]:
    """A gt.txt file as an (N, 9) array in MOT_COLUMNS order."""
    return np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64).reshape(-1, len(MOT_COLUMNS))


def _check_readable(video: Path, scenario: Scenario) -> None:
    capture = cv2.VideoCapture(str(video))
    count = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            if image.shape != (scenario.height, scenario.width, 3):
                raise RuntimeError(f"{video}: frame {count} is {image.shape}")
            count += 1
    finally:
        capture.release()
    if count != scenario.n_frames:
        raise RuntimeError(f"{video}: OpenCV reads {count} frames, wrote {scenario.n_frames}")


def generate(scenario: Scenario, out_dir: Path | str) -> GoldenClip:
    """Write <name>.mp4 and <name>.gt.txt under out_dir and return what a counter should find."""
    sprites = _sprites_for(scenario)  # fail before any file is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    video = out / f"{scenario.name}.mp4"
    codec = video_codec()
    size = (scenario.width, scenario.height)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*codec), scenario.fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"{video}: OpenCV cannot write {codec} video")
    try:
        for image in render(scenario, sprites):
            writer.write(image)
    finally:
        writer.release()
    _check_readable(video, scenario)
    truth = ground_truth(scenario)
    gt_file = out / f"{scenario.name}.gt.txt"
    gt_file.write_text(format_mot(truth.rows))
    return GoldenClip(scenario, video, gt_file, codec, truth)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.golden.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the clips")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="one scenario (repeatable)"
    )
    args = parser.parse_args(argv)
    names = args.scenario or list(SCENARIOS)
    for name in names:
        try:
            clip = generate(SCENARIOS[name], args.out)
        except SpriteUnavailableError as error:
            if args.scenario:
                print(f"error: {name}: {error}", file=sys.stderr)
                return 2
            print(f"skipped {name}: {error}")
            continue
        counts = clip.expected
        print(
            f"{clip.video} ({clip.scenario.n_frames} frames, {clip.codec}): "
            f"in={counts['in']} out={counts['out']}, truth in {clip.ground_truth_file.name}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
