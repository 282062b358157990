"""Live looks at a source while tuning: grab one frame, or count for a few seconds and show it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any

from aistack.analytics.camera import FrameResult
from aistack.analytics.lines import LineTotals
from aistack.config import AppConfig, SnapshotConfig, SourceConfig
from aistack.detect import Detector
from aistack.errors import SourceError
from aistack.live.draw import FrameAnnotator
from aistack.redact import redact_url
from aistack.sources.video import open_source
from aistack.types import Image


def grab_frame(uri: str, skip: int = 0) -> Image:
    """One frame from a stream, file or webcam: the `skip`-th after opening (files loop)."""
    source = open_source(SourceConfig(uri=uri, loop=True), camera="tuning", pace="unpaced")
    try:
        for frame in source.frames():
            if frame.index >= skip:
                return frame.image
    finally:
        source.close()
    raise SourceError(f"{redact_url(uri)}: the source ended before a frame arrived")


@dataclass(frozen=True)
class PreviewResult:
    """What a short live run counted: per line in/out by class, per zone who is inside now."""

    frames: int
    seconds: float
    lines: list[LineTotals] = field(default_factory=list)
    zones: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def html(self) -> str:
        """The counts as a small HTML table, for a notebook."""
        cell = 'style="padding:2px 12px 2px 0"'
        rows = [
            f"<tr><td {cell}>line <b>{escape(line.name)}</b></td><td {cell}>in {line.total_in}"
            f"</td><td {cell}>out {line.total_out}</td>"
            f"<td {cell}>{escape(_by_class(line.by_class()))}</td></tr>"
            for line in self.lines
        ]
        rows += [
            f"<tr><td {cell}>zone <b>{escape(name)}</b></td><td {cell} colspan=3>inside now: "
            f"{sum(inside.values())} {escape(_by_class(inside, brackets=True))}</td></tr>"
            for name, inside in self.zones.items()
        ]
        caption = f"Preview: {self.frames} frames in {self.seconds:.1f} s"
        return f"<table><caption style='text-align:left'>{caption}</caption>{''.join(rows)}</table>"


def run_preview(
    config: AppConfig,
    seconds: float,
    detector: Detector,
    show: Callable[[Image], None],
    display_fps: float = 8.0,
) -> PreviewResult:
    """Detect, track and count the first camera live for `seconds`; `show` gets drawn frames.

    Files play at their own pace, looping, as a camera would; snapshots are never written.
    """
    from aistack.pipeline.wiring import Pipeline

    camera = config.cameras[0]
    source = camera.source
    if source.kind == "file":
        source = source.model_copy(update={"pace": "native", "loop": True})
    preview = config.model_copy(
        update={
            "cameras": [camera.model_copy(update={"source": source})],
            "snapshots": SnapshotConfig(enabled=False),
        }
    )
    pipeline = Pipeline(preview, detector=detector, pace="native")
    annotator = FrameAnnotator()
    started = time.monotonic()
    shown_at = -math.inf
    last: list[FrameResult] = []

    def draw(result: FrameResult) -> Image:
        counters = pipeline.cameras[result.frame.camera]
        image = result.frame.image
        return annotator.draw(
            image, result.detections, counters.line_totals(), counters.zone_view()
        )

    def on_result(result: FrameResult) -> None:
        nonlocal shown_at
        now = time.monotonic()
        last[:] = [result]
        if now - shown_at >= 1.0 / display_fps:
            show(draw(result))
            shown_at = now
        if now - started >= seconds:
            pipeline.stop()

    pipeline.on_result = on_result
    summary = pipeline.run()
    if last:
        show(draw(last[0]))  # the final counts stay on screen
    (camera_summary,) = summary.cameras
    return PreviewResult(
        summary.frames, summary.seconds, camera_summary.lines, camera_summary.zones
    )


def _by_class(counts: dict[str, Any], brackets: bool = False) -> str:
    """`person in 2 / out 1, car 3`: classes with nothing to show are left out."""
    parts = []
    for name, value in counts.items():
        if isinstance(value, dict) and any(value.values()):
            parts.append(f"{name} " + " / ".join(f"{k} {v}" for k, v in value.items()))
        elif value and not isinstance(value, dict):
            parts.append(f"{name} {value}")
    text = ", ".join(parts)
    return f"({text})" if brackets and text else text
