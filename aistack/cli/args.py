"""Turn command-line options into a validated AppConfig, with errors named by option."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aistack.config import AppConfig, parse_line
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
    "cameras": "--line",  # the camera's own checks, in `count`: its line names
    "preset": "--preset",
}


def config_from_options(
    source: str,
    lines: Sequence[str],
    classes: str | None,
    model: str,
    device: str,
    anchor: str,
    confidence: float | None = None,
    store: Path | None = None,
    preset: str | None = None,
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
    if preset is not None:
        data["preset"] = preset
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
