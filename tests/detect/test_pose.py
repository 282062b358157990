"""Pose: MoveNet on real vtest frames, posture and fall rules, pose zones, skeleton drawing."""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aistack.analytics.pose import (
    POSTURES,
    PoseAnalyzer,
    PoseSettings,
    Posture,
    classify_postures,
    count_in_zones,
    points_in_polygon,
    pose_anchor_points,
)
from aistack.detect.base import COCO_CLASSES, Detector
from aistack.detect.movenet import KEYPOINT_NAMES, MAX_PEOPLE, MoveNetDetector
from aistack.detect.nanodet import NanoDetDetector
from aistack.errors import ModelError
from aistack.live.draw_pose import draw_skeletons
from aistack.models import MODELS_DIR
from aistack.types import Detections, Event, Image
from tests.detect.test_nanodet import PEOPLE, iou_matrix

VIDEO = Path(__file__).resolve().parents[2] / "aistack" / "data" / "vtest.mp4"
EVERY = 25  # frames compared with NanoDet: 32 of the clip's 795
FPS = 10.0


# --- MoveNet on real frames -------------------------------------------------------------


@pytest.fixture(scope="module")
def frames() -> dict[int, Image]:
    capture = cv2.VideoCapture(str(VIDEO))
    found: dict[int, Image] = {}
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % EVERY == 0 or index in PEOPLE:
            found[index] = np.asarray(image, np.uint8)
        index += 1
    capture.release()
    assert len(found) > 30
    return found


@pytest.fixture(scope="module")
def movenet() -> MoveNetDetector:
    return MoveNetDetector(threads=2)


def test_it_is_a_detector_of_people_with_keypoints(
    movenet: MoveNetDetector, frames: dict[int, Image]
) -> None:
    assert isinstance(movenet, Detector)
    assert movenet.class_names == COCO_CLASSES
    assert movenet.input_shape(768, 576) == (384, 512)  # keeps 4:3 exactly
    assert movenet.input_shape(576, 768) == (512, 384)
    assert movenet.input_shape(1920, 1080) == (288, 512)
    found = movenet.detect([frames[0], frames[200]])
    assert len(found) == 2
    for people in found:
        assert 0 < len(people) <= MAX_PEOPLE
        assert people.keypoints is not None
        assert people.keypoints.shape == (len(people), len(KEYPOINT_NAMES), 3)
        assert people.keypoints.dtype == np.float32
        assert (people.class_id == COCO_CLASSES.index("person")).all()
        assert (people.confidence >= movenet.confidence).all()
        assert (people.xyxy[:, 2:] <= (768, 576)).all() and (people.xyxy >= 0).all()
    (nobody,) = movenet.detect([np.zeros((480, 640, 3), np.uint8)])
    assert (
        len(nobody) == 0 and nobody.keypoints is not None and nobody.keypoints.shape == (0, 17, 3)
    )


@pytest.mark.parametrize("index", sorted(PEOPLE))
def test_finds_the_hand_labelled_people(
    movenet: MoveNetDetector, frames: dict[int, Image], index: int
) -> None:
    found = movenet.detect([frames[index]])[0]
    overlap = iou_matrix(PEOPLE[index], found.xyxy).max(axis=1)
    # Frame 200 has 7 people, one more than the model's 6 output rows.
    assert (overlap >= 0.5).sum() >= min(len(PEOPLE[index]), MAX_PEOPLE), overlap


def test_agrees_with_nanodet_on_people(movenet: MoveNetDetector, frames: dict[int, Image]) -> None:
    nanodet = NanoDetDetector(confidence=0.4, classes=[0], threads=2)
    sampled = [frames[i] for i in sorted(frames) if i % EVERY == 0]
    ours = movenet.detect(sampled)
    theirs = nanodet.detect(sampled)
    matched_ours = matched_theirs = total_ours = total_theirs = 0
    for a, b in zip(ours, theirs, strict=True):
        total_ours, total_theirs = total_ours + len(a), total_theirs + len(b)
        if len(a) and len(b):
            overlap = iou_matrix(a.xyxy, b.xyxy)
            matched_ours += int((overlap.max(axis=1) >= 0.5).sum())
            matched_theirs += int((overlap.max(axis=0) >= 0.5).sum())
    # Measured (docs/pose.md): 0.99 of MoveNet's boxes match, and 0.83 of NanoDet's
    # (0.89 is the most 6 rows a frame allow).
    assert matched_ours / total_ours >= 0.9
    assert matched_theirs / total_theirs >= 0.7


def test_keypoints_lie_in_their_box(movenet: MoveNetDetector, frames: dict[int, Image]) -> None:
    for index in sorted(PEOPLE):
        people = movenet.detect([frames[index]])[0]
        assert people.keypoints is not None
        visible = people.keypoints[:, :, 2] >= 0.3
        assert visible.mean() > 0.8
        size = people.xyxy[:, 2:] - people.xyxy[:, :2]
        low = people.xyxy[:, None, :2] - 0.1 * size[:, None]
        high = people.xyxy[:, None, 2:] + 0.1 * size[:, None]
        xy = people.keypoints[:, :, :2]
        inside = ((xy >= low) & (xy <= high)).all(axis=2)
        assert inside[visible].all()


def test_bad_model_files_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        MoveNetDetector(model_path=tmp_path / "missing.onnx")
    corrupt = tmp_path / "movenet.onnx"
    corrupt.write_bytes(b"\x08\x07 not a protobuf" * 64)
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        MoveNetDetector(model_path=corrupt)
    other = tmp_path / "nanodet.onnx"
    shutil.copyfile(MODELS_DIR / "nanodet.onnx", other)
    with pytest.raises(ModelError, match="not a MoveNet MultiPose graph"):
        MoveNetDetector(model_path=other)
    with pytest.raises(ValueError, match="multiple of 32"):
        MoveNetDetector(input_size=300)


# --- Posture from keypoint geometry -----------------------------------------------------

# Front-view joint positions of an upright body, in torso lengths from the hip midpoint
# (y down). Sitting bends the knees towards the camera (short thighs), or sideways.
_STANDING = [
    (0.0, -1.45), (-0.1, -1.5), (0.1, -1.5), (-0.2, -1.45), (0.2, -1.45),  # face
    (-0.4, -1.0), (0.4, -1.0), (-0.5, -0.45), (0.5, -0.45), (-0.55, 0.05), (0.55, 0.05),
    (-0.25, 0.0), (0.25, 0.0), (-0.25, 0.85), (0.25, 0.85), (-0.25, 1.7), (0.25, 1.7),
]  # fmt: skip
_SIT_FRONT = [*_STANDING[:13], (-0.3, 0.15), (0.3, 0.15), (-0.3, 0.75), (0.3, 0.75)]
_SIT_SIDE = [*_STANDING[:13], (0.8, 0.05), (0.8, 0.05), (0.8, 0.75), (0.8, 0.75)]
# A walker in a long coat, as MoveNet sees one on vtest.mp4: hips slide down to the hem.
_LONG_COAT = [
    *_STANDING[:11],
    (-0.25, 0.2),
    (0.25, 0.2),
    (-0.25, 0.6),
    (0.25, 0.6),
    *_STANDING[15:],
]


def person(
    shape: Sequence[tuple[float, float]] = _STANDING,
    torso: float = 40.0,
    hip: tuple[float, float] = (300.0, 300.0),
    degrees: float = 0.0,
    score: float = 0.9,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Keypoints (17, 3) of a body rotated by `degrees` about its hips, and a box around them."""
    turn = math.radians(degrees)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    xy = np.asarray(shape, np.float64) @ rotation.T * torso + hip
    keypoints = np.concatenate([xy, np.full((17, 1), score)], axis=1).astype(np.float32)
    margin = 0.2 * torso
    box = np.array([*(xy.min(axis=0) - margin), *(xy.max(axis=0) + margin)], np.float32)
    return keypoints, box


def classify(*people: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]) -> list[Posture]:
    return classify_postures(np.stack([p[0] for p in people]), np.stack([p[1] for p in people]))


def test_postures_of_textbook_bodies() -> None:
    assert classify(
        person(_STANDING), person(_SIT_FRONT), person(_SIT_SIDE), person(_STANDING, degrees=90)
    ) == ["standing", "sitting", "sitting", "lying"]
    # Knees near the hips, but far too tall a body to be seated: not sitting.
    assert classify(person(_LONG_COAT)) == ["unknown"]
    assert classify_postures(np.zeros((0, 17, 3), np.float32), np.zeros((0, 4), np.float32)) == []


def test_unseen_keypoints_give_unknown_or_the_box_shape() -> None:
    faint = person(score=0.1)
    assert classify(faint) == ["unknown"]
    keypoints, _ = faint
    assert classify((keypoints, np.array([100, 300, 260, 360], np.float32))) == ["lying"]
    legs_hidden, box = person()
    legs_hidden[13:, 2] = 0.0
    assert classify((legs_hidden, box)) == ["unknown"]


@settings(max_examples=200, deadline=None)
@given(
    degrees=st.floats(-25, 25),
    torso=st.floats(15, 200),
    x=st.floats(0, 1900),
    y=st.floats(0, 1000),
)
def test_upright_bodies_stand_and_flat_bodies_lie_at_any_size(
    degrees: float, torso: float, x: float, y: float
) -> None:
    hip = (x, y)
    assert classify(person(_STANDING, torso, hip, degrees)) == ["standing"]
    assert classify(person(_SIT_SIDE, torso, hip, degrees / 2)) == ["sitting"]
    assert classify(person(_STANDING, torso, hip, 90 + degrees * 1.2)) == ["lying"]
    assert classify(person(_STANDING, torso, hip, -90 + degrees * 1.2)) == ["lying"]


# --- Falls over time --------------------------------------------------------------------


def frame_of(posture: Posture | str, hip_y: float = 300.0, track_id: int = 7) -> Detections:
    torso = 40.0
    if posture == "standing":
        keypoints, box = person(_STANDING, torso, (300, hip_y))
    elif posture == "sitting":
        keypoints, box = person(_SIT_FRONT, torso, (300, hip_y))
    elif posture == "lying":
        keypoints, box = person(_STANDING, torso, (300, hip_y), degrees=90)
    else:  # a blurred body: only the hips are seen, in an upright box
        keypoints, box = person(_STANDING, torso, (300, hip_y), score=0.1)
        keypoints[11:13, 2] = 0.9
    return Detections(
        xyxy=box[None], confidence=np.array([0.5]), class_id=np.array([0]),
        tracker_id=np.array([track_id]), keypoints=keypoints[None],
    )  # fmt: skip


def play(analyzer: PoseAnalyzer, script: Sequence[tuple[str, float, float]]) -> list[Event]:
    """Feed (posture, seconds, hip y at the end) segments at 10 fps; hips move linearly."""
    events: list[Event] = []
    index, hip_y = 0, 300.0
    for posture, seconds, end_hip in script:
        steps = round(seconds * FPS)
        for step in range(steps):
            y = hip_y + (end_hip - hip_y) * (step + 1) / steps
            events.extend(analyzer.update(frame_of(posture, y), index, index / FPS))
            index += 1
        hip_y = end_hip
    return events


FLOOR = 360.0  # hip height of a body lying on the floor, in pixels (standing: 300)


def test_a_quick_fall_is_one_event_after_min_lying_seconds() -> None:
    analyzer = PoseAnalyzer("hall")
    events = play(analyzer, [("standing", 2.0, 300), ("lying", 4.0, FLOOR)])
    assert [(e.kind, e.counter, e.direction, e.track_id, e.camera) for e in events] == [
        ("fall", "pose", "down", 7, "hall")
    ]
    # Lying begins at 2.0 s; the vote takes 0.2 s to agree, then 1.0 s must pass.
    assert 3.0 <= events[0].timestamp <= 3.5
    assert analyzer.falls == 1
    assert analyzer.occupancy_by_posture() == {
        "standing": 0,
        "sitting": 0,
        "lying": 1,
        "unknown": 0,
    }


def test_standing_up_rearms_the_fall_rule() -> None:
    analyzer = PoseAnalyzer("hall")
    script = [("standing", 2.0, 300), ("lying", 2.0, FLOOR)] * 2
    assert [e.kind for e in play(analyzer, script)] == ["fall", "fall"]


def test_lying_down_slowly_through_sitting_is_no_fall() -> None:
    analyzer = PoseAnalyzer("hall")
    script = [("standing", 2.0, 300), ("sitting", 3.0, 330), ("lying", 4.0, FLOOR)]
    assert play(analyzer, script) == []


def test_a_lying_glitch_shorter_than_min_lying_seconds_is_no_fall() -> None:
    analyzer = PoseAnalyzer("hall")
    script = [("standing", 2.0, 300), ("lying", 0.6, 300), ("standing", 2.0, 300)] * 3
    assert play(analyzer, script) == []


def test_sitting_up_right_after_going_down_is_no_fall() -> None:
    analyzer = PoseAnalyzer("hall")
    script = [("standing", 2.0, 300), ("lying", 0.5, FLOOR), ("sitting", 2.0, 330)]
    # Lying down again later, from sitting, is deliberate.
    assert play(analyzer, [*script, ("lying", 3.0, FLOOR)]) == []


def test_someone_found_lying_never_fell_in_view() -> None:
    assert play(PoseAnalyzer("hall"), [("lying", 5.0, FLOOR)]) == []


def test_hips_dropping_fast_while_blurred_is_a_fall_and_slowly_is_not() -> None:
    # Standing is lost to blur for 2 s, longer than the 1.5 s window; the hips decide.
    fast = [("standing", 2.0, 300), ("blur", 1.2, 300), ("blur", 0.8, FLOOR), ("lying", 3, FLOOR)]
    assert [e.kind for e in play(PoseAnalyzer("hall"), fast)] == ["fall"]
    slow = [("standing", 2.0, 300), ("blur", 5.0, FLOOR), ("lying", 3.0, FLOOR)]
    assert play(PoseAnalyzer("hall"), slow) == []


def test_posture_events_and_forgetting_dead_tracks() -> None:
    analyzer = PoseAnalyzer("hall", PoseSettings(posture_events=True, forget_seconds=2.0))
    events = play(analyzer, [("standing", 1.0, 300), ("sitting", 2.0, 330)])
    assert [(e.kind, e.direction) for e in events] == [
        ("posture", "standing"),
        ("posture", "sitting"),
    ]
    assert len(analyzer) == 1 and analyzer.postures() == {7: "sitting"}
    analyzer.update(Detections.empty(), 100, 10.0)
    assert len(analyzer) == 0
    assert analyzer.occupancy_by_posture() == dict.fromkeys(POSTURES, 0)


def test_a_pose_config_tracks_with_bytetrack() -> None:
    from aistack.config import AppConfig

    camera = {"source": {"uri": "clip.mp4"}}
    pose = AppConfig.model_validate({"cameras": [camera], "detector": {"type": "movenet"}})
    assert pose.tracker.type == "bytetrack"
    # MoveNet's person scores run lower than NanoDet's: its threshold stays at 0.4.
    assert pose.tracker.high_conf_det_threshold == 0.4
    # The default (CenterNet) and NanoDet keep their own thresholds.
    assert AppConfig.model_validate({"cameras": [camera]}).tracker.high_conf_det_threshold == 0.35
    nanodet = {"cameras": [camera], "detector": {"model": "nanodet"}}
    assert AppConfig.model_validate(nanodet).tracker.high_conf_det_threshold == 0.45
    chosen = AppConfig.model_validate(
        {"cameras": [camera], "detector": {"type": "movenet"}, "tracker": {"type": "ocsort"}}
    )
    assert chosen.tracker.type == "ocsort"
    assert AppConfig.model_validate({"cameras": [camera]}).tracker.type == "ocsort"


def test_walkers_on_the_real_clip_stand_and_never_fall(movenet: MoveNetDetector) -> None:
    from aistack.analytics.tracking import make_tracker
    from aistack.config import AppConfig

    # The tracker a movenet config gets (ByteTrack at 0.4; see AppConfig's pose default).
    camera = {"source": {"uri": "clip.mp4"}}
    pose_tracker = AppConfig.model_validate(
        {"cameras": [camera], "detector": {"type": "movenet"}}
    ).tracker
    tracker, analyzer = make_tracker(pose_tracker, FPS), PoseAnalyzer("vtest")
    capture = cv2.VideoCapture(str(VIDEO))
    events: list[Event] = []
    standing = others = 0
    for index in range(60):
        image = capture.read()[1]
        tracked = tracker.update(movenet.detect([image])[0])
        events.extend(analyzer.update(tracked, index, index / FPS))
        counts = analyzer.occupancy_by_posture()
        standing += counts["standing"]
        others += counts["sitting"] + counts["lying"]
    capture.release()
    assert events == []
    assert standing > 100 and others <= standing * 0.02


# --- Zones by pose anchor ---------------------------------------------------------------


def test_pose_anchor_prefers_ankles_then_hips_then_box_bottom() -> None:
    keypoints, box = person()
    hips_only = keypoints.copy()
    hips_only[15:, 2] = 0.0
    nothing = keypoints.copy()
    nothing[:, 2] = 0.0
    people = Detections(
        xyxy=np.stack([box, box, box]), confidence=np.ones(3), class_id=np.zeros(3),
        keypoints=np.stack([keypoints, hips_only, nothing]),
    )  # fmt: skip
    anchors = pose_anchor_points(people)
    np.testing.assert_allclose(anchors[0], keypoints[15:17, :2].mean(axis=0))
    np.testing.assert_allclose(anchors[1], keypoints[11:13, :2].mean(axis=0))
    np.testing.assert_allclose(anchors[2], [(box[0] + box[2]) / 2, box[3]])
    # A zone drawn on the floor around the feet holds the first person only; one around
    # the hips the second; one at the box's bottom edge the third.
    feet, hips = anchors[0], anchors[1]
    zones = {
        "feet": [(feet[0] - 5, feet[1] - 3), (feet[0] + 5, feet[1] - 3), (feet[0], feet[1] + 3)],
        "hips": [(hips[0] - 5, hips[1] - 3), (hips[0] + 5, hips[1] - 3), (hips[0], hips[1] + 3)],
    }
    assert count_in_zones(people, zones) == {"feet": 1, "hips": 1}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), min_size=1, max_size=40))
def test_points_in_polygon_agrees_with_opencv(points: list[tuple[float, float]]) -> None:
    polygon = [(10, 10), (90, 10), (90, 90), (50, 40), (10, 90)]  # concave
    contour = np.asarray(polygon, np.float32).reshape(-1, 1, 2)
    ours = points_in_polygon(np.asarray(points), polygon)
    for point, inside in zip(points, ours, strict=True):
        distance = cv2.pointPolygonTest(contour, point, True)
        if abs(distance) > 1e-3:  # on the edge either answer is fine
            assert inside == (distance > 0)


# --- Ultralytics pose plumbing ----------------------------------------------------------


def test_ultralytics_pose_models_bring_keypoints(frames: dict[int, Image]) -> None:
    pytest.importorskip("ultralytics", reason="the ultralytics extra is not installed")
    from aistack.detect.ultralytics import UltralyticsDetector

    # Random weights: this checks shapes and plumbing, never accuracy.
    detector = UltralyticsDetector("yolov8n-pose.yaml", confidence=0.001, imgsz=320)
    found = detector.detect([frames[0], frames[200]])
    for people in found:
        assert len(people) > 0 and people.keypoints is not None
        assert people.keypoints.shape == (len(people), 17, 3)
        assert len(classify_postures(people.keypoints, people.xyxy)) == len(people)


# --- Drawing ----------------------------------------------------------------------------


def test_skeletons_change_pixels_only_near_their_keypoints(
    movenet: MoveNetDetector, frames: dict[int, Image]
) -> None:
    image = frames[200]
    original = image.copy()
    people = movenet.detect([image])[0]
    assert people.keypoints is not None
    drawn = draw_skeletons(image, people)
    assert np.array_equal(image, original)  # the input is left alone
    changed = np.argwhere((drawn != image).any(axis=2))[:, ::-1]  # (x, y)
    assert len(changed) > 0
    near = np.zeros(len(changed), bool)
    for keypoints, box in zip(people.keypoints, people.xyxy, strict=True):
        visible = keypoints[keypoints[:, 2] >= 0.3, :2]
        reach = max(1, round(float(box[3] - box[1]) / 60)) + 3  # line width, joint, blur
        low, high = visible.min(axis=0) - reach, visible.max(axis=0) + reach
        near |= ((changed >= low) & (changed <= high)).all(axis=1)
        for x, y in np.round(visible).astype(int):  # and every visible joint was drawn
            around = (slice(y - 1, y + 2), slice(x - 1, x + 2))
            assert (drawn[around] != image[around]).any()
    assert near.all()


def test_posture_labels_sit_under_their_box(
    movenet: MoveNetDetector, frames: dict[int, Image]
) -> None:
    image = frames[0]
    found = movenet.detect([image])[0]
    people = Detections(
        xyxy=found.xyxy, confidence=found.confidence, class_id=found.class_id,
        tracker_id=np.arange(len(found)), keypoints=found.keypoints,
    )  # fmt: skip
    plain = draw_skeletons(image, people)
    labelled = draw_skeletons(image, people, {0: "standing"})
    differs = np.argwhere((plain != labelled).any(axis=2))
    x1, _, _, y2 = people.xyxy[0]
    assert len(differs) > 0
    assert (differs[:, 0] >= y2 - 20).all() and (differs[:, 1] >= x1 - 2).all()
