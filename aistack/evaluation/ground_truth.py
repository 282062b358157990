"""MOTChallenge ground truth files: which of the gt.txt formats a file is, and its boxes.

Three formats share the layout `frame,id,x,y,w,h,...` and differ in what follows:

- `mot15`   (2D MOT 2015): `conf,wx,wy,wz`, 10 columns; world coordinates, often -1, no class
  column: every row is a pedestrian;
- `mot16`   (MOT16/17/20): `conf,class,visibility`, 9 columns; MOTChallenge class numbers;
- `aistack` (the golden clips): `[conf[,class[,visibility]]]`, 6-9 columns; class = COCO id + 1.

A file never says which it is. Reading one as another silently turns world coordinates
or MOT labels into COCO classes, so `auto` takes a format only where the file allows one
reading, and otherwise refuses with a message that names `--gt-format`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from aistack.classes import ALIASES, COCO_CLASSES
from aistack.errors import ConfigError
from aistack.evaluation.boxes import TrackBoxes

IGNORE = "ignore"
# MOT16/17 labels (Milan et al. 2016). Predictions on the TrackEval "distractor" classes
# (person on vehicle, static person, distractor, reflection) count neither way, as in the
# official kit; occluders and non-motorised vehicles are not evaluated at all.
MOT_CLASSES: dict[int, str] = {
    1: "person",
    2: IGNORE,
    3: "car",
    4: "bicycle",
    5: "motorcycle",
    7: IGNORE,
    8: IGNORE,
    12: IGNORE,
}
# aistack's own files (tests/golden) write COCO id + 1, so that 0 never means a class.
COCO_PLUS_ONE: dict[int, str] = {i + 1: name for i, name in enumerate(COCO_CLASSES)}
GT_CLASS_MAPS: dict[str, dict[int, str]] = {"coco+1": COCO_PLUS_ONE, "mot": MOT_CLASSES}
_IGNORED_ID = -1
# What MOT16's numbers mean, for messages about files that could be either numbering.
MOT_LABELS = ("pedestrian", "person on vehicle", "car", "bicycle", "motorbike",
              "non-motorised vehicle", "static person", "distractor", "occluder",
              "occluder on the ground", "full occluder", "reflection")  # fmt: skip


@dataclass(frozen=True)
class GtFormat:
    """One gt.txt layout: how many columns it has and what its class column means."""

    name: str
    columns: tuple[int, ...]
    layout: str
    classes: str | None  # the default --gt-classes; None: no class column, all persons


GT_FORMATS: dict[str, GtFormat] = {
    f.name: f
    for f in (
        GtFormat("mot15", (10,), "frame,id,x,y,w,h,conf,wx,wy,wz", None),
        GtFormat("mot16", (9,), "frame,id,x,y,w,h,conf,class,visibility", "mot"),
        GtFormat("aistack", (6, 7, 8, 9), "frame,id,x,y,w,h[,conf[,class[,visibility]]]", "coco+1"),
    )
}
FORMAT_CHOICES = ("auto", *GT_FORMATS)
_ANY_COLUMNS = range(6, 11)


@dataclass(frozen=True)
class GroundTruth:
    """A gt.txt file: the boxes to evaluate, and regions whose predictions count neither way."""

    path: Path
    boxes: TrackBoxes
    ignored: TrackBoxes
    last_frame: int  # highest 1-based frame in the file, any row
    last_frame_line: int  # its line number, for error messages
    format: str = "aistack"  # the format it was read as: mot15, mot16 or aistack

    def first_frames(self, frames: int) -> GroundTruth:
        """The truth of the clip's first `frames` frames only (for a run cut short)."""
        return GroundTruth(
            self.path, self.boxes[self.boxes.frame < frames],
            self.ignored[self.ignored.frame < frames], min(self.last_frame, frames),
            self.last_frame_line, self.format,
        )  # fmt: skip


def parse_gt_classes(text: str | None) -> dict[int, str]:
    """`coco+1` (default), `mot`, or `ID=NAME,...` where NAME is a COCO class or `ignore`."""
    key = (text or "coco+1").strip().lower()
    if key in GT_CLASS_MAPS:
        return GT_CLASS_MAPS[key]
    mapping: dict[int, str] = {}
    for item in key.split(","):
        number, _, name = item.partition("=")
        name = ALIASES.get(name.strip(), name.strip())
        if not number.strip().isdigit() or (name not in COCO_CLASSES and name != IGNORE):
            raise ConfigError(
                f"--gt-classes {text!r}: expected coco+1, mot, or ID=NAME pairs such as "
                f"'1=person,3=car,7=ignore' (NAME a COCO class or 'ignore'); bad item {item!r}"
            )
        mapping[int(number)] = name
    return mapping


_SPLIT = re.compile(r"\s*,\s*|\s+")
_Row = tuple[int, list[float], str]  # line number, values, the line's text


def load_ground_truth(
    path: Path | str, gt_classes: Mapping[int, str] | None = None, gt_format: str = "auto"
) -> GroundTruth:
    """Read a MOTChallenge-style gt.txt in `gt_format` (see the module docstring).

    Frames are 1-based. Rows with conf 0 are not evaluated, as in MOTChallenge.
    `gt_classes` maps the class column to COCO names (default: the format's own
    numbering); classes it does not name are not evaluated, and `ignore` classes
    become regions where predictions count neither as right nor wrong.
    """
    path = Path(path)
    if gt_format not in FORMAT_CHOICES:
        raise ConfigError(f"--gt-format {gt_format!r}: expected one of {', '.join(FORMAT_CHOICES)}")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"--gt {path}: no such ground-truth file") from None
    except IsADirectoryError:
        raise ConfigError(f"--gt {path}: is a directory, not a gt.txt file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"--gt {path}: cannot read it: {error}") from None
    explicit = GT_FORMATS.get(gt_format)
    rows = [
        (number, _numbers(line, f"{path}:{number}", explicit), line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not rows:
        raise ConfigError(f"{path}: the ground-truth file has no rows")
    _check_one_layout(rows, path, explicit)
    fmt = explicit or _detect(rows, path, gt_classes)
    if fmt.classes is None and gt_classes is not None:
        raise ConfigError(
            f"--gt-classes: {path} is {fmt.name} ({fmt.layout}), which has no class "
            "column: every row is a pedestrian; leave --gt-classes out"
        )
    mapping = gt_classes if gt_classes is not None else GT_CLASS_MAPS.get(fmt.classes or "", {})
    return _ground_truth(path, fmt, rows, mapping)


def _numbers(line: str, where: str, fmt: GtFormat | None) -> list[float]:
    try:
        values = [float(p) for p in _SPLIT.split(line.strip())]
    except ValueError:
        values = []
    counts = fmt.columns if fmt is not None else _ANY_COLUMNS
    if len(values) not in counts or not all(np.isfinite(values)):
        wanted = (
            f"{_counts(fmt.columns)} numbers {fmt.layout} (--gt-format {fmt.name})"
            if fmt is not None
            else "6 to 10 comma- or space-separated numbers frame,id,x,y,w,h[,...]"
        )
        raise ConfigError(f"{where}: expected {wanted}, got {line.strip()[:80]!r}")
    return values


def _counts(columns: Sequence[int]) -> str:
    return str(columns[0]) if len(columns) == 1 else f"{columns[0]} to {columns[-1]}"


def _check_one_layout(rows: Sequence[_Row], path: Path, explicit: GtFormat | None) -> None:
    """Every row has the first row's columns: a mix is two layouts, or a damaged file."""
    first_line, first, _ = rows[0]
    for number, values, _ in rows:
        if len(values) != len(first):
            fix = (
                "fix the file"
                if explicit is not None
                else "rows with different column counts could be different formats: fix the "
                f"file, or pass --gt-format ({', '.join(GT_FORMATS)}) to say which it is"
            )
            raise ConfigError(
                f"{path}:{number}: {len(values)} columns, but line {first_line} has "
                f"{len(first)}: {fix}"
            )


def _detect(rows: Sequence[_Row], path: Path, gt_classes: Mapping[int, str] | None) -> GtFormat:
    """The one format the file's column count (and, for 9 columns, classes) allows."""
    columns = len(rows[0][1])
    if columns == 10:
        return GT_FORMATS["mot15"]
    if columns < 9:
        return GT_FORMATS["aistack"]
    # 9 columns: MOT16/17/20 and aistack's own files have the same columns and differ only
    # in what the class numbers mean. A class map given explicitly settles it; so does a file
    # whose classes are all 1 (or none), which both read as persons.
    if gt_classes is not None:
        return GT_FORMATS["mot16" if gt_classes is MOT_CLASSES else "aistack"]
    classes = sorted({max(int(values[7]), 1) for _, values, _ in rows})
    if classes == [1]:
        return GT_FORMATS["aistack"]
    shown = "; ".join(
        f"class {k}: {_label(MOT_LABELS, k)} in MOT16, {_label(COCO_CLASSES, k)} in COCO + 1"
        for k in [k for k in classes if k != 1][:3]
    )
    raise ConfigError(
        f"{path}: 9 columns fit two formats whose class numbers differ ({shown}): pass "
        "--gt-format mot16 (MOTChallenge 16/17/20) or --gt-format aistack (class = COCO id + 1, "
        "as in aistack's golden clips)"
    )


def _label(names: Sequence[str], number: int) -> str:
    return names[number - 1] if 1 <= number <= len(names) else "unknown"


def _ground_truth(
    path: Path, fmt: GtFormat, rows: Sequence[_Row], mapping: Mapping[int, str]
) -> GroundTruth:
    parsed = [_parse_row(values, fmt, f"{path}:{number}") for number, values, _ in rows]
    table = np.array(parsed, dtype=np.float64)
    lines = np.array([number for number, _, _ in rows])
    _check_unique(table, lines, path)
    order = np.argsort(table[:, 0], kind="stable")  # TrackBoxes keeps rows sorted by frame
    table, lines = table[order], lines[order]
    frame, track, conf, raw_class = (table[:, i].astype(np.int64) for i in (0, 1, 6, 7))
    x, y, w, h = (table[:, i] for i in (2, 3, 4, 5))
    if fmt.classes is None:
        names: list[str | None] = ["person"] * len(table)
    else:
        names = [
            _class_name(int(k), mapping, path, int(n))
            for k, n in zip(raw_class, lines, strict=True)
        ]
    class_id = np.array(
        [COCO_CLASSES.index(n) if n in COCO_CLASSES else _IGNORED_ID for n in names], dtype=np.int64
    ).reshape(-1)
    ignored = np.array([n == IGNORE for n in names], dtype=bool)
    evaluated = (class_id != _IGNORED_ID) & (conf != 0)
    everything = TrackBoxes(frame - 1, track, np.stack([x, y, x + w, y + h], axis=1), class_id)
    return GroundTruth(
        path, everything[evaluated], everything[ignored], int(frame[-1]), int(lines[-1]), fmt.name
    )


def _parse_row(
    values: Sequence[float], fmt: GtFormat, where: str
) -> tuple[int, int, float, float, float, float, float, int]:
    frame, track, x, y, w, h = values[:6]
    if frame != int(frame) or frame < 1 or track != int(track):
        raise ConfigError(f"{where}: frame must be an integer >= 1 (1-based) and id an integer")
    if w < 0 or h < 0:
        raise ConfigError(f"{where}: box width and height must not be negative")
    conf = values[6] if len(values) > 6 else 1.0
    class_value = values[7] if fmt.classes is not None and len(values) > 7 else 1.0
    if class_value != int(class_value):
        raise ConfigError(f"{where}: class {class_value:g} is not a whole number (column 8)")
    # A class <= 0 (-1: "no class" in MOTChallenge tools) is a person, as in rows without one.
    return int(frame), int(track), x, y, w, h, conf, max(int(class_value), 1)


def _check_unique(table: npt.NDArray[np.float64], lines: npt.NDArray[np.int_], path: Path) -> None:
    keys = table[:, :2].astype(np.int64)
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        frame, track = keys[first[np.argmax(counts > 1)]]
        repeated = lines[(keys[:, 0] == frame) & (keys[:, 1] == track)]
        raise ConfigError(
            f"{path}:{repeated[1]}: id {track} appears twice in frame {frame} "
            f"(also on line {repeated[0]})"
        )


def _class_name(raw: int, mapping: Mapping[int, str], path: Path, line: int) -> str | None:
    name = mapping.get(raw)
    if name is None and mapping is COCO_PLUS_ONE:
        raise ConfigError(
            f"{path}:{line}: class {raw} is not a COCO id + 1 (1-80); for "
            "MOTChallenge 16/17/20 files pass --gt-format mot16"
        )
    return name
