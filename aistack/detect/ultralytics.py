"""Detector backed by Ultralytics YOLO: any weights name or path, on any device it supports."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aistack.detect.base import COCO_CLASSES
from aistack.errors import ModelError
from aistack.types import Detections, Image

_SUFFIXES = (".pt", ".onnx", ".engine", ".yaml", ".yml", ".torchscript", ".mlpackage")


def _class_names(names: dict[int, str]) -> tuple[str, ...]:
    ordered = tuple(names[i] for i in sorted(names))
    # Models built from a bare .yaml have numeric names; an 80-class head is COCO.
    if len(ordered) == len(COCO_CLASSES) and all(n.isdigit() for n in ordered):
        return COCO_CLASSES
    return ordered


class UltralyticsDetector:
    """YOLO detect or pose models. Keypoints, when the model has them, ride along."""

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        confidence: float = 0.25,
        iou: float = 0.6,
        classes: Sequence[str] | None = None,
        imgsz: int = 640,
    ) -> None:
        os.environ.setdefault("YOLO_VERBOSE", "False")
        try:
            YOLO = importlib.import_module("ultralytics").YOLO
        except ImportError:
            raise ModelError(
                "the ultralytics backend needs the optional extra: "
                "pip install 'aistack[ultralytics]'"
            ) from None
        path = Path(model).expanduser()
        if path.suffix.lower() not in _SUFFIXES:
            raise ModelError(
                f"{model}: unknown model; give YOLO weights (.pt, .onnx, .engine) or a model .yaml"
            )
        try:
            self._model: Any = YOLO(str(path) if path.exists() else model)
        except FileNotFoundError:
            raise ModelError(
                f"{model}: no such model file, and it could not be downloaded "
                "(offline? copy the weights here or use the bundled detector: --model nanodet)"
            ) from None
        except Exception as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            if path.suffix.lower() == ".pt" and path.is_file():
                # e.g. torch.save(tensor): torch reads it, ultralytics then finds no model
                raise ModelError(
                    f"{model}: not a YOLO checkpoint (a .pt file that ultralytics saved, such "
                    f"as yolov8n.pt; loading it failed with {type(error).__name__}: {first})"
                ) from None
            raise ModelError(f"{model}: cannot load this model: {first}") from None
        self.class_names = _class_names(dict(self._model.names))
        self.device = "cpu" if device == "cpu" else device
        self.confidence = confidence
        self.iou = iou
        self.imgsz = imgsz
        self._class_ids: list[int] | None = None
        if classes is not None:
            missing = [c for c in classes if c not in self.class_names]
            if missing:
                raise ModelError(f"{model}: the model has no class {', '.join(missing)}")
            self._class_ids = [self.class_names.index(c) for c in classes]

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        try:
            results = self._model.predict(
                list(images), conf=self.confidence, iou=self.iou, classes=self._class_ids,
                device=self.device, imgsz=self.imgsz, agnostic_nms=True, verbose=False,
            )  # fmt: skip
        except (RuntimeError, ValueError, AssertionError) as error:
            raise ModelError(f"inference failed on device {self.device}: {error}") from None
        return [self._convert(result) for result in results]

    def _convert(self, result: Any) -> Detections:
        boxes = result.boxes
        keypoints = None
        if getattr(result, "keypoints", None) is not None and result.keypoints.data.numel():
            keypoints = result.keypoints.data.cpu().numpy().astype(np.float32)
            if keypoints.shape[-1] == 2:  # some exports drop the per-point score
                ones = np.ones((*keypoints.shape[:-1], 1), np.float32)
                keypoints = np.concatenate([keypoints, ones], axis=-1)
        return Detections(
            xyxy=boxes.xyxy.cpu().numpy(),
            confidence=boxes.conf.cpu().numpy(),
            class_id=boxes.cls.cpu().numpy().astype(np.int64),
            keypoints=keypoints,
            class_names=self.class_names,
        )
