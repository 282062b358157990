"""MoveNet MultiPose on onnxruntime: the bundled person detector that also gives 17 keypoints."""

from __future__ import annotations

from collections.abc import Sequence
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

__all__ = ["KEYPOINT_NAMES", "MAX_PEOPLE", "MoveNetDetector"]

# COCO-17 order, the same for MoveNet and YOLO pose models.
KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
MAX_PEOPLE = 6  # the graph's fixed number of output rows
_ROW = 3 * len(KEYPOINT_NAMES) + 5  # 17 x (y, x, score), then ymin, xmin, ymax, xmax, score
_STRIDE = 32  # input sides must be multiples of the backbone's stride
PERSON = COCO_CLASSES.index("person")


class MoveNetDetector:
    """MoveNet MultiPose Lightning: at most 6 people a frame, each with a box and 17 keypoints.

    The frame is resized so its longer side is `input_size` and its shorter side
    the nearest multiple of 32 that keeps the aspect ratio (768x576 at 512 runs at
    512x384). The few pixels of stretch this leaves are cheaper than padding and
    found as many people on vtest.mp4 (docs/pose.md). A larger `input_size` finds
    smaller people and costs time roughly in proportion to its area.
    """

    class_names: tuple[str, ...] = COCO_CLASSES

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        confidence: float = 0.2,
        input_size: int = 512,
        threads: int | None = None,
        device: str = "cpu",
    ) -> None:
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"need 0 <= confidence <= 1, got {confidence}")
        if input_size < 2 * _STRIDE or input_size % _STRIDE:
            raise ValueError(f"input_size must be a multiple of 32, at least 64; got {input_size}")
        self.confidence = confidence
        self.input_size = input_size
        self.model_path = (
            bundled_model_path("movenet-multipose") if model_path is None else Path(model_path)
        )
        self._session = open_session(self.model_path, threads, device, "MoveNet MultiPose")
        self.max_batch = 1  # the graph's batch dimension is fixed at 1
        self._input_name = _check_spec(self._session, self.model_path)
        # One int32 input buffer per model input shape; with sides in steps of 32 up to
        # `input_size` there are few of them, whatever the frame sizes.
        self._blobs: dict[tuple[int, int], npt.NDArray[np.int32]] = {}

    def input_shape(self, width: int, height: int) -> tuple[int, int]:
        """The (height, width) the model runs at for a frame of this size."""
        scale = self.input_size / max(width, height)
        short = max(_STRIDE, round(min(width, height) * scale / _STRIDE) * _STRIDE)
        return (self.input_size, short) if height >= width else (short, self.input_size)

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        """People in each BGR image; boxes and keypoints are in that image's own pixels."""
        # The graph's batch is fixed at 1, so frames run one by one.
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: Image) -> Detections:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"MoveNetDetector needs HxWx3 BGR images, got shape {image.shape}")
        height, width = image.shape[:2]
        blob = self._blob(self.input_shape(width, height))
        size = (blob.shape[2], blob.shape[1])
        rgb = cv2.cvtColor(
            cv2.resize(image, size, interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB
        )
        np.copyto(blob[0], rgb, casting="unsafe")
        rows = self._session.run(None, {self._input_name: blob})[0].reshape(-1, _ROW)
        # An empty frame still carries (0, 17, 3) keypoints: consumers see a pose model.
        return _to_detections(rows[rows[:, -1] >= self.confidence], width, height)

    def _blob(self, shape: tuple[int, int]) -> npt.NDArray[np.int32]:
        blob = self._blobs.get(shape)
        if blob is None:
            blob = self._blobs[shape] = np.empty((1, *shape, 3), np.int32)
        return blob


def _to_detections(rows: FloatArray, width: int, height: int) -> Detections:
    """Model rows (normalised y, x order) to Detections in pixels, keypoints as (x, y, score)."""
    points = rows[:, : 3 * len(KEYPOINT_NAMES)].reshape(len(rows), len(KEYPOINT_NAMES), 3)
    keypoints = np.stack(
        [points[:, :, 1] * width, points[:, :, 0] * height, points[:, :, 2]], axis=2
    ).astype(np.float32)
    # The model's own box: it reaches the top of the head and the feet, which the
    # keypoints (joint centres) do not; it overlapped NanoDet's boxes far better.
    ymin, xmin, ymax, xmax = rows[:, -5:-1].T
    xyxy = np.stack([xmin * width, ymin * height, xmax * width, ymax * height], axis=1)
    np.clip(xyxy, 0, [width, height, width, height], out=xyxy)
    valid = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    return Detections(
        xyxy=xyxy[valid].astype(np.float32),
        confidence=rows[valid, -1].astype(np.float32),
        class_id=np.full(int(valid.sum()), PERSON, np.int64),
        keypoints=keypoints[valid],
        class_names=COCO_CLASSES,
    )


def _check_spec(session: Any, path: Path) -> str:
    """The input's name, after checking the graph is MoveNet MultiPose's [1,H,W,3] -> [1,6,56]."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    in_shape = inputs[0].shape if len(inputs) == 1 else []
    out_shape = outputs[0].shape if len(outputs) == 1 else []
    if (
        len(in_shape) != 4
        or in_shape[3] != 3
        or inputs[0].type != "tensor(int32)"
        or len(out_shape) != 3
        or out_shape[2] != _ROW
    ):
        raise ModelError(
            f"{path}: not a MoveNet MultiPose graph (expected int32 input [1, H, W, 3] and "
            f"output [1, 6, {_ROW}]); got inputs {[(i.shape, i.type) for i in inputs]}, "
            f"outputs {[o.shape for o in outputs]}"
        )
    return str(inputs[0].name)
