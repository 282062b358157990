"""`aistack annotate`: read a clip once, find candidate crossings, write the audit page."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aistack.analytics.geometry import to_pixels
from aistack.audit.candidates import COUNTED, STRIP, line_candidates, with_truth
from aistack.audit.page import ClipInfo, LineView, render_page
from aistack.audit.recording import Recording, record
from aistack.audit.streaks import StreakSettings, find_foreground, find_streaks
from aistack.config import AppConfig
from aistack.errors import ConfigError
from aistack.evaluation.crossings import Crossing, read_crossings, write_crossings
from aistack.sources.video import open_source

PAGE_NAME = "annotate.html"
CANDIDATES_NAME = "candidates.csv"


@dataclass(frozen=True)
class LineResult:
    name: str
    counted: int  # crossings the pipeline counted
    strip_only: int  # streaks on the strip that no count explains


@dataclass(frozen=True)
class AnnotateResult:
    page: Path
    candidates: Path
    lines: list[LineResult]
    frames: int
    seconds: float  # reading the clip (detection, tracking, strips, thumbnails)

    @property
    def page_bytes(self) -> int:
        return self.page.stat().st_size


def default_out(clip: str | Path) -> Path:
    """Where the page goes without --out: `<clip name>-audit` in the current directory."""
    return Path(f"{Path(clip).stem}-audit")


def annotate(
    config: AppConfig,
    out: Path,
    truth: Path | None = None,
    max_frames: int | None = None,
    progress: bool = True,
) -> AnnotateResult:
    """Count the config's one camera, find candidates per line and write the page and CSV.

    Every mistake a user can make (a bad clip, an unwritable folder, a truth file for
    other lines) is reported before the clip is read, which may take minutes.
    """
    camera = config.cameras[0]
    source = open_source(camera.source, camera.name)  # a bad clip fails now, in one line
    source.close()
    _check_inside(config, source.width, source.height)
    truth_rows = _read_truth(truth, [line.name for line in camera.lines])
    _check_writable(out)
    recording = record(config, max_frames, progress)
    anchor_height = _anchor_height(config.counting.anchor)
    settings = StreakSettings()
    views, results, found = [], [], []
    for line in recording.lines:
        masks = find_foreground(line.strips, recording.fps, settings)
        streaks = find_streaks(line.strips, recording.fps, anchor_height, settings, masks)
        candidates = line_candidates(line.geometry.name, line.counted, streaks, recording.fps)
        found.extend(candidates)
        shown = with_truth(
            candidates, [r for r in truth_rows if r.line == line.geometry.name], recording.fps
        )
        views.append(LineView(line.geometry, line.strips.line, masks, line.thumbnails, shown))
        results.append(
            LineResult(
                line.geometry.name,
                sum(c.source == COUNTED for c in candidates),
                sum(c.source == STRIP for c in candidates),
            )
        )
    candidates_path = write_crossings(out / CANDIDATES_NAME, (c.crossing() for c in found))
    page = _write_text(out / PAGE_NAME, render_page(_clip_info(recording), views))
    return AnnotateResult(page, candidates_path, results, recording.frames, recording.seconds)


def _clip_info(recording: Recording) -> ClipInfo:
    return ClipInfo(
        Path(recording.clip).name, recording.fps, recording.first_frame, recording.frames
    )


def _anchor_height(anchor: str) -> float:
    """Where the counted point sits in a box, 0 top to 1 bottom (keypoints: the ankles)."""
    if anchor.startswith("top"):
        return 0.0
    if anchor.startswith("bottom") or anchor == "keypoints":
        return 1.0
    return 0.5


def _check_inside(config: AppConfig, width: int, height: int) -> None:
    """A line wholly outside the picture would give an empty strip: say so before reading."""
    for line in config.cameras[0].lines:
        x1, y1, x2, y2 = to_pixels(list(line.points), width, height)
        t = np.linspace(0.0, 1.0, 101)
        xs, ys = x1 + t * (x2 - x1), y1 + t * (y2 - y1)
        if not np.any((xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)):
            raise ConfigError(
                f"--line {line.name}: ({x1:g}, {y1:g}) to ({x2:g}, {y2:g}) lies outside the "
                f"{width}x{height} picture"
            )


def _read_truth(path: Path | None, lines: list[str]) -> list[Crossing]:
    if path is None:
        return []
    rows = read_crossings(path)
    unknown = sorted({row.line for row in rows} - set(lines))
    if unknown:
        raise ConfigError(
            f"--truth {path}: line(s) {', '.join(unknown)} are not among the --line names "
            f"({', '.join(lines)}); give their --line too, or saving would drop them"
        )
    return rows


def _check_writable(out: Path) -> None:
    """Make the folder and prove a file can be written in it, before the long read."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=out, prefix=".write-test.")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise ConfigError(f"--out {out}: cannot write there ({error.strerror or error})") from None


def _write_text(path: Path, text: str) -> Path:
    """Write atomically, so a page being reloaded is never half written."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        # mkstemp makes the file private; a page is as readable as any file the user writes.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except OSError as error:
        raise ConfigError(f"{path}: cannot write it ({error.strerror or error})") from None
    return path
