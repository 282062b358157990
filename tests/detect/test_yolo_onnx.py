"""aistack's own runner for YOLO ONNX exports: plumbing with a random-weight YOLOv8n."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aistack.classes import COCO_CLASSES
from aistack.config import DetectorConfig
from aistack.data import DEMO_CLIP
from aistack.detect import backend_for, load_detector
from aistack.detect.yolo_onnx import YoloOnnxDetector
from aistack.errors import ModelError
from aistack.models import bundled_model_path

pytest.importorskip("ultralytics", reason="the ultralytics extra is not installed")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aistack.bench.ultralytics import export_random_yolo

    return export_random_yolo(tmp_path_factory.mktemp("yolo"))


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    images = [capture.read()[1] for _ in range(3)]
    capture.release()
    return images


def test_export_is_chosen_by_the_onnx_backend(export: Path) -> None:
    assert backend_for(str(export)) == "onnx"
    detector = load_detector(DetectorConfig(type="onnx", model=str(export)))
    assert isinstance(detector, YoloOnnxDetector)
    assert detector.class_names == COCO_CLASSES


def test_batched_equals_one_by_one_and_boxes_are_in_the_picture(
    export: Path, frames: list[np.ndarray]
) -> None:
    # Random weights score about 1e-4, so a tiny threshold yields boxes to check.
    detector = YoloOnnxDetector(export, confidence=1e-4, iou=0.5)
    batched = detector.detect(frames)
    single = [detector.detect([image])[0] for image in frames]
    assert len(batched) == 3
    for a, b in zip(batched, single, strict=True):
        assert len(a) == len(b) > 0
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-2)
        assert (a.xyxy[:, 0] >= 0).all() and (a.xyxy[:, 2] <= 768).all()
        assert (a.xyxy[:, 1] >= 0).all() and (a.xyxy[:, 3] <= 576).all()


def _reference_letterbox(image: np.ndarray, out_w: int, out_h: int, imgsz: int) -> np.ndarray:
    """Ultralytics' recipe spelt out: resize, grey border, BGR to RGB, 0..1, CHW."""
    height, width = image.shape[:2]
    scale = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * scale), round(height * scale)
    left, top = (out_w - new_w) // 2, (out_h - new_h) // 2
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(
        resized, top, out_h - new_h - top, left, out_w - new_w - left,
        cv2.BORDER_CONSTANT, value=(114, 114, 114),
    )  # fmt: skip
    return padded[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255


def test_input_blob_is_the_ultralytics_letterbox(export: Path, frames: list[np.ndarray]) -> None:
    detector = YoloOnnxDetector(export)
    odd = frames[0][:500, :700]  # pads top and bottom unevenly: 640x457 in 640x480
    ((blob, scales, _),) = detector.prepare([odd])
    assert blob.shape == (1, 3, 480, 640)
    np.testing.assert_allclose(blob[0], _reference_letterbox(odd, 640, 480, 640), atol=1e-6)
    # Pictures of different shapes in one call share the square input.
    ((blob, scales, _),) = detector.prepare([odd, frames[1]])
    assert blob.shape == (2, 3, 640, 640)
    np.testing.assert_allclose(blob[1], _reference_letterbox(frames[1], 640, 640, 640), atol=1e-6)
    assert scales[1] == (640 / 768, 0, 80)


def test_class_filter(export: Path, frames: list[np.ndarray]) -> None:
    detector = YoloOnnxDetector(export, confidence=1e-5, classes=[COCO_CLASSES.index("bus")])
    found = detector.detect(frames[:1])[0]
    assert set(found.class_id.tolist()) <= {COCO_CLASSES.index("bus")}


def test_not_a_yolo_export_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="not a YOLO detect export"):
        YoloOnnxDetector(bundled_model_path("movenet-multipose"))
