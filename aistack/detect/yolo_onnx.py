"""YOLOv8-family detectors exported to ONNX, run directly on onnxruntime with true batching.

Ultralytics' own `predict` on the same ONNX file reaches about 0.91 of bare
onnxruntime here (../shared/ENVIRONMENT.md) and runs one picture per call; a
letterbox, one batched session call and a vectorised decode keep all of it.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from aistack.classes import COCO_CLASSES
from aistack.detect.onnx_session import open_session
from aistack.errors import ModelError
from aistack.types import Detections, Image

PAD_VALUE = 114  # the grey Ultralytics pads with; the model was trained on it
STRIDE = 32  # YOLOv8's largest stride: input sides must be multiples of it

# An array for one session call (its input, then its output), with each picture's
# letterbox (scale, left, top) and original (height, width).
_Prepared = tuple[npt.NDArray[np.float32], list[tuple[float, int, int]], list[tuple[int, ...]]]


def _class_names(session: Any) -> tuple[str, ...]:
    metadata = session.get_modelmeta().custom_metadata_map
    try:
        names = ast.literal_eval(metadata.get("names", "{}"))
    except (ValueError, SyntaxError):
        names = {}
    ordered = tuple(str(names[i]) for i in sorted(names)) if isinstance(names, dict) else ()
    if not ordered or (len(ordered) == len(COCO_CLASSES) and all(n.isdigit() for n in ordered)):
        return COCO_CLASSES  # a bare .yaml build has numeric names; an 80-class head is COCO
    return ordered


class YoloOnnxDetector:
    """Runs a YOLOv8/v11 detect model exported with `yolo export format=onnx`."""

    def __init__(
        self,
        model_path: Path,
        confidence: float = 0.25,
        iou: float = 0.6,
        classes: Sequence[int] | None = None,
        imgsz: int = 640,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        self._session = open_session(model_path, threads, device, "YOLO")
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        if (
            len(inputs) != 1
            or len(outputs) != 1
            or len(outputs[0].shape) != 3
            or len(inputs[0].shape) != 4
            or inputs[0].shape[1] != 3  # NCHW colour pictures
            or inputs[0].type != "tensor(float)"
        ):
            raise ModelError(
                f"{model_path}: not a YOLO detect export (one [B, 4+classes, N] output)"
            )
        self._input = inputs[0].name
        shape = inputs[0].shape
        fixed = [d for d in shape[2:] if isinstance(d, int)]
        self.imgsz = fixed[0] if fixed else imgsz
        # A model with a dynamic input size takes the smallest stride-32 rectangle around the
        # resized picture (640x480 for 4:3) instead of a padded square: a quarter less work.
        self._rectangular = not fixed
        self._fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.max_batch = self._fixed_batch
        self.class_names = _class_names(self._session)
        self.confidence = confidence
        self.iou = iou
        wanted = None if classes is None else set(classes)
        # A filter that keeps every class is no filter: skip its per-frame lookup.
        every = wanted is not None and wanted >= set(range(len(self.class_names)))
        self._keep = None if wanted is None or every else np.asarray(sorted(wanted), np.int64)

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        return self.finish(self.infer(self.prepare(images)))

    def prepare(self, images: Sequence[Image]) -> list[_Prepared]:
        """Letterboxed blobs in groups of what one session call takes, with their geometry."""
        if not images:
            return []
        groups = (
            [[image] for image in images] if self._fixed_batch == 1 else [list(images)]
        )  # fmt: skip
        prepared = []
        for group in groups:
            shapes = {image.shape[:2] for image in group}
            rectangular = self._rectangular and len(shapes) == 1  # a batch shares one shape
            out_w, out_h = self._input_size(group[0], rectangular)
            # A fresh blob per call: a lane may still be running the previous one.
            blob = np.empty((len(group), 3, out_h, out_w), np.float32)
            scales = [self._letterbox(image, blob[i]) for i, image in enumerate(group)]
            prepared.append((blob, scales, [image.shape[:2] for image in group]))
        return prepared

    def infer(self, prepared: list[_Prepared]) -> list[_Prepared]:
        return [
            (self._session.run(None, {self._input: batch})[0], scales, sizes)
            for batch, scales, sizes in prepared
        ]

    def finish(self, raw: list[_Prepared]) -> list[Detections]:
        return [
            self._decode(output[i], scales[i], sizes[i])
            for output, scales, sizes in raw
            for i in range(len(sizes))
        ]

    def _fit(self, image: Image) -> tuple[float, int, int]:
        """The scale that fits `image` into imgsz x imgsz, and its (width, height) then."""
        height, width = image.shape[:2]
        scale = min(self.imgsz / height, self.imgsz / width)
        return scale, round(width * scale), round(height * scale)

    def _input_size(self, image: Image, rectangular: bool) -> tuple[int, int]:
        """(width, height) of the model input: square, or the smallest stride-aligned fit."""
        if not rectangular:
            return self.imgsz, self.imgsz
        _, new_w, new_h = self._fit(image)
        return -(-new_w // STRIDE) * STRIDE, -(-new_h // STRIDE) * STRIDE

    def _letterbox(self, image: Image, target: npt.NDArray[np.float32]) -> tuple[float, int, int]:
        """Resize `image` into the middle of `target` (3 x H x W, RGB 0..1), grey around it.

        Written one plane at a time straight into the model's input: padding a copy,
        `dnn.blobFromImage` on it and stacking took 1.7x the time (docs/benchmarks.md).
        """
        out_h, out_w = target.shape[1:]
        scale, new_w, new_h = self._fit(image)
        left, top = (out_w - new_w) // 2, (out_h - new_h) // 2
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        grey = np.float32(PAD_VALUE / 255.0)
        target[:, :top] = grey
        target[:, top + new_h :] = grey
        target[:, top : top + new_h, :left] = grey
        target[:, top : top + new_h, left + new_w :] = grey
        for channel, plane in enumerate(reversed(cv2.split(resized))):  # BGR to RGB
            np.multiply(
                plane,
                np.float32(1 / 255.0),
                out=target[channel, top : top + new_h, left : left + new_w],
            )
        return scale, left, top

    def _decode(
        self, output: npt.NDArray[np.float32], letterbox: tuple[float, int, int],
        size: tuple[int, ...],
    ) -> Detections:  # fmt: skip
        # Work on the [4 + classes, anchors] layout as it comes: the best score per anchor
        # is a reduction over contiguous rows, and only the few anchors above the threshold
        # are looked at further (about 3x faster than transposing first).
        class_scores = output[4:]
        best = class_scores.max(axis=0)
        candidates = np.flatnonzero(best >= self.confidence)
        class_id = class_scores[:, candidates].argmax(axis=0)
        scores = best[candidates]
        if self._keep is not None:
            wanted = np.isin(class_id, self._keep)
            candidates, class_id, scores = candidates[wanted], class_id[wanted], scores[wanted]
        boxes = output[:4, candidates].T
        if not len(scores):
            return Detections.empty(self.class_names)
        scale, left, top = letterbox
        xyxy = np.empty_like(boxes)
        xyxy[:, 0] = (boxes[:, 0] - boxes[:, 2] / 2 - left) / scale
        xyxy[:, 1] = (boxes[:, 1] - boxes[:, 3] / 2 - top) / scale
        xyxy[:, 2] = (boxes[:, 0] + boxes[:, 2] / 2 - left) / scale
        xyxy[:, 3] = (boxes[:, 1] + boxes[:, 3] / 2 - top) / scale
        height, width = size[0], size[1]
        xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
        xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
        # Class-agnostic NMS: one object must not yield both a car and a truck box.
        rects = np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]).tolist()
        chosen = np.asarray(
            cv2.dnn.NMSBoxes(rects, scores.tolist(), self.confidence, self.iou), np.int64
        ).reshape(-1)
        return Detections(
            xyxy=xyxy[chosen],
            confidence=scores[chosen],
            class_id=class_id[chosen],
            class_names=self.class_names,
        )
