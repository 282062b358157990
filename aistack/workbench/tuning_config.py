"""The experiment YAML the tuner edits: built from a base config, checked, saved atomically."""

from __future__ import annotations

import copy
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aistack.config import (
    AppConfig,
    DetectorConfig,
    format_validation_error,
    load_config,
    source_kind,
)
from aistack.errors import ConfigError
from aistack.workbench.tuning import TunedLine, TunedZone


def base_document(config: AppConfig | str | Path | None) -> dict[str, Any]:
    """The experiment to start from, as its YAML said it: no expanded defaults, no local paths."""
    if config is None:
        return {}
    loaded = config if isinstance(config, AppConfig) else load_config(config)
    return loaded.model_dump(mode="json", exclude_unset=True)


def camera_index(document: Mapping[str, Any], camera: str | None) -> int | None:
    """Which camera of the document is tuned: the named one, else the first; None if none."""
    cameras = [c.get("name", "camera") for c in document.get("cameras", [])]
    if camera is None:
        return 0 if cameras else None
    if camera in cameras:
        return cameras.index(camera)
    raise ConfigError(f"no camera named '{camera}' in the config; it has: {', '.join(cameras)}")


@dataclass(frozen=True)
class TunedSettings:
    """What the tuner changes in the experiment; everything else is kept as it was."""

    camera: str
    uri: str
    lines: Sequence[TunedLine]
    zones: Sequence[TunedZone]
    classes: Sequence[str]
    confidence: float


def experiment_document(
    base: Mapping[str, Any], index: int | None, settings: TunedSettings
) -> dict[str, Any]:
    """The base experiment with the tuned camera's lines, zones, classes and source replaced.

    Raises ConfigError with a message naming the line, zone or field at fault.
    """
    for line in settings.lines:
        if line.degenerate:
            raise ConfigError(
                f"line '{line.name}': both ends are the same point; drag one end away"
            )
    document = copy.deepcopy(dict(base))
    cameras: list[dict[str, Any]] = document.setdefault("cameras", [])
    if index is None:
        cameras.append({"name": settings.camera})
        index = len(cameras) - 1
    camera = cameras[index]
    source = dict(camera.get("source", {}))
    if source.get("uri") != settings.uri:
        # pace and loop only mean something for files; a new kind of source starts clean.
        kept = ("pace", "loop") if source_kind(settings.uri) == "file" else ()
        source = {"uri": settings.uri, **{k: source[k] for k in kept if k in source}}
    camera["source"] = source
    camera["lines"] = [
        {"name": line.name, "points": [round(v, 4) for v in line.points]} for line in settings.lines
    ]
    camera["zones"] = [
        {"name": zone.name, "polygon": [[round(x, 4), round(y, 4)] for x, y in zone.polygon]}
        for zone in settings.zones
    ]
    classes = list(settings.classes)
    camera["classes"] = classes
    detector = document.setdefault("detector", {})
    detector["confidence"] = round(float(settings.confidence), 3)
    if len(cameras) == 1:
        detector["classes"] = classes
    else:  # the detector serves every camera: it must still find the others' classes
        shared = detector.get("classes") or DetectorConfig().classes
        detector["classes"] = list(dict.fromkeys([*shared, *classes]))
    document = {"cameras": cameras, **{k: v for k, v in document.items() if k != "cameras"}}
    check_experiment(document)
    return document


def check_experiment(document: Mapping[str, Any]) -> AppConfig:
    try:
        return AppConfig.model_validate(document)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, "tuned experiment")) from None
    except ValueError as error:  # an unknown class name, raised while resolving presets
        raise ConfigError(f"tuned experiment: {error}") from None


class _PlainDumper(yaml.SafeDumper):
    """Writes a list used twice (camera and detector classes) twice, not as &id001/*id001."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def save_experiment(document: Mapping[str, Any], path: str | Path, note: str = "") -> AppConfig:
    """Write the experiment YAML atomically, once it has loaded back through `load_config`."""
    target = Path(path).expanduser()
    check_experiment(document)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        header = f"# {note}\n" if note else ""
        header += f"# Run it: aistack run {target.resolve()}\n"
        body = yaml.dump(
            dict(document), Dumper=_PlainDumper, sort_keys=False, default_flow_style=None
        )
        text = header + body
        handle, temporary = tempfile.mkstemp(".yaml", f".{target.stem}-", target.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        raise ConfigError(f"{target}: cannot write the experiment: {error}") from None
    try:
        loaded = load_config(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return loaded


def camera_name(uri: str) -> str:
    """A camera name from a source: the URL's last path part or the file's stem."""
    if uri.isdigit():
        return f"webcam{uri}"
    stem = Path(uri.split("?")[0].rstrip("/")).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._")[:63] or "camera"
