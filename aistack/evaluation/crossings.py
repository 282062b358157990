"""Crossings truth files (`crossings.csv`): the true line crossings of a clip, one per row.

A person checks them with `aistack annotate` and `aistack eval --truth` scores counts
against them. Columns, with a header row:

    line,frame,direction,class,note

- `line`: the counting line's name, as given to `--line NAME=X1,Y1,X2,Y2`;
- `frame`: the 0-based index of the frame (in decoding order) where the anchor (by default
  the bottom centre of the box: the feet) is first on the new side of the line;
- `direction`: `in` or `out`, as aistack counts it (docs/counting.md: for a line P1→P2, a
  move from the side where s < 0 to the side where s > 0 is `in`);
- `class`: a COCO class name (aliases such as `pedestrian` or `motorbike` are accepted and
  stored as the COCO name);
- `note`: free text, may be empty.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aistack.classes import UnknownClassError, resolve_classes
from aistack.errors import ConfigError

COLUMNS = ("line", "frame", "direction", "class", "note")
DIRECTIONS = ("in", "out")


@dataclass(frozen=True, order=True)
class Crossing:
    """One true crossing of a line."""

    line: str
    frame: int
    direction: str
    class_name: str = "person"
    note: str = ""


def read_crossings(path: Path | str) -> list[Crossing]:
    """The crossings in a `crossings.csv`, sorted by line and frame; ConfigError at file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such crossings file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a crossings.csv") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path}: not a text file (expected CSV with {','.join(COLUMNS)})"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror or error})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip().lower() for c in rows[0]] != list(COLUMNS):
        found = ",".join(rows[0]) if rows else "an empty file"
        raise ConfigError(f"{path}:1: expected the header {','.join(COLUMNS)}, found {found!r}")
    crossings = [
        _crossing(row, f"{path}:{number}")
        for number, row in enumerate(rows[1:], start=2)
        if any(cell.strip() for cell in row)
    ]
    return sorted(crossings)


def _crossing(row: Sequence[str], where: str) -> Crossing:
    if len(row) != len(COLUMNS):
        raise ConfigError(
            f"{where}: expected {len(COLUMNS)} columns ({','.join(COLUMNS)}), found {len(row)}"
        )
    line, frame_text, direction, class_text, note = (cell.strip() for cell in row)
    if not line:
        raise ConfigError(f"{where}: line: a crossing needs the line's name")
    try:
        frame = int(frame_text)
    except ValueError:
        raise ConfigError(f"{where}: frame: {frame_text!r} is not a whole number") from None
    if frame < 0:
        raise ConfigError(f"{where}: frame: {frame} is negative (frames count from 0)")
    direction = direction.lower()
    if direction not in DIRECTIONS:
        raise ConfigError(
            f"{where}: direction: {direction!r} is not one of {', '.join(DIRECTIONS)}"
        )
    try:
        (class_name,) = resolve_classes([class_text or "person"])
    except (UnknownClassError, ValueError) as error:
        raise ConfigError(f"{where}: class: {error}") from None
    return Crossing(line, frame, direction, class_name, note)


def write_crossings(path: Path | str, crossings: Iterable[Crossing]) -> Path:
    """Write crossings sorted by line and frame, atomically (a crash never leaves half a file)."""
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for c in sorted(crossings):
        writer.writerow([c.line, c.frame, c.direction, c.class_name, c.note])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(buffer.getvalue())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 is not what users expect
        os.replace(temporary, path)
    except OSError as error:
        raise ConfigError(f"{path}: cannot write it ({error.strerror or error})") from None
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
