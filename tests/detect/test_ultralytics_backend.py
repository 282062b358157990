"""Plumbing of the ultralytics backend, with a random-weight YOLOv8n built offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from aistack.classes import COCO_CLASSES
from aistack.config import DetectorConfig
from aistack.data import DEMO_CLIP
from aistack.detect import backend_for, load_detector
from aistack.errors import ModelError

pytest.importorskip("ultralytics", reason="the ultralytics extra is not installed")


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    images = [capture.read()[1] for _ in range(3)]
    capture.release()
    return images


def test_random_weight_model_speaks_aistack_detections(frames: list[np.ndarray]) -> None:
    config = DetectorConfig(type="ultralytics", model="yolov8n.yaml", confidence=0.01, imgsz=320)
    detector = load_detector(config)
    assert detector.class_names == COCO_CLASSES  # an 80-class head maps to COCO names
    results = detector.detect(frames)
    assert len(results) == len(frames)
    for found in results:
        assert found.xyxy.shape[1] == 4 and found.class_names == COCO_CLASSES
        assert set(found.class_id.tolist()) <= {COCO_CLASSES.index(c) for c in config.classes}


def test_class_filter_is_by_coco_name(frames: list[np.ndarray]) -> None:
    detector = load_detector(
        DetectorConfig(type="ultralytics", model="yolov8n.yaml", confidence=0.001,
                       classes=["bus"], imgsz=320)
    )  # fmt: skip
    found = detector.detect(frames[:1])[0]
    assert set(found.class_id.tolist()) <= {COCO_CLASSES.index("bus")}


def test_missing_weights_and_bad_device_are_model_errors(frames: list[np.ndarray]) -> None:
    with pytest.raises(ModelError, match=r"nosuch\.pt"):
        load_detector(DetectorConfig(type="ultralytics", model="nosuch.pt"))
    with pytest.raises(ModelError, match="unknown model"):
        load_detector(DetectorConfig(type="ultralytics", model="resnet"))
    if not _cuda_available():
        detector = load_detector(
            DetectorConfig(type="ultralytics", model="yolov8n.yaml", device="cuda:0", imgsz=320)
        )
        with pytest.raises(ModelError, match="cuda:0"):
            detector.detect(frames[:1])


def test_backend_is_guessed_from_the_model_name() -> None:
    assert backend_for("nanodet") == "onnx"
    assert backend_for("yolov8n.pt") == "ultralytics"


def test_count_runs_end_to_end_on_the_ultralytics_backend(
    tmp_path: Path, frames: list[np.ndarray]
) -> None:
    clip = tmp_path / "short.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 10, (768, 576))
    for image in frames * 10:
        writer.write(image)
    writer.release()
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "count", str(clip), "--model", "yolov8n.yaml",
         "--line", "0.5,0,0.5,1", "--json"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["frames"] == 30


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())
