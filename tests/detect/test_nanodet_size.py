"""NanoDet at inputs with the frame's aspect ratio: size-free graph, size rule, decode."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest
from pydantic import ValidationError

from aistack.config import DetectorConfig
from aistack.detect import load_detector
from aistack.detect.nanodet import DEFAULT_INPUT_SIZE, NanoDetDetector, input_shape
from aistack.errors import ModelError
from aistack.models import bundled_model_path
from aistack.types import Image
from tests.history import committed_file

ROOT = Path(__file__).resolve().parents[2]
VIDEO = ROOT / "aistack" / "data" / "vtest.mp4"
GROUND_TRUTH = ROOT.parent / "shared" / "data" / "PETS09-S2L1" / "gt.txt"
# The commit whose nanodet.onnx is the fixed 416x416 graph that tf2onnx and onnxsim made.
FIXED_GRAPH_COMMIT = "f0a36fd"
PERSON = 0


@pytest.fixture(scope="module")
def frame0() -> Image:
    capture = cv2.VideoCapture(str(VIDEO))
    ok, image = capture.read()
    capture.release()
    assert ok
    return np.asarray(image, np.uint8)


def _outputs(model: bytes | str, blob: npt.NDArray[np.float32], **fixed: int) -> list[Any]:
    options = ort.SessionOptions()
    for name, value in fixed.items():  # onnxruntime's own way to fix a symbolic dimension
        options.add_free_dimension_override_by_name(name, value)
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return list(session.run(None, {session.get_inputs()[0].name: blob}))


def _blob(image: Image, size: tuple[int, int]) -> npt.NDArray[np.float32]:
    detector = NanoDetDetector(input_size=size, threads=1)
    (blob, _), = detector.prepare([image])  # fmt: skip
    return blob


# ------------------------------------------------------------------ the graph


def test_the_bundled_graph_takes_any_size_of_multiples_of_32() -> None:
    session = ort.InferenceSession(
        str(bundled_model_path("nanodet")), providers=["CPUExecutionProvider"]
    )
    assert session.get_inputs()[0].shape == [1, 3, "height", "width"]
    points = sorted({output.shape[1] for output in session.get_outputs()})
    assert points == ["points_s16", "points_s32", "points_s8"]
    blob = np.zeros((1, 3, 352, 640), np.float32)
    counts = sorted(o.shape[1] for o in session.run(None, {"input_1:0": blob}))
    assert counts == [20 * 11] * 2 + [40 * 22] * 2 + [80 * 44] * 2


def test_same_outputs_as_the_fixed_graph_at_416(frame0: Image) -> None:
    onnx = pytest.importorskip("onnx", reason="onnx (the ultralytics extra) is not installed")
    from aistack.models.graph_edits import fixed_input_size, free_input_size

    bundled = onnx.load(str(bundled_model_path("nanodet")))
    fixed = fixed_input_size(bundled, 416, 416)
    # Freeing the fixed graph again gives the bundled file byte for byte.
    assert free_input_size(fixed).SerializeToString() == bundled.SerializeToString()
    blob = _blob(frame0, (416, 416))
    reference = _outputs(fixed.SerializeToString(), blob)
    # With the size pinned at load time the very same kernels run: identical bits.
    pinned = _outputs(bundled.SerializeToString(), blob, height=416, width=416)
    # Left symbolic, onnxruntime picks kernels without knowing the size: last-bit noise.
    free = _outputs(bundled.SerializeToString(), blob)
    for ours, theirs, loose in zip(pinned, reference, free, strict=True):
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_allclose(loose, theirs, rtol=0, atol=1e-5)


def test_the_bundled_graph_is_the_old_fixed_one_made_size_free() -> None:
    """convert.free_input_size of the graph bundled before reproduces today's file."""
    onnx = pytest.importorskip("onnx", reason="onnx (the ultralytics extra) is not installed")
    from aistack.models.convert import NANODET_FIXED_SHA256
    from aistack.models.graph_edits import free_input_size

    fixed = committed_file(FIXED_GRAPH_COMMIT, "aistack/models/nanodet.onnx")
    assert hashlib.sha256(fixed).hexdigest() == NANODET_FIXED_SHA256
    free = free_input_size(onnx.load_from_string(fixed)).SerializeToString()
    assert free == bundled_model_path("nanodet").read_bytes()


def test_a_fixed_graph_runs_only_at_its_own_size(tmp_path: Path, frame0: Image) -> None:
    onnx = pytest.importorskip("onnx", reason="onnx (the ultralytics extra) is not installed")
    from aistack.models.graph_edits import fixed_input_size

    path = tmp_path / "nanodet-416.onnx"
    onnx.save(fixed_input_size(onnx.load(str(bundled_model_path("nanodet"))), 416, 416), path)
    old = NanoDetDetector(model_path=path, threads=1)
    assert old.input_size == (416, 416) and old.input_shape(960, 540) == (416, 416)
    new = NanoDetDetector(input_size=(416, 416), threads=1)
    a, b = old.detect([frame0])[0], new.detect([frame0])[0]
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
    with pytest.raises(ModelError, match="fixed at 416x416"):
        NanoDetDetector(model_path=path, input_size=640)


# ------------------------------------------------------------------ the size rule


@pytest.mark.parametrize(
    ("size", "frame", "expected"),
    [
        (416, (960, 540), (736, 416)),  # 16:9: 739.6 rounds to 736
        (416, (1920, 1080), (736, 416)),  # the resolution does not matter, the shape does
        (416, (768, 576), (544, 416)),  # vtest, 4:3
        (416, (640, 480), (544, 416)),
        (416, (416, 416), (416, 416)),  # square: the old input
        (416, (540, 960), (224, 416)),  # portrait: the height stays, the width shrinks
        (416, (320, 240), (544, 416)),  # small sources are enlarged to the height
        (544, (960, 540), (960, 544)),
        (352, (960, 540), (640, 352)),
        (416, (100, 4000), (32, 416)),  # never below one coarsest cell
        ((416, 416), (960, 540), (416, 416)),  # the old stretch
    ],
)
def test_the_size_rule(
    size: int | tuple[int, int], frame: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert input_shape(size, *frame) == expected


def test_unset_means_the_default_longer_side() -> None:
    assert NanoDetDetector(threads=1).input_size == DEFAULT_INPUT_SIZE


@pytest.mark.parametrize("bad", [100, 0, (416, 400), (16, 32)])
def test_sizes_not_multiples_of_32_are_refused(bad: int | tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        NanoDetDetector(input_size=bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (640, 640), ("640", 640), ("416x416", (416, 416)), ([736, 416], (736, 416))],
)
def test_config_key(value: object, expected: object) -> None:
    config = DetectorConfig.model_validate({"nanodet_size": value})
    assert config.nanodet_size == expected


@pytest.mark.parametrize("value", ["big", "416y416", "416x", "400x400", 100, True])
def test_config_key_refuses_bad_sizes(value: object) -> None:
    with pytest.raises(ValidationError, match="nanodet_size"):
        DetectorConfig.model_validate({"nanodet_size": value})


def test_config_reaches_the_detector() -> None:
    detector = load_detector(
        DetectorConfig.model_validate({"nanodet_size": "416x416", "threads": 1})
    )
    assert isinstance(detector, NanoDetDetector) and detector.input_size == (416, 416)
    detector = load_detector(DetectorConfig(nanodet_size=480, threads=1))
    assert isinstance(detector, NanoDetDetector) and detector.input_shape(768, 576) == (640, 480)


# ------------------------------------------------------------------ boxes in the right places


def _truth_of_frame_1() -> npt.NDArray[np.float64]:
    if not GROUND_TRUTH.is_file():
        pytest.skip(f"{GROUND_TRUTH} is not here (the shared dev set)")
    rows = np.loadtxt(GROUND_TRUTH, delimiter=",")
    rows = rows[(rows[:, 0] == 1) & (rows[:, 6] != 0)]  # frame 1 is vtest's frame 0
    xyxy = rows[:, 2:6].copy()
    xyxy[:, 2:] += xyxy[:, :2]
    return np.asarray(xyxy, np.float64)


def _iou(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    return np.asarray(inter / (area_a[:, None] + area_b[None, :] - inter))


@pytest.mark.parametrize(
    ("crop", "expected_input"),
    [
        ((0, 0, 768, 576), (544, 416)),  # the whole 4:3 frame
        ((0, 120, 768, 552), (736, 416)),  # a 16:9 band: more columns than rows
        ((200, 0, 632, 576), (320, 416)),  # a 3:4 portrait: more rows than columns
    ],
)
def test_non_square_inputs_put_boxes_on_the_people(
    frame0: Image, crop: tuple[int, int, int, int], expected_input: tuple[int, int]
) -> None:
    """Every annotated person inside the crop is found with IoU > 0.5, and nothing else.

    A grid laid out with rows and columns swapped, or the wrong stride for a level,
    puts boxes elsewhere, so this fails unless the decode follows the input shape.
    """
    x1, y1, x2, y2 = crop
    image = np.ascontiguousarray(frame0[y1:y2, x1:x2])
    truth = _truth_of_frame_1() - [x1, y1, x1, y1]
    inside = (truth[:, 0] >= 0) & (truth[:, 1] >= 0)
    inside &= (truth[:, 2] <= x2 - x1) & (truth[:, 3] <= y2 - y1)
    truth = truth[inside]
    assert len(truth) >= 2
    detector = NanoDetDetector(confidence=0.4, threads=1)
    assert detector.input_shape(x2 - x1, y2 - y1) == expected_input
    found = detector.detect([image])[0]
    people = found[found.class_id == PERSON]
    overlap = _iou(truth, people.xyxy)
    assert (overlap.max(axis=1) > 0.5).all(), overlap
    assert len(people) == len(truth), people.xyxy


def test_one_detector_serves_frames_of_different_sizes(frame0: Image) -> None:
    """Cameras of different sizes share a detector: each size gets its own grid."""
    wide = np.ascontiguousarray(frame0[120:552])
    shared = NanoDetDetector(threads=1)
    mixed = shared.detect([frame0, wide, frame0])
    alone = [NanoDetDetector(threads=1).detect([image])[0] for image in (frame0, wide)]
    np.testing.assert_array_equal(mixed[0].xyxy, alone[0].xyxy)
    np.testing.assert_array_equal(mixed[1].xyxy, alone[1].xyxy)
    np.testing.assert_array_equal(mixed[2].xyxy, alone[0].xyxy)
