"""Detectors behind one interface; `load_detector` picks one by name from config."""

from __future__ import annotations

import os
from pathlib import Path

from aistack.config import DetectorConfig
from aistack.detect.base import COCO_CLASSES, Detector
from aistack.errors import ModelError
from aistack.models import bundled_model_path

BUNDLED_MODELS = ("nanodet", "centernet", "movenet")

__all__ = [
    "BUNDLED_MODELS",
    "COCO_CLASSES",
    "Detector",
    "backend_for",
    "load_detector",
    "plan_lanes",
]


def _onnx_output_count(path: Path) -> int:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:
        raise ModelError(f"{path}: not a readable ONNX model ({error})") from None
    return len(session.get_outputs())


def _nanodet_path(config: DetectorConfig) -> Path | None:
    """The NanoDet graph to open: None for the bundled float one."""
    if config.model not in BUNDLED_MODELS:
        return Path(config.model)
    return bundled_model_path("nanodet-int8") if config.precision == "int8" else None


def backend_for(model: str) -> str:
    """Guess the backend for a model name or path: a bundled ONNX one, or ultralytics."""
    if model == "movenet":
        return "movenet"
    if model in BUNDLED_MODELS:
        return "onnx"
    path = Path(model).expanduser()
    if path.suffix.lower() == ".onnx" and path.is_file():
        return "onnx"  # NanoDet and YOLO exports both run on onnxruntime directly
    return "ultralytics"


def plan_lanes(
    config: DetectorConfig,
    lanes: int | None,
    cores: int | None = None,
    one_live: bool = False,
    reads_ahead: bool = False,
) -> tuple[int, int | None]:
    """How many model calls to run side by side, and onnxruntime threads for each.

    `lanes` None means choose. On CPU the onnx backend runs several calls at once,
    each on few threads, instead of one call on every core: onnxruntime's workers
    sync after every layer and a small model leaves them waiting, while separate
    calls never wait for each other. Live frames are taken only when a lane is
    free, so single-thread lanes get one more lane than cores, to fill the gaps
    while the others are in Python. Measured on 2 cores (NanoDet, frames per
    second of the whole pipeline): 1 lane x 2 threads 73, 2 x 1 79, 3 x 1 83,
    4 x 1 84 (docs/benchmarks.md). Other backends and GPUs keep one lane.

    `reads_ahead`: the frames come from files read as fast as they can be, and the
    next batch is prepared while every lane is busy; a lane per core then keeps
    them all busy without a spare (2 x 1 with read-ahead beat 3 x 1 in 6 of 6
    paired runs on 2 cores, +2.3 % on average: a third model call only competes
    for the cores).

    `one_live`: the run is one live camera, which needs no more than real time;
    one lane on every core then gives each frame the shortest latency (about 12 ms
    against 20 ms for NanoDet on 2 cores).
    """
    if config.type != "onnx" or config.device != "cpu":
        return lanes or 1, config.threads
    cores = cores or os.cpu_count() or 1
    if lanes is None and one_live:
        return 1, config.threads
    if lanes is None:
        per_lane = config.threads or max(1, cores // 4)
        spare = 1 if per_lane == 1 and not reads_ahead else 0
        lanes = min(4, cores // per_lane + spare)
        return max(1, lanes), per_lane
    return lanes, config.threads or max(1, cores // lanes)


def load_detector(config: DetectorConfig) -> Detector:
    """Build the detector a config names; every failure is a ModelError a user can act on."""
    detector = _load_one(config)
    if config.slices is None:
        return detector
    from aistack.detect.sliced import SlicedDetector

    return SlicedDetector(detector, *config.slices, iou=config.iou)


def _load_one(config: DetectorConfig) -> Detector:
    if config.type == "movenet":
        from aistack.detect.movenet import MoveNetDetector

        path = None if config.model == "movenet" else Path(config.model).expanduser()
        if path is not None and not path.is_file():
            raise ModelError(
                f"{config.model}: unknown model; the movenet backend takes 'movenet' "
                "(bundled) or a path to a MoveNet MultiPose .onnx file"
            )
        return MoveNetDetector(
            model_path=path,
            confidence=config.confidence,
            input_size=config.input_size,
            threads=config.threads,
            device=config.device,
        )
    if config.type == "onnx" and config.model == "centernet":
        from aistack.detect.centernet import DEFAULT_INPUT_SIZE, CenterNetDetector

        return CenterNetDetector(
            confidence=config.confidence,
            iou=config.iou,
            classes=[COCO_CLASSES.index(c) for c in config.classes],
            threads=config.threads,
            device=config.device,
            input_size=config.nanodet_size or DEFAULT_INPUT_SIZE,
        )
    if config.type == "onnx":
        from aistack.detect.nanodet import NanoDetDetector

        if config.model not in BUNDLED_MODELS:
            path = Path(config.model).expanduser()
            if not path.is_file():
                raise ModelError(
                    f"{config.model}: unknown model; the onnx backend takes 'nanodet' or "
                    "'centernet' (bundled) or a path to a NanoDet or YOLO .onnx file"
                )
            # NanoDet exports have one score and one box output per stride; YOLO has one.
            if _onnx_output_count(path) != 6:
                from aistack.detect.yolo_onnx import YoloOnnxDetector

                return YoloOnnxDetector(
                    path,
                    confidence=config.confidence,
                    iou=config.iou,
                    classes=[COCO_CLASSES.index(c) for c in config.classes],
                    imgsz=config.imgsz,
                    threads=config.threads,
                    device=config.device,
                )
        return NanoDetDetector(
            model_path=_nanodet_path(config),
            confidence=config.confidence,
            iou=config.iou,
            classes=[COCO_CLASSES.index(c) for c in config.classes],
            threads=config.threads,
            device=config.device,
            input_size=config.nanodet_size,
        )
    from aistack.detect.ultralytics import UltralyticsDetector

    return UltralyticsDetector(
        config.model,
        device=config.device,
        confidence=config.confidence,
        iou=config.iou,
        classes=config.classes,
        imgsz=config.imgsz,
    )
