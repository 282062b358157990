"""CenterNet (MobileNetV3, COCO-80) on onnxruntime: one box per heat-map peak, at stride 4.

NanoDet-m predicts boxes on grids of stride 8, 16 and 32; CenterNet predicts one
heat map per class at stride 4 and a box (distances to its four sides) at every
point, and an object is a local maximum of its class's heat. A person 30 px tall
at the model's input is 7 heat-map cells tall, where NanoDet's finest grid sees 4,
so crowds of small people are where the two differ (docs/models.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aistack.detect.base import COCO_CLASSES
from aistack.detect.nanodet import (
    InputSize,
    check_settings,
    coco_class_ids,
    input_shape,
    suppress,
)
from aistack.detect.onnx_session import open_session
from aistack.errors import ModelError
from aistack.models import bundled_model_path
from aistack.models.graph_edits import CENTERNET_HEAT, centernet_classes
from aistack.types import Detections, FloatArray, Image

__all__ = ["DEFAULT_INPUT_SIZE", "CenterNetDetector"]

_OUT_STRIDE = 4  # the heat map's cell, in input pixels
_MAX_CANDIDATES = 1000  # bounds NMS cost on frames full of low scores
# A 540p source at its own height: the `accurate` preset's size (docs/models.md).
DEFAULT_INPUT_SIZE = 544
_Prepared = tuple[FloatArray, tuple[int, int]]
_Raw = tuple[list[Any], tuple[int, int]]


class CenterNetDetector:
    """CenterNet from the bundled `centernet.onnx`, at any input size.

    `input_size` is the input's height, and each frame keeps its aspect ratio, or a
    (width, height) pair that every frame is stretched to: as NanoDet's
    (`aistack.detect.nanodet.input_shape`), multiples of 32.
    A peak is a heat-map cell that is the largest in its 3x3 neighbourhood of its
    class, at least `confidence`; boxes of different classes at one object (car
    and truck) then suppress each other with agnostic NMS at `iou`.
    """

    class_names: tuple[str, ...] = COCO_CLASSES

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        confidence: float = 0.3,
        iou: float = 0.6,
        classes: Sequence[int] | None = None,
        threads: int | None = None,
        device: str = "cpu",
        input_size: InputSize = DEFAULT_INPUT_SIZE,
    ) -> None:
        check_settings(confidence, iou, input_size)
        self.confidence = confidence
        self.iou = iou
        self.input_size: InputSize = input_size
        chosen = coco_class_ids(classes)
        self._classes = chosen if chosen is not None else np.arange(len(COCO_CLASSES))
        self.model_path = (
            bundled_model_path("centernet") if model_path is None else Path(model_path)
        )
        # The heat map's channels: every class's, or only the chosen ones' once the graph
        # is cut to them (`_keep_chosen`).
        self._channels = np.arange(len(COCO_CLASSES))
        self._session = open_session(
            self.model_path, threads, device, "CenterNet", edit=self._keep_chosen
        )
        self.max_batch = 1
        self._input_name, self._heat, self._sides = _spec(
            self._session, self.model_path, len(self._channels)
        )
        # Where each chosen class's map is among the heat map's channels.
        self._planes = np.searchsorted(self._channels, self._classes)
        self._kernel = np.ones((3, 3), np.uint8)

    def _keep_chosen(self, model: Any) -> Any:
        """The graph with only the chosen classes' heat maps; a graph that cannot be cut
        (not converted by `aistack.models.convert`) is run whole."""
        if len(self._classes) == len(COCO_CLASSES):
            return model
        try:
            cut = centernet_classes(model, self._classes.tolist())
        except ValueError:
            return model
        self._channels = self._classes
        return cut

    @property
    def input_name(self) -> str:
        """The graph's input tensor name (calibration feeds it directly)."""
        return self._input_name

    def input_shape(self, width: int, height: int) -> tuple[int, int]:
        """The model input (width, height) for a frame of this size."""
        return input_shape(self.input_size, width, height)

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        """Detect objects in each BGR image; boxes are in that image's own pixels."""
        return self.finish(self.infer(self.prepare(images)))

    def prepare(self, images: Sequence[Image]) -> list[_Prepared]:
        """Each picture as a [1, H, W, 3] RGB blob of 0-255 floats, with its width and height."""
        prepared = []
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"CenterNetDetector needs HxWx3 BGR images, got {image.shape}")
            size = self.input_shape(image.shape[1], image.shape[0])
            resized = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
            prepared.append((rgb.astype(np.float32)[None], (image.shape[1], image.shape[0])))
        return prepared

    def infer(self, prepared: list[_Prepared]) -> list[_Raw]:
        outputs = [self._heat, self._sides]
        return [
            (self._session.run(outputs, {self._input_name: blob}), size) for blob, size in prepared
        ]

    def finish(self, raw: list[_Raw]) -> list[Detections]:
        return [self._decode(heat[0], sides[0], *size) for (heat, sides), size in raw]

    def _decode(self, heat: FloatArray, sides: FloatArray, width: int, height: int) -> Detections:
        rows, cols, planes = [], [], []
        for index in self._planes.tolist():
            plane = np.ascontiguousarray(heat[:, :, index])
            # A peak equals the 3x3 maximum around it (grey dilation is that maximum).
            peaks = (plane >= self.confidence) & (plane == cv2.dilate(plane, self._kernel))
            row, col = np.nonzero(peaks)
            rows.append(row)
            cols.append(col)
            planes.append(np.full(len(row), index, np.int64))
        row, col, channel = np.concatenate(rows), np.concatenate(cols), np.concatenate(planes)
        if len(row) == 0:
            return Detections.empty(COCO_CLASSES)
        confidence = heat[row, col, channel].astype(np.float32)
        class_id = self._channels[channel]
        if len(row) > _MAX_CANDIDATES:
            top = np.argpartition(-confidence, _MAX_CANDIDATES)[:_MAX_CANDIDATES]
            row, col, class_id, confidence = row[top], col[top], class_id[top], confidence[top]
        left_top_right_bottom = sides[row, col]
        centre = np.stack([col, row], axis=1).astype(np.float32) * _OUT_STRIDE
        xyxy = np.concatenate(
            [centre - left_top_right_bottom[:, :2], centre + left_top_right_bottom[:, 2:]], axis=1
        )
        in_width, in_height = self.input_shape(width, height)
        xyxy *= np.array([width / in_width, height / in_height] * 2, np.float32)
        np.clip(xyxy, 0, [width, height, width, height], out=xyxy)
        chosen = suppress(xyxy, confidence, self.iou)  # agnostic: one box per object
        return Detections(
            xyxy=xyxy[chosen].astype(np.float32),
            confidence=confidence[chosen],
            class_id=class_id[chosen],
            class_names=COCO_CLASSES,
        )


def _spec(session: Any, path: Path, classes: int) -> tuple[str, str, str]:
    """The input's name, and those of the heat map [1, h, w, classes] and sides
    [1, h, w, 4] (told apart by name when the heat map has 4 classes too)."""
    inputs = session.get_inputs()
    shape = inputs[0].shape if len(inputs) == 1 else []
    if len(shape) != 4 or shape[3] != 3:
        raise ModelError(f"{path}: expected one CenterNet input of shape [1, H, W, 3], got {shape}")
    channels = {o.name: o.shape[-1] for o in session.get_outputs() if len(o.shape) == 4}
    heat = (
        CENTERNET_HEAT
        if channels.get(CENTERNET_HEAT) == classes
        else next((name for name, count in channels.items() if count == classes), None)
    )
    sides = next((n for n, c in channels.items() if c == 4 and n != heat), None)
    if heat is None or sides is None:
        raise ModelError(
            f"{path}: outputs are not CenterNet's heat map [1, h, w, 80] and sides [1, h, w, 4]: "
            f"{[o.shape for o in session.get_outputs()]}"
        )
    return str(inputs[0].name), heat, sides
