"""The detector options that count, eval and annotate share, and their validated AppConfig."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aistack.config import (
    DEFAULT_PRESET,
    PRESETS,
    AppConfig,
    parse_line,
    preset_models_in_words,
)
from aistack.errors import ConfigError

_OPTION_FOR_FIELD = {
    "points": "--line",
    "lines": "--line",
    "classes": "--classes",
    "model": "--model",
    "device": "--device",
    "anchor": "--anchor",
    "confidence": "--confidence",
    "uri": "SOURCE",
    "cameras": "--line",  # the camera's own checks, in `count`: its line names
    "preset": "--preset",
    "precision": "--precision",
    "slices": "--slices",
}

_ANCHORS = ["bottom_center", "center", "top_center", "center_left", "center_right"]


def add_detector_options(
    parser: argparse.ArgumentParser, *, pose: bool = False, classes_default: str = "people,traffic"
) -> None:
    """Add --model, --device, --classes, --confidence, --preset, --precision, --slices, --anchor.

    `pose`: also offer the bundled MoveNet and the keypoints anchor. `classes_default`: what
    the command detects without --classes, in words.
    """
    pose_model = "'movenet' (bundled pose, keypoints), " if pose else ""
    parser.add_argument(
        "--model", default=None,
        help="'nanodet' or 'centernet' (bundled, offline; the preset picks one: "
        f"{preset_models_in_words()}), {pose_model}a YOLO .onnx export (run on "
        "onnxruntime), or YOLO weights for the ultralytics backend: a name such as yolov8n.pt "
        "(downloaded when online) or a .pt/.engine path",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or mps")
    parser.add_argument(
        "--classes", default=None,
        help="comma-separated COCO classes or presets: people, traffic "
        f"(car,bus,truck,motorcycle,bicycle). Default: {classes_default}",
    )  # fmt: skip
    parser.add_argument("--confidence", type=float, default=None,
                        help="detector score threshold (default 0.25)")  # fmt: skip
    *first, last = PRESETS
    parser.add_argument(
        "--preset", choices=list(PRESETS), default=None,
        help=f"the bundled detector's speed against accuracy: {', '.join(first)} or {last} "
        f"(default {DEFAULT_PRESET}); docs/accuracy.md has each one's measured speed and count "
        "error",
    )  # fmt: skip
    parser.add_argument(
        "--precision", choices=["fp32", "int8"], default=None,
        help="int8 runs the bundled NanoDet quantised to 8 bits, about twice as fast on a CPU; "
        "fp32 runs it as trained. int8 is for the bundled nanodet only. Default: the preset "
        "decides; see docs/models.md",
    )  # fmt: skip
    parser.add_argument(
        "--slices", default=None, metavar="CxR",
        help="sliced inference for 4K or very wide sources whose people are small: also run "
        "the detector on C columns x R rows of overlapping tiles and merge the boxes (costs "
        "1 + CxR model calls a frame); e.g. 2x2",
    )  # fmt: skip
    parser.add_argument(
        "--anchor", default="bottom_center", choices=_ANCHORS + (["keypoints"] if pose else []),
        help="the point of each box that must cross the line (default bottom_center)",
    )  # fmt: skip


def config_from_options(
    source: str,
    lines: Sequence[str],
    classes: str | None,
    model: str | None,
    device: str,
    anchor: str,
    confidence: float | None = None,
    store: Path | None = None,
    preset: str | None = None,
    precision: str | None = None,
    slices: str | None = None,
) -> AppConfig:
    """The same validation as a YAML config, with mistakes reported by option name."""
    # Here, not at the top: building the parser must not import the detectors (and numpy).
    from aistack.detect import backend_for

    camera: dict[str, Any] = {"name": "camera", "source": {"uri": source}}
    camera["lines"] = [parse_line(text, i) for i, text in enumerate(lines)]
    detector: dict[str, Any] = {"device": device}
    if model is not None:  # else the preset chooses the bundled model
        detector |= {"type": backend_for(model), "model": model}
    if classes is not None:
        detector["classes"] = [c for c in classes.split(",") if c.strip()] or [""]
    if confidence is not None:
        detector["confidence"] = confidence
    if precision is not None:
        detector["precision"] = precision
    if slices is not None:
        detector["slices"] = slices
    data: dict[str, Any] = {
        "cameras": [camera],
        "detector": detector,
        "counting": {"anchor": anchor},
        "metrics": {"enabled": False},
    }
    if store is not None:
        data["store"] = {"path": str(store)}
    if preset is not None:
        data["preset"] = preset
    try:
        return AppConfig.model_validate(data)
    except ValidationError as error:
        messages = []
        for problem in error.errors():
            names = [p for p in problem["loc"] if isinstance(p, str)]
            option = next(
                (_OPTION_FOR_FIELD[n] for n in reversed(names) if n in _OPTION_FOR_FIELD),
                ".".join(names),
            )
            messages.append(f"{option}: {str(problem['msg']).removeprefix('Value error, ')}")
        raise ConfigError("\n".join(messages)) from None
