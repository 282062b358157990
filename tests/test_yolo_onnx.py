"""aistack's own runner for YOLO ONNX exports: plumbing with a random-weight YOLOv8n."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aistack.classes import COCO_CLASSES
from aistack.config import DetectorConfig
from aistack.demo import DEMO_CLIP
from aistack.detect import backend_for, load_detector
from aistack.detect.yolo_onnx import YoloOnnxDetector
from aistack.errors import ModelError
from aistack.models import bundled_model_path

pytest.importorskip("ultralytics", reason="the ultralytics extra is not installed")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aistack.bench_ultralytics import export_random_yolo

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


def test_class_filter(export: Path, frames: list[np.ndarray]) -> None:
    detector = YoloOnnxDetector(export, confidence=1e-5, classes=[COCO_CLASSES.index("bus")])
    found = detector.detect(frames[:1])[0]
    assert set(found.class_id.tolist()) <= {COCO_CLASSES.index("bus")}


def test_not_a_yolo_export_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="not a YOLO detect export"):
        YoloOnnxDetector(bundled_model_path("movenet-multipose"))
