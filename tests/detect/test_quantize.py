"""The int8 NanoDet: rebuilt byte for byte, finds the people the float model finds, chosen
by the presets for the bundled model only."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from aistack.config import AppConfig
from aistack.detect import load_detector
from aistack.detect.nanodet import NanoDetDetector
from aistack.detect.quantize import calibration_frames, quantize
from aistack.models import bundled_model_path
from aistack.types import Image
from tests.detect.test_nanodet import PEOPLE, PERSON, frames, iou_matrix  # noqa: F401

SUMS = Path(bundled_model_path("nanodet")).parent / "SHA256SUMS"


def _config(**detector: object) -> AppConfig:
    return AppConfig.model_validate(
        {"cameras": [{"source": {"uri": "clip.mp4"}}], "detector": detector}
    )


def test_the_bundled_int8_graph_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    out = quantize(bundled_model_path("nanodet"), tmp_path / "int8.onnx", calibration_frames())
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"{digest}  nanodet-int8.onnx" in SUMS.read_text().splitlines()


@pytest.mark.parametrize("index", sorted(PEOPLE))
def test_int8_finds_the_people_checked_by_eye(frames: dict[int, Image], index: int) -> None:  # noqa: F811
    int8 = NanoDetDetector(model_path=bundled_model_path("nanodet-int8"), confidence=0.3)
    people = int8.detect([frames[index]])[0]
    people = people[people.class_id == PERSON]
    overlap = iou_matrix(PEOPLE[index], people.xyxy)
    assert (overlap.max(axis=1) >= 0.5).all(), f"missed people in frame {index}: {overlap}"


def test_int8_boxes_and_scores_stay_close_to_the_float_ones(frames: dict[int, Image]) -> None:  # noqa: F811
    float32 = NanoDetDetector(confidence=0.3)
    int8 = NanoDetDetector(model_path=bundled_model_path("nanodet-int8"), confidence=0.3)
    for image in frames.values():
        a, b = float32.detect([image])[0], int8.detect([image])[0]
        overlap = iou_matrix(a.xyxy, b.xyxy)
        matched = overlap.max(axis=1) >= 0.7
        assert matched.mean() >= 0.8, overlap.max(axis=1)
        scores = b.confidence[overlap.argmax(axis=1)[matched]]
        assert np.abs(scores - a.confidence[matched]).max() < 0.15


def test_precision_int8_runs_the_int8_graph_for_the_bundled_nanodet_only() -> None:
    chosen = _config(precision="int8").detector
    assert load_detector(chosen).model_path == bundled_model_path("nanodet-int8")
    assert load_detector(_config(precision="fp32").detector).model_path == bundled_model_path(
        "nanodet"
    )
    custom = _config(type="ultralytics", model="yolov8n.pt").detector
    assert custom.precision == "fp32"  # a preset never gives another model int8
    with pytest.raises(ValueError, match=r"cannot apply to model yolov8n\.pt"):
        _config(type="ultralytics", model="yolov8n.pt", precision="int8")


def test_the_default_preset_runs_the_int8_graph_and_accurate_the_float_one() -> None:
    assert load_detector(_config().detector).model_path == bundled_model_path("nanodet-int8")
    accurate = AppConfig.model_validate(
        {"preset": "accurate", "cameras": [{"source": {"uri": "clip.mp4"}}]}
    )
    assert load_detector(accurate.detector).model_path == bundled_model_path("nanodet")
