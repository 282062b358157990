"""The accuracy benchmark's fixed cases: clips, their truth and their lines, written down once.

Each case is a clip, its truth (MOTChallenge ground truth or a `crossings.csv` of a count
audit) and several lines spread across the frame. The lines were fixed before anything was
measured on them and are never moved to make a result look better: on the PETS clip they
are a plain grid (a quarter, half and three quarters of the width, a third and two thirds of
the height), so they fall wherever people happen to walk; on the street clips they are the
lines the audit annotated (experiments/accuracy/truth/lines.yaml).

The scaled PETS cases (0.5 and 0.35: people 20-60 px tall, as on a wide street camera) are
generated at run time from the clip and its ground truth and never committed: the data is
CC BY-NC-SA and stays in ../shared/data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import yaml

from aistack.config import default_data_dir
from aistack.data import DEMO_CLIP
from aistack.errors import ConfigError, SourceError

# Fractions of width and height, so the same lines fit the scaled copies.
GRID_LINES: tuple[str, ...] = (
    "v25=0.25,0,0.25,1",
    "v50=0.5,0,0.5,1",
    "v75=0.75,0,0.75,1",
    "h33=0,0.333,1,0.333",
    "h67=0,0.667,1,0.667",
)
PETS_SCALES = (1.0, 0.5, 0.35)
STREET_CLIPS = ("MOT1601raw", "MOT1608raw")
TRUTH_DIR = Path("experiments/accuracy/truth")


@dataclass(frozen=True)
class AccuracyCase:
    """One clip with its truth and lines; `missing` says why it cannot run here, if it cannot."""

    name: str
    clip: Path
    truth: Path
    truth_kind: str  # "mot" (boxes and identities) or "crossings" (a crossings.csv)
    lines: tuple[str, ...]
    scale: float = 1.0
    missing: str | None = None


def find_cases(
    data_dir: Path, truth_dir: Path = TRUTH_DIR, names: Sequence[str] | None = None
) -> list[AccuracyCase]:
    """Every case, in a fixed order; those whose data is absent carry the reason."""
    pets_gt = data_dir / "PETS09-S2L1" / "gt.txt"
    pets_missing = None if pets_gt.is_file() else f"{pets_gt} not found (../shared/data)"
    cases = [
        AccuracyCase(
            name="pets-s2l1" if scale == 1 else f"pets-s2l1-x{scale:g}",
            clip=DEMO_CLIP,
            truth=pets_gt,
            truth_kind="mot",
            lines=GRID_LINES,
            scale=scale,
            missing=pets_missing,
        )
        for scale in PETS_SCALES
    ]
    lines_file = truth_dir / "lines.yaml"
    street_lines = _street_lines(lines_file) if lines_file.is_file() else {}
    for clip_name in STREET_CLIPS:
        clip = data_dir / f"{clip_name}.mp4"
        truth = truth_dir / f"{clip_name}.crossings.csv"
        missing = next(
            (f"{path} not found" for path in (clip, truth, lines_file) if not path.is_file()),
            None,
        )
        if missing is None and clip_name not in street_lines:
            missing = f"{lines_file} has no lines for {clip_name}"
        cases.append(
            AccuracyCase(
                name=clip_name,
                clip=clip,
                truth=truth,
                truth_kind="crossings",
                lines=street_lines.get(clip_name, ()),
                missing=missing,
            )
        )
    if names:
        known = {c.name for c in cases}
        if unknown := [n for n in names if n not in known]:
            raise ConfigError(
                f"unknown accuracy case {', '.join(unknown)}; "
                f"choose from {', '.join(sorted(known))}"
            )
        cases = [c for c in cases if c.name in names]
    return cases


def _street_lines(path: Path) -> dict[str, tuple[str, ...]]:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the street clips' lines ({error})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected CLIP: {{LINE: [x1, y1, x2, y2]}}")
    lines: dict[str, tuple[str, ...]] = {}
    for clip, named in document.items():
        if not isinstance(named, dict):
            raise ConfigError(f"{path}: {clip}: expected LINE: [x1, y1, x2, y2] entries")
        lines[str(clip)] = tuple(
            f"{name}={','.join(str(float(v)) for v in points)}" for name, points in named.items()
        )
    return lines


def scaled_copy(case: AccuracyCase, cache: Path | None = None) -> AccuracyCase:
    """The case with its clip and MOT ground truth resized by `case.scale`, cached on disk.

    Frames are resized with area interpolation (what a camera with fewer pixels would see);
    ground-truth boxes are scaled by the same factor.
    """
    if case.scale == 1:
        return case
    cache = cache or default_data_dir() / "cache" / "accuracy"
    key = hashlib.sha1(f"{case.clip}|{case.truth}|{case.scale}".encode()).hexdigest()
    folder = cache / f"{case.name}-{key[:10]}"
    clip = folder / "clip.mp4"
    truth = folder / case.truth.name
    if not (clip.is_file() and truth.is_file()):
        folder.mkdir(parents=True, exist_ok=True)
        _write_scaled_clip(case.clip, clip, case.scale)
        _write_scaled_truth(case.truth, truth, case.scale)
    return AccuracyCase(
        case.name, clip, truth, case.truth_kind, case.lines, case.scale, case.missing
    )


def _write_scaled_clip(source: Path, target: Path, scale: float) -> None:
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    writer: cv2.VideoWriter | None = None
    partial = target.with_suffix(".partial.mp4")
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            if writer is None:
                fourcc = cv2.VideoWriter.fourcc(*"mp4v")
                writer = cv2.VideoWriter(str(partial), fourcc, fps, size)
            writer.write(image)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if writer is None:
        raise SourceError(f"{source}: no frames to scale for the accuracy benchmark")
    partial.replace(target)  # only a whole clip is ever cached


def _write_scaled_truth(source: Path, target: Path, scale: float) -> None:
    rows = []
    for row in source.read_text().splitlines():
        cells = [c.strip() for c in row.split(",")]
        if len(cells) >= 6:
            cells[2:6] = [f"{float(v) * scale:.2f}" for v in cells[2:6]]
            rows.append(",".join(cells))
    target.write_text("\n".join(rows) + "\n")
