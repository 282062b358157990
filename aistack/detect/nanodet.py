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

__all__ = [
    "DEFAULT_INPUT_SIZE",
    "NanoDetDetector",
    "check_settings",
    "coco_class_ids",
    "input_shape",
    "suppress",
]

InputSize = int | tuple[int, int]  # a height (aspect kept), or a fixed (width, height)
_Prepared = tuple[FloatArray, tuple[int, int]]  # one picture's [1, 3, H, W] blob, its width, height
_Raw = tuple[list[Any], tuple[int, int]]  # one picture's model outputs and its width, height

# NanoDet's training normalisation, in BGR order (the model reads BGR).
_MEAN = np.array([103.53, 116.28, 123.675], np.float32)
_STD = np.array([57.375, 57.12, 58.395], np.float32)
_REG_BINS = 11  # reg_max = 10: each box side is a distribution over 0..10 strides
_MAX_CANDIDATES = 1000  # bounds NMS cost on frames full of low scores
_STRIDE = 32  # the coarsest stride: input sides must be its multiples
# The input height when none is given: the model's training size, which keeps people
# as tall as the old 416x416 stretch did (docs/models.md has the measurements).
DEFAULT_INPUT_SIZE = 416


@dataclass(frozen=True)
class _Grid:
    """Every grid point of one input shape: which outputs hold it, its centre and stride."""

    scores: tuple[int, ...]  # indices of the [1, N, classes] outputs, finest stride first
    boxes: tuple[int, ...]  # indices of the matching [1, N, 4 * 11] outputs
    centres: FloatArray  # (points, 2) in input pixels
    strides: FloatArray  # (points,)


def input_shape(size: InputSize, width: int, height: int) -> tuple[int, int]:
    """The model input (width, height) for a frame of this size.

    A height keeps the frame's aspect ratio: the frame becomes `size` pixels high
    and as wide as its aspect ratio says, to the nearest multiple of 32 (960x540 at
    416 runs at 736x416, 768x576 at 544x416). A person a tenth of the frame's height
    is then size/10 pixels tall to the model, whatever the camera's resolution and
    shape, and that height is what decides whether NanoDet finds them. A
    (width, height) pair is used as it is, whatever the frame: a stretch.
    """
    if not isinstance(size, int):
        return size
    return max(_STRIDE, round(width * size / height / _STRIDE) * _STRIDE), size


class NanoDetDetector:
    """NanoDet-m (COCO-80) decoded and suppressed on the CPU, or on CUDA if asked.

    The bundled graph runs at any input size whose sides are multiples of 32.
    `input_size` is the input's height, and each frame keeps its aspect ratio
    (`input_shape`): a 16:9 frame squeezed into the 416x416 the model was trained
    at lost over half its width, and narrow people with it (docs/models.md). A
    (width, height) pair instead stretches every frame to it, as before; a graph
    with a fixed input size runs only at that size, which is also the default then.

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
        input_size: InputSize | None = None,
    ) -> None:
        check_settings(confidence, iou, input_size)
        self.confidence = confidence
        self.iou = iou
        self.agnostic_nms = agnostic_nms
        self._classes = coco_class_ids(classes)
        self.model_path = bundled_model_path("nanodet") if model_path is None else Path(model_path)
        self._session = open_session(self.model_path, threads, device, "NanoDet")
        self.max_batch = 1  # the converted graph's batch dimension is fixed at 1
        self._input_name, fixed = _input_spec(self._session, self.model_path)
        if fixed is not None and input_size not in (None, fixed):
            raise ModelError(
                f"{self.model_path}: this graph's input is fixed at {fixed[0]}x{fixed[1]}, "
                f"it cannot run at {input_size}; ask for {fixed[0]}x{fixed[1]}, or use a "
                "size-free graph (python -m aistack.models.convert --free-size)"
            )
        self.input_size: InputSize = fixed or input_size or DEFAULT_INPUT_SIZE
        self._roles = _output_roles(self._session, self.model_path)
        # One grid per input shape: few, since frames of one size share a shape.
        self._grids: dict[tuple[int, int], _Grid] = {}
        self._scale = (1.0 / _STD).astype(np.float32)
        self._offset = (-_MEAN / _STD).astype(np.float32)
        self._bin_values = np.arange(_REG_BINS, dtype=np.float32)

    @property
    def input_name(self) -> str:
        """The graph's input tensor name (calibration feeds it directly)."""
        return self._input_name

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        """Detect objects in each BGR image; boxes are in that image's own pixels."""
        return self.finish(self.infer(self.prepare(images)))

    def input_shape(self, width: int, height: int) -> tuple[int, int]:
        """The model input (width, height) for a frame of this size."""
        return input_shape(self.input_size, width, height)

    def prepare(self, images: Sequence[Image]) -> list[_Prepared]:
        """Each picture as its own [1, 3, H, W] blob, with its original width and height."""
        return [(self._preprocess(image), (image.shape[1], image.shape[0])) for image in images]

    def infer(self, prepared: list[_Prepared]) -> list[_Raw]:
        # The converted graph has a fixed batch of 1, so pictures run one by one.
        return [
            (self._session.run(None, {self._input_name: blob}), size) for blob, size in prepared
        ]

    def finish(self, raw: list[_Raw]) -> list[Detections]:
        return [self._decode_outputs(outputs, *size) for outputs, size in raw]

    def _decode_outputs(self, outputs: list[FloatArray], width: int, height: int) -> Detections:
        grid = self._grid(outputs, width, height)
        scores = np.concatenate([outputs[index][0] for index in grid.scores])
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
        bins = np.concatenate([outputs[index][0] for index in grid.boxes])[keep]
        xyxy = self._decode(grid, bins, keep, width, height)
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
        # Resize to the input shape, without padding: the few pixels of stretch that
        # rounding to 32 leaves cost nothing, and on vtest.mp4 a stretch found as
        # many people as a letterbox with fewer false ones (docs/models.md).
        size = self.input_shape(image.shape[1], image.shape[0])
        resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        # (pixel - mean) / std as one multiply-add per channel, written straight
        # into the NCHW blob: 5x faster than normalising HWC and transposing.
        # A fresh blob per picture: the next one is prepared while this one runs.
        blob = np.empty((1, 3, size[1], size[0]), np.float32)
        for channel, plane in enumerate(cv2.split(resized)):
            target = blob[0, channel]
            np.multiply(plane, self._scale[channel], out=target, dtype=np.float32)
            target += self._offset[channel]
        return blob

    def _grid(self, outputs: list[FloatArray], width: int, height: int) -> _Grid:
        """The grid of the input these outputs came from, built the first time it is seen."""
        shape = self.input_shape(width, height)
        grid = self._grids.get(shape)
        if grid is None:
            # Two threads may race to build the same grid; both build equal ones.
            points = [output.shape[1] for output in outputs]
            grid = self._grids[shape] = _grid(self._roles, points, *shape, self.model_path)
        return grid

    def _decode(
        self,
        grid: _Grid,
        bins: FloatArray,
        anchors: npt.NDArray[np.intp],
        width: int,
        height: int,
    ) -> FloatArray:
        """Turn each anchor's 4x11 bin logits into an xyxy box in original pixels."""
        logits = bins.reshape(-1, 4, _REG_BINS)
        logits = logits - logits.max(axis=2, keepdims=True)  # softmax without overflow
        weights = np.exp(logits)
        distance = (weights @ self._bin_values) / weights.sum(axis=2)
        distance *= grid.strides[anchors, None]
        centres = grid.centres[anchors]
        xyxy = np.concatenate([centres - distance[:, :2], centres + distance[:, 2:]], axis=1)
        in_width, in_height = self.input_shape(width, height)
        xyxy *= np.array([width / in_width, height / in_height] * 2, np.float32)
        np.clip(xyxy, 0, [width, height, width, height], out=xyxy)
        return xyxy.astype(np.float32, copy=False)

    def _suppress(
        self, xyxy: FloatArray, confidence: FloatArray, class_id: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.intp]:
        """Indices of the boxes that survive non-maximum suppression, best first."""
        return suppress(xyxy, confidence, self.iou, None if self.agnostic_nms else class_id)


def suppress(
    xyxy: FloatArray,
    confidence: FloatArray,
    iou: float,
    class_id: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.intp]:
    """Indices of the boxes that survive NMS at `iou`, best first; per class if given."""
    xywh = xyxy.copy()
    xywh[:, 2:] -= xyxy[:, :2]
    valid = np.flatnonzero((xywh[:, 2] > 0) & (xywh[:, 3] > 0))
    # Score threshold 0: candidates already passed `confidence`, and OpenCV
    # drops scores equal to its threshold.
    boxes, scores = xywh[valid].tolist(), confidence[valid].tolist()
    if class_id is None:
        kept = cv2.dnn.NMSBoxes(boxes, scores, 0.0, iou)
    else:
        kept = cv2.dnn.NMSBoxesBatched(boxes, scores, class_id[valid].tolist(), 0.0, iou)
    return valid[np.asarray(kept, np.intp).reshape(-1)]


def coco_class_ids(classes: Sequence[int] | None) -> npt.NDArray[np.int64] | None:
    """The sorted COCO ids asked for, checked (None: every class)."""
    if classes is None:
        return None
    ids = np.unique(np.asarray(classes, np.int64))
    bad = ids[(ids < 0) | (ids >= len(COCO_CLASSES))]
    if len(ids) == 0 or len(bad):
        raise ValueError(f"classes must be COCO ids 0..79 (None for all), got {list(classes)}")
    return ids


def check_settings(confidence: float, iou: float, size: InputSize | None) -> None:
    """Refuse thresholds outside 0-1 (iou above 0) and input sides that are not multiples
    of 32 (the coarsest stride): NanoDet's and CenterNet's constructor checks."""
    if not 0.0 <= confidence <= 1.0 or not 0.0 < iou <= 1.0:
        raise ValueError(f"need 0 <= confidence <= 1 and 0 < iou <= 1, got {confidence}, {iou}")
    sides = [size] if isinstance(size, int) else list(size or ())
    if any(side < _STRIDE or side % _STRIDE for side in sides):
        raise ValueError(f"input sides must be multiples of 32, at least 32; got {size}")


def _input_spec(session: Any, path: Path) -> tuple[str, tuple[int, int] | None]:
    """The input's name, and its (width, height) if the graph fixes them."""
    inputs = session.get_inputs()
    shape = inputs[0].shape if len(inputs) == 1 else []
    if len(shape) != 4 or shape[1] != 3:
        raise ModelError(f"{path}: expected one NanoDet input of shape [1, 3, H, W], got {shape}")
    height, width = shape[2:]
    fixed = isinstance(height, int) and isinstance(width, int)
    return str(inputs[0].name), (width, height) if fixed else None


def _output_roles(session: Any, path: Path) -> dict[int, str]:
    """Which outputs are scores [1, N, 80] and which box bins [1, N, 44], by index.

    Names differ between conversions and N depends on the input size; the channel
    count tells them apart.
    """
    roles: dict[int, str] = {}
    for index, output in enumerate(session.get_outputs()):
        shape = output.shape
        role = (
            {len(COCO_CLASSES): "scores", 4 * _REG_BINS: "boxes"}.get(shape[2])
            if len(shape) == 3
            else None
        )
        if role is not None:
            roles[index] = role
    kinds = list(roles.values())
    if not kinds or kinds.count("scores") != kinds.count("boxes"):
        raise ModelError(
            f"{path}: outputs are not NanoDet's score [1, N, 80] and box [1, N, 44] pairs "
            f"per stride: {[o.shape for o in session.get_outputs()]}"
        )
    return roles


def _grid(roles: dict[int, str], points: list[int], width: int, height: int, path: Path) -> _Grid:
    """Pair score and box outputs by their point count N, finest first, and lay out points.

    A stride s of a W x H input has N = (H / s) * (W / s) points, in rows of W / s.
    """
    by_points: dict[int, dict[str, int]] = {}
    for index, role in roles.items():
        by_points.setdefault(points[index], {})[role] = index
    levels, centres, strides = [], [], []
    for count, pair in sorted(by_points.items(), reverse=True):
        stride = math.sqrt(height * width / count)
        rows, cols = round(height / stride), round(width / stride)
        if len(pair) != 2 or rows * cols != count:
            raise ModelError(
                f"{path}: outputs do not pair into NanoDet's score and box grids for a "
                f"{width}x{height} input: {points}"
            )
        row, col = np.divmod(np.arange(count, dtype=np.float32), cols)
        centres.append(np.stack([(col + 0.5) * stride, (row + 0.5) * stride], axis=1))
        strides.append(np.full(count, stride, np.float32))
        levels.append(pair)
    return _Grid(
        scores=tuple(pair["scores"] for pair in levels),
        boxes=tuple(pair["boxes"] for pair in levels),
        centres=np.concatenate(centres).astype(np.float32),
        strides=np.concatenate(strides),
    )
