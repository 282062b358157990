"""The bundled CenterNet: real people on the bundled clip, any input size, clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from pydantic import ValidationError

from aistack.config import AppConfig
from aistack.detect import load_detector
from aistack.detect.base import Detector
from aistack.detect.centernet import CenterNetDetector
from aistack.errors import ModelError
from aistack.models import bundled_model_path
from aistack.types import Image
from tests.detect.test_nanodet import PEOPLE, PERSON, iou_matrix, people_frames

CAMERA = {"source": {"uri": "clip.mp4"}}


@pytest.fixture(scope="module")
def frames() -> dict[int, Image]:
    return people_frames()


@pytest.fixture(scope="module")
def detector() -> CenterNetDetector:
    return CenterNetDetector(confidence=0.35, threads=2, classes=[PERSON])


def test_it_is_a_detector(detector: CenterNetDetector) -> None:
    assert isinstance(detector, Detector)


@pytest.mark.parametrize("index", sorted(PEOPLE))
def test_finds_the_people_in_real_frames(
    detector: CenterNetDetector, frames: dict[int, Image], index: int
) -> None:
    found = detector.detect([frames[index]])[0]
    assert set(found.class_id.tolist()) <= {PERSON}
    overlap = iou_matrix(PEOPLE[index], found.xyxy)
    assert (overlap.max(axis=1) >= 0.5).all(), f"missed people in frame {index}: {overlap}"
    assert len(found) <= 2 * len(PEOPLE[index]) + 1


def test_boxes_are_well_formed_inside_the_image_and_suppressed(
    detector: CenterNetDetector, frames: dict[int, Image]
) -> None:
    for image in frames.values():
        found = detector.detect([image])[0]
        height, width = image.shape[:2]
        x1, y1, x2, y2 = found.xyxy.T
        assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= width).all() and (y2 <= height).all()
        assert (x2 > x1).all() and (y2 > y1).all()
        assert (found.confidence >= 0.35).all() and (found.confidence <= 1).all()
        assert found.xyxy.dtype == np.float32 and found.class_id.dtype == np.int64
        overlap = iou_matrix(found.xyxy, found.xyxy)
        np.fill_diagonal(overlap, 0)
        assert overlap.max(initial=0) <= detector.iou + 1e-6


def test_the_graph_runs_at_any_size_and_boxes_map_back(frames: dict[int, Image]) -> None:
    session = ort.InferenceSession(str(bundled_model_path("centernet")))
    (image_input,) = session.get_inputs()
    assert image_input.shape == [1, "height", "width", 3]
    image = frames[0]
    for size in (416, 544, (512, 512)):
        found = CenterNetDetector(input_size=size, classes=[PERSON], threads=2).detect([image])[0]
        overlap = iou_matrix(PEOPLE[0], found.xyxy)
        assert (overlap.max(axis=1) >= 0.5).all(), f"{size}: {overlap}"
    wide = np.asarray(cv2.resize(image, (1280, 720)), np.uint8)
    found = CenterNetDetector(classes=[PERSON], threads=2).detect([wide])[0]
    expected = np.asarray(PEOPLE[0], np.float64) * np.array([1280 / 768, 720 / 576] * 2)
    assert (iou_matrix(expected, found.xyxy).max(axis=1) >= 0.5).all()


def test_a_higher_confidence_keeps_a_subset(frames: dict[int, Image]) -> None:
    low = CenterNetDetector(confidence=0.2, threads=2).detect([frames[200]])[0]
    high = CenterNetDetector(confidence=0.45, threads=2).detect([frames[200]])[0]
    assert 0 < len(high) < len(low) and high.confidence.min() >= 0.45


def test_bad_arguments_and_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        CenterNetDetector(input_size=500)
    with pytest.raises(ValueError, match="confidence"):
        CenterNetDetector(confidence=1.5)
    with pytest.raises(ModelError, match="not found"):
        CenterNetDetector(model_path=tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="CenterNet input"):
        CenterNetDetector(model_path=bundled_model_path("nanodet"))


def test_the_accurate_preset_runs_centernet_with_its_own_tracker_threshold() -> None:
    accurate = AppConfig.model_validate({"preset": "accurate", "cameras": [CAMERA]})
    assert accurate.detector.model == "centernet"
    assert accurate.tracker.high_conf_det_threshold == 0.35
    detector = load_detector(accurate.detector)
    assert isinstance(detector, CenterNetDetector) and detector.input_size == 544
    mine = AppConfig.model_validate(
        {
            "preset": "accurate",
            "cameras": [CAMERA],
            "tracker": {"high_conf_det_threshold": 0.5},
        }
    )
    assert mine.tracker.high_conf_det_threshold == 0.5  # an explicit key wins
    nanodet = AppConfig.model_validate({"cameras": [CAMERA], "detector": {"model": "nanodet"}})
    assert nanodet.tracker.high_conf_det_threshold == 0.45


def test_int8_is_refused_for_centernet_with_the_reason() -> None:
    with pytest.raises(ValidationError, match=r"int8.*centernet"):
        AppConfig.model_validate(
            {"cameras": [CAMERA], "detector": {"model": "centernet", "precision": "int8"}}
        )


def test_finds_the_bus_and_its_passengers_in_a_close_up() -> None:
    # ultralytics' sample photo: a bus filling the frame and people in front of it, all
    # far larger than the street clips' people; the tracker's 0.35 must keep them.
    ultralytics = pytest.importorskip("ultralytics", reason="bus.jpg ships with ultralytics")
    image = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg"))
    assert image is not None
    found = CenterNetDetector(confidence=0.35, threads=2).detect([image])[0]
    names = [found.class_names[c] for c in found.class_id]
    assert names.count("bus") == 1 and names.count("person") >= 3, names
    bus = found.xyxy[names.index("bus")]
    assert (bus[2] - bus[0]) > 0.8 * image.shape[1]  # the whole bus, not a part of it
