"""Presets: which bundled detector and tracker threshold each speed/accuracy trade-off runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

# Speed against accuracy: which bundled detector a preset runs, at what input height (each
# frame keeps its aspect ratio) and precision. `balanced`, the default, is the most accurate
# that keeps a 960x540 camera above 30 fps on 2 cores: CenterNet 448 px high (about 38 fps
# since its hard-swish is exact and fused, docs/models.md step 8), whose stride-4 heat map
# finds the small, crowded people NanoDet misses. At 480 it ran at 34 fps, with less
# headroom, and counted worse on every dev-set case. `fast` is NanoDet 416 on its int8
# graph (about 64 fps). `accurate` is CenterNet at 544, the 540p source at its own
# resolution (about 26 fps; at 640, upscaled, it counted worse on the street). CenterNet
# has no int8 graph: quantised, it loses the small people again.
# Measurements and reasoning: docs/models.md, docs/accuracy.md.
PRESET_MODELS: dict[str, str] = {
    "fast": "nanodet",
    "balanced": "centernet",
    "accurate": "centernet",
}
# Each bundled model's own trade-off per preset, used when a config names the model itself:
# NanoDet's was chosen the same way on its int8 graph (docs/models.md, *int8*).
BUNDLED_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "nanodet": {
        "fast": {"nanodet_size": 416, "precision": "int8"},
        "balanced": {"nanodet_size": 544, "precision": "int8"},
        "accurate": {"nanodet_size": 544, "precision": "fp32"},
    },
    "centernet": {  # 448: its largest size with headroom over 30 fps on 2 cores (38 fps)
        "fast": {"nanodet_size": 416, "precision": "fp32"},
        "balanced": {"nanodet_size": 448, "precision": "fp32"},
        "accurate": {"nanodet_size": 544, "precision": "fp32"},
    },
}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    preset: {"detector": {"model": model, **BUNDLED_PRESETS[model][preset]}}
    for preset, model in PRESET_MODELS.items()
}
Preset = Literal["fast", "balanced", "accurate"]


def preset_models_in_words() -> str:
    """Which bundled model each preset runs, for help texts: "nanodet for fast, ..."."""
    presets_of: dict[str, list[str]] = {}
    for preset, model in PRESET_MODELS.items():
        presets_of.setdefault(model, []).append(preset)
    return ", ".join(f"{model} for {' and '.join(p)}" for model, p in presets_of.items())


POSE_TRACKER: dict[str, Any] = {"type": "bytetrack", "high_conf_det_threshold": 0.4}
# The tracker's threshold for each bundled detector's score range (docs/models.md, *The
# tracker's threshold* and *CenterNet*): CenterNet's person scores run lower than
# NanoDet's, and its boxes are more often right than wrong from 0.35 on small people
# (PETS at 0.35x), where NanoDet's are from 0.45.
MODEL_TRACKER: dict[str, dict[str, Any]] = {"centernet": {"high_conf_det_threshold": 0.35}}
DEFAULT_PRESET: Preset = "balanced"


def tracker_for(detector: Mapping[str, Any]) -> dict[str, Any]:
    """The tracker settings a detector section (as given) needs unless the config says.

    OC-SORT and its 0.45 threshold were chosen on NanoDet's boxes; on MoveNet's lower
    person scores they confirm half as many walkers (tests/detect/test_pose.py), so pose
    runs ByteTrack at 0.4; CenterNet's threshold is its own (`MODEL_TRACKER`).
    """
    kind = detector.get("type", "onnx")
    if kind == "movenet":
        return dict(POSE_TRACKER)
    model = detector.get("model", "nanodet")
    return dict(MODEL_TRACKER.get(str(model), {})) if kind == "onnx" else {}


def preset_detector(preset: str, given: object) -> dict[str, Any]:
    """The detector keys a preset fills in for a detector section as given (before validation).

    Unnamed, the model is the preset's; `precision: int8` alone means NanoDet, the only
    model with an int8 graph. A bundled model named in the config gets its own input
    size and precision for the preset; any other model only NanoDet's input size, which
    a NanoDet .onnx of one's own reads and other backends ignore.
    """
    section = given if isinstance(given, dict) else {}
    kind, model = section.get("type", "onnx"), section.get("model")
    if kind == "onnx" and model is None:
        model = "nanodet" if section.get("precision") == "int8" else PRESET_MODELS[preset]
        return {"model": model, **BUNDLED_PRESETS[model][preset]}
    if kind == "onnx" and model in BUNDLED_PRESETS:
        return dict(BUNDLED_PRESETS[str(model)][preset])
    size = BUNDLED_PRESETS["nanodet"][preset]["nanodet_size"]
    return {"nanodet_size": size}
