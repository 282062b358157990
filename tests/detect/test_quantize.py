"""The int8 NanoDet: rebuilt byte for byte, finds the people the float model finds, chosen
by the presets for the bundled model only."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from aistack.config import BUNDLED_PRESETS, AppConfig
from aistack.detect import load_detector
from aistack.detect.nanodet import NanoDetDetector
from aistack.detect.quantize import CALIBRATION_HEIGHTS, calibration_images, quantize
from aistack.models import bundled_model_path
from aistack.types import Image
from tests.detect.test_nanodet import PEOPLE, PERSON, frames, iou_matrix  # noqa: F401

BUS = 5  # COCO
SUMS = Path(bundled_model_path("nanodet")).parent / "SHA256SUMS"


def _config(**detector: object) -> AppConfig:
    return AppConfig.model_validate(
        {"cameras": [{"source": {"uri": "clip.mp4"}}], "detector": detector}
    )


def test_the_bundled_int8_graph_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    pytest.importorskip("ultralytics", reason="calibration uses ultralytics' zidane.jpg")
    out = quantize(bundled_model_path("nanodet"), tmp_path / "int8.onnx", calibration_images())
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"{digest}  nanodet-int8.onnx" in SUMS.read_text().splitlines()


@pytest.mark.parametrize("index", sorted(PEOPLE))
def test_int8_finds_the_people_checked_by_eye(frames: dict[int, Image], index: int) -> None:  # noqa: F811
    int8 = NanoDetDetector(model_path=bundled_model_path("nanodet-int8"), confidence=0.3)
    people = int8.detect([frames[index]])[0]
    people = people[people.class_id == PERSON]
    overlap = iou_matrix(PEOPLE[index], people.xyxy)
    assert (overlap.max(axis=1) >= 0.5).all(), f"missed people in frame {index}: {overlap}"


def test_int8_finds_every_confident_box_of_the_float_graph(frames: dict[int, Image]) -> None:  # noqa: F811
    # Boxes that start tracks (score 0.4 and up): the int8 graph must find each one, and
    # score it about the same. Low-score boxes (cones, stones) may come and go.
    float32 = NanoDetDetector(confidence=0.25)
    int8 = NanoDetDetector(model_path=bundled_model_path("nanodet-int8"), confidence=0.25)
    for image in frames.values():
        a, b = float32.detect([image])[0], int8.detect([image])[0]
        confident = a[a.confidence >= 0.4]
        overlap = iou_matrix(confident.xyxy, b.xyxy)
        assert (overlap.max(axis=1) >= 0.5).all(), overlap.max(axis=1)
        scores = b.confidence[overlap.argmax(axis=1)]
        assert np.abs(scores - confident.confidence).max() < 0.15


def test_int8_keeps_large_objects(tmp_path: Path) -> None:
    # Calibrated on the clip's small people alone, a bus filling the frame fell from 0.77
    # to 0.32: close-ups in the calibration set keep large objects' activations unclipped.
    # The bus is not in the calibration set.
    ultralytics = pytest.importorskip("ultralytics")
    image = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg"))
    assert image is not None
    scores = {}
    for name in ("nanodet", "nanodet-int8"):
        found = NanoDetDetector(model_path=bundled_model_path(name), confidence=0.2).detect(
            [np.asarray(image, np.uint8)]
        )[0]
        scores[name] = float(found.confidence[found.class_id == BUS].max())
    assert scores["nanodet"] > 0.7 and abs(scores["nanodet-int8"] - scores["nanodet"]) < 0.1


def test_precision_int8_runs_the_int8_graph_for_the_bundled_nanodet_only() -> None:
    chosen = _config(precision="int8").detector
    assert load_detector(chosen).model_path == bundled_model_path("nanodet-int8")
    fp32 = _config(model="nanodet", precision="fp32").detector
    assert load_detector(fp32).model_path == bundled_model_path("nanodet")
    custom = _config(type="ultralytics", model="yolov8n.pt").detector
    assert custom.precision == "fp32"  # a preset never gives another model int8
    with pytest.raises(ValueError, match=r"cannot apply to model yolov8n\.pt"):
        _config(type="ultralytics", model="yolov8n.pt", precision="int8")


def test_presets_run_nanodet_int8_or_the_float_centernet() -> None:
    default = _config().detector  # balanced: CenterNet 448 in float (no int8 graph)
    assert load_detector(default).model_path == bundled_model_path("centernet")
    assert default.nanodet_size == 448 and default.precision == "fp32"
    fast = AppConfig.model_validate({"preset": "fast", "cameras": [{"source": {"uri": "c.mp4"}}]})
    assert load_detector(fast.detector).model_path == bundled_model_path("nanodet-int8")
    # NanoDet named in the config gets its own size for the default preset, on int8.
    named = _config(model="nanodet").detector
    assert load_detector(named).model_path == bundled_model_path("nanodet-int8")
    assert named.nanodet_size == 544 and named.precision == "int8"
    accurate = AppConfig.model_validate(
        {"preset": "accurate", "cameras": [{"source": {"uri": "clip.mp4"}}]}
    )
    assert load_detector(accurate.detector).model_path == bundled_model_path("centernet")
    with_nanodet = AppConfig.model_validate(
        {
            "preset": "accurate",
            "cameras": [{"source": {"uri": "clip.mp4"}}],
            "detector": {"model": "nanodet"},
        }
    )
    assert load_detector(with_nanodet.detector).model_path == bundled_model_path("nanodet")


def test_calibration_covers_every_preset_height() -> None:
    # Every height the int8 NanoDet graph runs at in a preset (CenterNet runs float).
    heights = {
        p["nanodet_size"] for p in BUNDLED_PRESETS["nanodet"].values() if p["precision"] == "int8"
    }
    assert heights <= set(CALIBRATION_HEIGHTS)
