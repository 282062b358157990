"""Sliced inference: small people in a large frame, found in tiles the whole frame misses."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from aistack.cli.args import config_from_options
from aistack.config import DetectorConfig
from aistack.detect import load_detector
from aistack.detect.nanodet import NanoDetDetector
from aistack.detect.sliced import SlicedDetector, tile_size
from aistack.errors import ConfigError
from aistack.types import Image
from tests.detect.test_nanodet import PEOPLE, PERSON, iou_matrix, people_frames


@pytest.fixture(scope="module")
def mosaic() -> tuple[Image, npt.NDArray[np.float64]]:
    """Three hand-checked frames of the bundled clip side by side, three rows of them.

    2304x1728 with 39 people at their native 30-60 px width: shrunk whole to the
    detector's 544 px high input, they are a third of that.
    """
    frames = people_frames()
    order = sorted(PEOPLE)
    row = np.hstack([frames[i] for i in order])
    truth = [
        (x1 + 768 * column, y1 + 576 * r, x2 + 768 * column, y2 + 576 * r)
        for r in range(3)
        for column, i in enumerate(order)
        for x1, y1, x2, y2 in PEOPLE[i]
    ]
    return np.ascontiguousarray(np.vstack([row, row, row])), np.array(truth, np.float64)


def _recall(found_xyxy: npt.NDArray[np.float32], truth: npt.NDArray[np.float64]) -> float:
    if len(found_xyxy) == 0:
        return 0.0
    return float((iou_matrix(truth, found_xyxy).max(axis=1) >= 0.5).mean())


def test_tiles_cover_the_frame_with_the_overlap_asked() -> None:
    for length in (540, 1080, 2304, 3841):
        for count in (2, 3, 4):
            side, overlap = tile_size(length, count, 0.2)
            assert side * count - overlap * (count - 1) >= length
            assert abs(overlap - 0.2 * side) <= 1


def test_tiles_find_the_small_people_the_whole_frame_misses(
    mosaic: tuple[Image, npt.NDArray[np.float64]],
) -> None:
    image, truth = mosaic
    inner = NanoDetDetector(confidence=0.45, input_size=544, classes=[PERSON], threads=2)
    whole = inner.detect([image])[0]
    sliced = SlicedDetector(inner, 3, 3).detect([image])[0]
    assert _recall(whole.xyxy, truth) < 0.85  # measured 0.77
    assert _recall(sliced.xyxy, truth) >= 0.95  # measured 1.0
    # The boxes of one person in two tiles and the whole frame merge into one.
    assert len(sliced) <= len(truth) + 2
    overlap = iou_matrix(sliced.xyxy, sliced.xyxy)
    np.fill_diagonal(overlap, 0)
    assert overlap.max() <= inner.iou + 1e-6
    assert list(sliced.confidence) == sorted(sliced.confidence, reverse=True)
    height, width = image.shape[:2]
    assert (sliced.xyxy >= 0).all() and (sliced.xyxy[:, [0, 2]] <= width).all()
    assert (sliced.xyxy[:, [1, 3]] <= height).all()


def test_the_config_key_and_the_option_build_a_sliced_detector() -> None:
    config = DetectorConfig.model_validate({"slices": "2x1", "classes": ["person"]})
    assert config.slices == (2, 1)
    detector = load_detector(config)
    assert isinstance(detector, SlicedDetector) and (detector.columns, detector.rows) == (2, 1)
    assert load_detector(DetectorConfig()).__class__ is not SlicedDetector
    app = config_from_options("clip.mp4", [], None, None, "cpu", "bottom_center", slices="3x2")
    assert app.detector.slices == (3, 2)


@pytest.mark.parametrize("bad", ["1x1", "0x2", "2by2", "x3"])
def test_bad_slices_are_clear_errors(bad: str) -> None:
    with pytest.raises(ValidationError, match="slices"):
        DetectorConfig.model_validate({"slices": bad})
    with pytest.raises(ConfigError, match="--slices"):
        config_from_options("clip.mp4", [], None, None, "cpu", "bottom_center", slices=bad)


def test_pose_keypoints_cannot_be_sliced() -> None:
    with pytest.raises(ValidationError, match="keypoints cannot be sliced"):
        DetectorConfig.model_validate({"type": "movenet", "slices": "2x2"})
