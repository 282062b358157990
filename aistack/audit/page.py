"""The self-contained audit page: strips, candidate crossings and the frames around them.

Everything is inline (images as base64, style, script), so the page opens offline
from a file and can be mailed with the clip's audit.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from aistack.audit.candidates import Candidate
from aistack.audit.page_script import SCRIPT
from aistack.audit.page_style import CSS
from aistack.audit.streaks import Foreground
from aistack.audit.strips import LineGeometry, Samples
from aistack.audit.thumbnails import Thumbnails
from aistack.classes import ALIASES, COCO_CLASSES
from aistack.types import Image

STRIP_HEIGHT = 140  # pixels of each strip on the page, whatever the line's length
MAX_STRIP_WIDTH = 16000  # pixels of time in a strip picture; longer clips are resampled
BROWSE_FRAMES = 100  # thumbnails at even steps along a line's strip, for clicks anywhere
MAX_THUMBNAILS = 320  # per line: about 2.5 MB of the page at most ...
PAGE_THUMBNAILS = 640  # ... fewer per line when there are more than two lines ...
MIN_THUMBNAILS = 120  # ... but never fewer than this
# The activity picture: what covered the side slits (BGR).
OUT_SIDE_ONLY = (200, 60, 200)
IN_SIDE_ONLY = (80, 200, 80)
BOTH_SIDES = (215, 215, 215)


@dataclass(frozen=True)
class LineView:
    """Everything the page shows for one line."""

    geometry: LineGeometry
    line_samples: Samples
    foreground: Foreground
    thumbnails: Thumbnails
    candidates: Sequence[Candidate]


@dataclass(frozen=True)
class ClipInfo:
    name: str
    fps: float
    first_frame: int
    frames: int


def viewer_offsets(fps: float) -> list[int]:
    """Frames shown around a crossing: next to it, and about 0.15 s and 0.4 s either side."""
    steps = {1, *(max(1, round(fps * seconds)) for seconds in (0.15, 0.4))}
    return sorted({0, *steps, *(-s for s in steps)})


def embedded_frames(
    available: Iterable[int],
    candidates: Iterable[int],
    offsets: Sequence[int],
    every: int,
    limit: int = MAX_THUMBNAILS,
) -> list[int]:
    """The frames whose thumbnails go in the page, at most `limit` of them.

    First every candidate's own frame, then the frames next to them, then those further
    out, then every `every`th frame for clicks elsewhere on the strip: on a crowded clip
    the page stays a few MB and still shows each candidate's own frames.
    """
    have = set(available)
    frames = sorted(set(candidates))
    tiers: list[list[int]] = [frames]
    for step in sorted({abs(o) for o in offsets} - {0}):
        tiers.append([f + d for f in frames for d in (-step, step)])
    tiers.append(sorted(f for f in have if f % every == 0))
    chosen: set[int] = set()
    for tier in tiers:
        for frame in tier:
            if len(chosen) >= limit:
                return sorted(chosen)
            if frame in have:
                chosen.add(frame)
    return sorted(chosen)


def render_page(clip: ClipInfo, lines: Sequence[LineView]) -> str:
    """The page as one HTML string."""
    offsets = viewer_offsets(clip.fps)
    every = max(1, -(-clip.frames // BROWSE_FRAMES))
    limit = min(MAX_THUMBNAILS, max(MIN_THUMBNAILS, PAGE_THUMBNAILS // max(1, len(lines))))
    px_per_frame = 2.0 if clip.frames <= 3000 else 1.0 if clip.frames <= MAX_STRIP_WIDTH else (
        MAX_STRIP_WIDTH / clip.frames
    )  # fmt: skip
    data = {
        "clip": clip.name,
        "fps": clip.fps,
        "firstFrame": clip.first_frame,
        "frames": clip.frames,
        "pxPerFrame": px_per_frame,
        "offsets": offsets,
        "classes": list(COCO_CLASSES),
        "aliases": ALIASES,
        "lines": [_line_data(line, offsets, every, limit) for line in lines],
    }
    # "</" would end the script element early; JSON allows the escaped form.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    title = f"Count audit: {clip.name}"
    return _TEMPLATE.format(
        title=html.escape(title),
        sub=html.escape(
            f"{clip.frames} frames from frame {clip.first_frame}, {clip.fps:g} fps, "
            f"{len(lines)} line(s)"
        ),
        css=CSS,
        data=payload,
        script=SCRIPT,
    )


def _line_data(line: LineView, offsets: Sequence[int], every: int, limit: int) -> dict[str, object]:
    thumbnails = line.thumbnails
    candidates = (c.frame for c in line.candidates)
    frames = embedded_frames(thumbnails.jpegs, candidates, offsets, every, limit)
    return {
        "name": line.geometry.name,
        "points": list(line.geometry.points),
        "stripHeight": STRIP_HEIGHT,
        "strip": _data_url(strip_picture(line.line_samples), ".jpg"),
        "activity": _data_url(activity_picture(line.foreground), ".png"),
        "thumbSize": list(thumbnails.size),
        "thumbs": {str(f): base64.b64encode(thumbnails.jpegs[f]).decode("ascii") for f in frames},
        "crossings": [
            {
                "frame": c.frame,
                "direction": c.direction,
                "cls": c.class_name,
                "note": c.note,
                "source": c.source,
                "status": c.status,
                "position": None if c.position is None else round(c.position, 4),
            }
            for c in line.candidates
        ],
    }


def strip_picture(samples: Samples) -> Image:
    """The line's pixels over time: time left to right, P1 at the top."""
    return _timeline(np.transpose(samples, (1, 0, 2)), cv2.INTER_AREA)


def activity_picture(masks: Foreground) -> Image:
    """Which side slit was covered, frame by frame: magenta out side, green in side, grey both."""
    out_side, in_side = masks.out_side.T, masks.in_side.T
    picture = np.zeros((*out_side.shape, 3), np.uint8)
    picture[out_side & ~in_side] = OUT_SIDE_ONLY
    picture[in_side & ~out_side] = IN_SIDE_ONLY
    picture[out_side & in_side] = BOTH_SIDES
    return _timeline(picture, cv2.INTER_NEAREST)


def _timeline(picture: Image, interpolation: int) -> Image:
    positions, frames = picture.shape[:2]
    if positions == 0 or frames == 0:
        return np.zeros((STRIP_HEIGHT, 1, 3), np.uint8)
    width = min(frames, MAX_STRIP_WIDTH)
    return np.asarray(
        cv2.resize(
            np.ascontiguousarray(picture), (width, STRIP_HEIGHT), interpolation=interpolation
        ),
        np.uint8,
    )


def _data_url(picture: Image, kind: str) -> str:
    params = [cv2.IMWRITE_JPEG_QUALITY, 80] if kind == ".jpg" else []
    ok, encoded = cv2.imencode(kind, picture, params)
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR picture
        raise ValueError(f"cannot encode a {kind} picture")
    mime = "image/jpeg" if kind == ".jpg" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header>
  <h1>{title}</h1><span class="sub">{sub}</span>
  <span class="spacer"></span><span id="message"></span>
  <button id="save" class="save" title="download the confirmed crossings">
    Save crossings.csv</button>
</header>
<main>
<details class="help" open>
<summary>How to audit the counts</summary>
<ul>
<li>Each line has a <b>strip</b>: the pixels on the line in every frame, time running left to
right. Everything that touches the line leaves a streak. Below it, the two slits just either
side of the line: <span style="color:#c83cc8">magenta</span> where only the out side is covered,
<span style="color:#3a9a3a">green</span> where only the in side is. Magenta then green is a
crossing <b>in</b>, green then magenta is <b>out</b> (the green arrow on the frames points in).</li>
<li><b>Candidates</b>: blue ones were counted by aistack, amber ones are streaks on the strip
that aistack did not count. Click a row (or press <kbd>j</kbd>/<kbd>k</kbd>) to see the frames
around it; click a frame to set the crossing's frame (the first frame with the feet past the
line; <kbd>&larr;</kbd>/<kbd>&rarr;</kbd> move it by one).</li>
<li><b>Confirm</b> real crossings (tick, or <kbd>c</kbd>), <b>flip</b> a wrong direction
(<kbd>d</kbd>), set the class and a note, and <b>remove</b> what is not a crossing
(<kbd>x</kbd>). Click the strip where a crossing was missed to add one there.</li>
<li><b>Save</b> downloads <code>crossings.csv</code> with the confirmed crossings only; score
aistack against it with <code>aistack eval --truth crossings.csv</code>.</li>
</ul>
</details>
</main>
<script type="application/json" id="audit-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""
