"""Turn command-line options into a validated AppConfig, with errors named by option."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aistack.config import AppConfig
from aistack.detect import backend_for
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
}
_LINE = re.compile(r"^(?:(?P<name>[A-Za-z0-9_.-]+)=)?(?P<coords>[^=]+)$")


def parse_line(text: str, index: int) -> dict[str, Any]:
    """`[NAME=]X1,Y1,X2,Y2` in pixels, or in fractions of width/height when all are <= 1."""
    match = _LINE.match(text.strip())
    parts = match["coords"].split(",") if match else []
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or any(v < 0 for v in values):
        raise ConfigError(
            f"--line {text!r}: expected [NAME=]X1,Y1,X2,Y2 with four non-negative numbers "
            "(pixels, or fractions of width and height when all are 0-1)"
        )
    name = (match["name"] if match else None) or f"line{index + 1}"
    return {"name": name, "points": values}


def config_from_options(
    source: str,
    lines: Sequence[str],
    classes: str | None,
    model: str,
    device: str,
    anchor: str,
    confidence: float | None = None,
    store: Path | None = None,
) -> AppConfig:
    """The same validation as a YAML config, with mistakes reported by option name."""
    camera: dict[str, Any] = {"name": "camera", "source": {"uri": source}}
    camera["lines"] = [parse_line(text, i) for i, text in enumerate(lines)]
    detector: dict[str, Any] = {"type": backend_for(model), "model": model, "device": device}
    if classes is not None:
        detector["classes"] = [c for c in classes.split(",") if c.strip()] or [""]
    if confidence is not None:
        detector["confidence"] = confidence
    data: dict[str, Any] = {
        "cameras": [camera],
        "detector": detector,
        "counting": {"anchor": anchor},
        "metrics": {"enabled": False},
    }
    if store is not None:
        data["store"] = {"path": str(store)}
    try:
        return AppConfig.model_validate(data)
    except ValidationError as error:
        messages = []
        for problem in error.errors():
            names = [p for p in problem["loc"] if isinstance(p, str)]
            option = next((_OPTION_FOR_FIELD[n] for n in reversed(names) if n in _OPTION_FOR_FIELD),
                          ".".join(names))  # fmt: skip
            messages.append(f"{option}: {str(problem['msg']).removeprefix('Value error, ')}")
        raise ConfigError("\n".join(messages)) from None
