"""NanoDet on onnxruntime: the bundled COCO-80 detector that needs no network and no torch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from aistack.detect.base import COCO_CLASSES
from aistack.detect.onnx_session import open_session
from aistack.errors import ModelError
from aistack.models import bundled_model_path
from aistack.types import Detections, FloatArray, Image

__all__ = ["NanoDetDetector"]

_Raw = tuple[list[Any], tuple[int, int]]  # one picture's model outputs and its width, height

# NanoDet's training normalisation, in BGR order (the model reads BGR).
_MEAN = np.array([103.53, 116.28, 123.675], np.float32)
_STD = np.array([57.375, 57.12, 58.395], np.float32)
_REG_BINS = 11  # reg_max = 10: each box side is a distribution over 0..10 strides
_MAX_CANDIDATES = 1000  # bounds NMS cost on frames full of low scores


@dataclass(frozen=True)
class _Level:
    """One stride's pair of outputs and the centres of its grid points, in input pixels."""

    scores: int  # index of the [1, N, classes] output
    boxes: int  # index of the [1, N, 4 * 11] output
    stride: float
    centres: FloatArray  # (N, 2)


class NanoDetDetector:
    """NanoDet-m (416x416, COCO-80) decoded and suppressed on the CPU, or on CUDA if asked.

    Each grid point yields at most one box, of its best class among `classes`.
    With `agnostic_nms` boxes suppress each other whatever their class, so one
    vehicle cannot be both a car and a truck.
    """

    class_names: tuple[str, ...] = COCO_CLASSES

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        confidence: float = 0.3,
        iou: float = 0.6,
        classes: Sequence[int] | None = None,
        agnostic_nms: bool = True,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        if not 0.0 <= confidence <= 1.0 or not 0.0 < iou <= 1.0:
            raise ValueError(f"need 0 <= confidence <= 1 and 0 < iou <= 1, got {confidence}, {iou}")
        self.confidence = confidence
        self.iou = iou
        self.agnostic_nms = agnostic_nms
        self._classes = _class_ids(classes)
        self.model_path = bundled_model_path("nanodet") if model_path is None else Path(model_path)
        self._session = open_session(self.model_path, threads, device, "NanoDet")
        self.max_batch = 1  # the converted graph's batch dimension is fixed at 1
        self._input_name, height, width = _input_spec(self._session, self.model_path)
        self._input_size = (width, height)
        self._levels = _levels(self._session, self.model_path, height, width)
        self._centres = np.concatenate([level.centres for level in self._levels])
        self._strides = np.concatenate(
            [np.full(len(level.centres), level.stride, np.float32) for level in self._levels]
        )
        self._scale = (1.0 / _STD).astype(np.float32)
        self._offset = (-_MEAN / _STD).astype(np.float32)
        self._bin_values = np.arange(_REG_BINS, dtype=np.float32)

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        """Detect objects in each BGR image; boxes are in that image's own pixels."""
        return self.finish(self.infer(self.prepare(images)))

    def prepare(self, images: Sequence[Image]) -> list[tuple[FloatArray, tuple[int, int]]]:
        """Each picture as its own [1, 3, H, W] blob, with its original width and height."""
        return [(self._preprocess(image), (image.shape[1], image.shape[0])) for image in images]

    def infer(self, prepared: list[tuple[FloatArray, tuple[int, int]]]) -> list[_Raw]:
        # The converted graph has a fixed batch of 1, so pictures run one by one.
        return [
            (self._session.run(None, {self._input_name: blob}), size) for blob, size in prepared
        ]

    def finish(self, raw: list[_Raw]) -> list[Detections]:
        return [self._decode_outputs(outputs, *size) for outputs, size in raw]

    def _decode_outputs(self, outputs: list[FloatArray], width: int, height: int) -> Detections:
        scores = np.concatenate([outputs[level.scores][0] for level in self._levels])
        if self._classes is not None:
            scores = scores[:, self._classes]
        # One box per grid point, of its best class: NanoDet's own post-processing
        # may emit several classes per point, which double-counts objects.
        keep = np.flatnonzero(scores.max(axis=1) >= self.confidence)
        if len(keep) == 0:
            return Detections.empty(COCO_CLASSES)
        best = scores[keep].argmax(axis=1)
        confidence = scores[keep, best]
        if len(keep) > _MAX_CANDIDATES:
            top = np.argpartition(-confidence, _MAX_CANDIDATES)[:_MAX_CANDIDATES]
            keep, best, confidence = keep[top], best[top], confidence[top]
        bins = np.concatenate([outputs[level.boxes][0] for level in self._levels])[keep]
        xyxy = self._decode(bins, keep, width, height)
        class_id = best if self._classes is None else self._classes[best]
        chosen = self._suppress(xyxy, confidence, class_id)
        return Detections(
            xyxy=xyxy[chosen],
            confidence=confidence[chosen],
            class_id=class_id[chosen],
            class_names=COCO_CLASSES,
        )

    def _preprocess(self, image: Image) -> FloatArray:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"NanoDetDetector needs HxWx3 BGR images, got shape {image.shape}")
        # Stretch to the input size: on vtest.mp4 it found as many people as a
        # letterbox with fewer false ones (docs/models.md).
        resized = cv2.resize(image, self._input_size, interpolation=cv2.INTER_LINEAR)
        # (pixel - mean) / std as one multiply-add per channel, written straight
        # into the NCHW blob: 5x faster than normalising HWC and transposing.
        # A fresh blob per picture: the next one is prepared while this one runs.
        blob = np.empty((1, 3, self._input_size[1], self._input_size[0]), np.float32)
        for channel, plane in enumerate(cv2.split(resized)):
            target = blob[0, channel]
            np.multiply(plane, self._scale[channel], out=target, dtype=np.float32)
            target += self._offset[channel]
        return blob

    def _decode(
        self, bins: FloatArray, anchors: npt.NDArray[np.intp], width: int, height: int
    ) -> FloatArray:
        """Turn each anchor's 4x11 bin logits into an xyxy box in original pixels."""
        logits = bins.reshape(-1, 4, _REG_BINS)
        logits = logits - logits.max(axis=2, keepdims=True)  # softmax without overflow
        weights = np.exp(logits)
        distance = (weights @ self._bin_values) / weights.sum(axis=2)
        distance *= self._strides[anchors, None]
        centres = self._centres[anchors]
        xyxy = np.concatenate([centres - distance[:, :2], centres + distance[:, 2:]], axis=1)
        xyxy *= np.array(
            [width / self._input_size[0], height / self._input_size[1]] * 2, np.float32
        )
        np.clip(xyxy, 0, [width, height, width, height], out=xyxy)
        return xyxy.astype(np.float32, copy=False)

    def _suppress(
        self, xyxy: FloatArray, confidence: FloatArray, class_id: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.intp]:
        """Indices of the boxes that survive non-maximum suppression, best first."""
        xywh = xyxy.copy()
        xywh[:, 2:] -= xyxy[:, :2]
        valid = np.flatnonzero((xywh[:, 2] > 0) & (xywh[:, 3] > 0))
        # Score threshold 0: candidates already passed `confidence`, and OpenCV
        # drops scores equal to its threshold.
        boxes, scores = xywh[valid].tolist(), confidence[valid].tolist()
        if self.agnostic_nms:
            kept = cv2.dnn.NMSBoxes(boxes, scores, 0.0, self.iou)
        else:
            kept = cv2.dnn.NMSBoxesBatched(boxes, scores, class_id[valid].tolist(), 0.0, self.iou)
        return valid[np.asarray(kept, np.intp).reshape(-1)]


def _class_ids(classes: Sequence[int] | None) -> npt.NDArray[np.int64] | None:
    if classes is None:
        return None
    ids = np.unique(np.asarray(classes, np.int64))
    bad = ids[(ids < 0) | (ids >= len(COCO_CLASSES))]
    if len(ids) == 0 or len(bad):
        raise ValueError(f"classes must be COCO ids 0..79 (None for all), got {list(classes)}")
    return ids


def _input_spec(session: Any, path: Path) -> tuple[str, int, int]:
    inputs = session.get_inputs()
    shape = inputs[0].shape if len(inputs) == 1 else []
    if len(shape) != 4 or shape[1] != 3 or not all(isinstance(d, int) for d in shape[2:]):
        raise ModelError(f"{path}: expected one NanoDet input of shape [1, 3, H, W], got {shape}")
    return str(inputs[0].name), int(shape[2]), int(shape[3])


def _levels(session: Any, path: Path, height: int, width: int) -> list[_Level]:
    """Pair the score and box outputs by their point count N, and infer each stride.

    Names differ between conversions, shapes do not: scores are [1, N, 80], boxes
    [1, N, 44], and a stride s gives N = (H / s) * (W / s) points.
    """
    by_points: dict[int, dict[str, int]] = {}
    for index, output in enumerate(session.get_outputs()):
        shape = output.shape
        if len(shape) == 3 and isinstance(shape[1], int):
            role = {len(COCO_CLASSES): "scores", 4 * _REG_BINS: "boxes"}.get(shape[2])
            if role is not None:
                by_points.setdefault(int(shape[1]), {})[role] = index
    levels: list[_Level] = []
    for points, roles in sorted(by_points.items(), reverse=True):
        stride = math.sqrt(height * width / points)
        rows, cols = round(height / stride), round(width / stride)
        if len(roles) != 2 or rows * cols != points:
            levels = []
            break
        row, col = np.divmod(np.arange(points, dtype=np.float32), cols)
        centres = np.stack([(col + 0.5) * stride, (row + 0.5) * stride], axis=1)
        levels.append(_Level(roles["scores"], roles["boxes"], stride, centres.astype(np.float32)))
    if not levels:
        raise ModelError(
            f"{path}: outputs are not NanoDet's score [1, N, 80] and box [1, N, 44] pairs "
            f"per stride: {[o.shape for o in session.get_outputs()]}"
        )
    return levels
