"""NanoDet wrapped as a YOLOv8 ONNX export: the same boxes through every runner."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from aistack.data import DEMO_CLIP
from aistack.detect.nanodet import NanoDetDetector
from aistack.detect.yolo_onnx import YoloOnnxDetector

pytest.importorskip("onnx", reason="onnx (the ultralytics extra) is not installed")


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from aistack.models.yolo_format import nanodet_as_yolo

    return nanodet_as_yolo(tmp_path_factory.mktemp("yolo-format") / "nanodet-yolo.onnx")


@pytest.fixture(scope="module")
def pictures() -> list[np.ndarray]:
    """Real frames cut to the model's own 416x416, so neither runner resizes them."""
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    frames = []
    for index in range(300):
        ok, image = capture.read()
        assert ok
        if index % 60 == 0:
            frames.append(np.ascontiguousarray(image[100:516, 200:616]))
    capture.release()
    return frames


def test_it_reads_as_a_yolo_export(wrapped: Path) -> None:
    detector = YoloOnnxDetector(wrapped)
    assert detector.imgsz == 416 and detector.max_batch == 1
    assert detector.class_names[0] == "person"


def test_same_boxes_as_the_nanodet_runner(wrapped: Path, pictures: list[np.ndarray]) -> None:
    ours = NanoDetDetector(confidence=0.3, iou=0.6, input_size=(416, 416))
    yolo = YoloOnnxDetector(wrapped, confidence=0.3, iou=0.6)
    found = 0
    for picture in pictures:
        a, b = ours.detect([picture])[0], yolo.detect([picture])[0]
        assert len(a) == len(b)
        order_a, order_b = np.lexsort(a.xyxy.T), np.lexsort(b.xyxy.T)
        np.testing.assert_allclose(a.xyxy[order_a], b.xyxy[order_b], atol=0.05)
        np.testing.assert_array_equal(a.class_id[order_a], b.class_id[order_b])
        found += len(a)
    assert found >= 10  # people are there to find


def test_ultralytics_finds_the_same_people(wrapped: Path, pictures: list[np.ndarray]) -> None:
    pytest.importorskip("ultralytics", reason="the ultralytics extra is not installed")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    model = YOLO(str(wrapped), task="detect")
    yolo = YoloOnnxDetector(wrapped, confidence=0.3, iou=0.7)
    for picture in pictures:
        theirs = model.predict(picture, conf=0.3, iou=0.7, verbose=False)[0].boxes
        ours = yolo.detect([picture])[0]
        people = theirs.xyxy.numpy()[theirs.cls.numpy() == 0]
        # Ultralytics suppresses per class and we across classes, so compare people.
        mine = ours.xyxy[ours.class_id == 0]
        assert abs(len(people) - len(mine)) <= max(1, len(mine) // 5)
        for box in mine:
            assert _best_iou(box, people) > 0.9


def _best_iou(box: np.ndarray, others: np.ndarray) -> float:
    if not len(others):
        return 0.0
    top_left = np.maximum(box[:2], others[:, :2])
    bottom_right = np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2]) + np.prod(others[:, 2:] - others[:, :2], axis=1) - inter
    return float((inter / area).max())
