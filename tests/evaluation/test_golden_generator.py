"""The golden-video generator: deterministic truth, readable clips, true counts, real detections."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aistack.detect.base import Detector
from tests.golden import sprites
from tests.golden.generate import (
    MOT_CLASS,
    MOT_COLUMNS,
    SCENARIOS,
    GoldenClip,
    count_crossings,
    format_mot,
    generate,
    ground_truth,
    load_ground_truth,
    main,
)

REQUIRED = {
    "people_cross",
    "cross_and_return",
    "standing_on_line",
    "jitter_across",
    "side_by_side",
    "bus_cross",
    "edge_enter_exit",
}
COCO_ID = {name: mot - 1 for name, mot in MOT_CLASS.items()}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GoldenClip | str]:
    """Every scenario generated once; a string says why one could not be."""
    out = tmp_path_factory.mktemp("golden")
    made: dict[str, GoldenClip | str] = {}
    for name, scenario in SCENARIOS.items():
        try:
            made[name] = generate(scenario, out)
        except sprites.SpriteUnavailableError as error:
            made[name] = str(error)
    return made


def _clip(clips: dict[str, GoldenClip | str], name: str) -> GoldenClip:
    clip = clips[name]
    if isinstance(clip, str):
        pytest.skip(clip)
    return clip


def _iou(box: npt.NDArray[np.float64], others: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    x0 = np.maximum(box[0], others[:, 0])
    y0 = np.maximum(box[1], others[:, 1])
    x1 = np.minimum(box[2], others[:, 2])
    y1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / (area + areas - inter), np.float64)


def _rows(track_anchors: dict[int, list[tuple[float, float]]]) -> npt.NDArray[np.float64]:
    """MOT rows for 10x20 boxes whose bottom-centre anchors are given per track."""
    rows = [
        [frame, track, x - 5, y - 20, 10, 20, 1, 1, 1.0]
        for track, anchors in track_anchors.items()
        for frame, (x, y) in enumerate(anchors, start=1)
    ]
    return np.array(rows, np.float64)


def test_the_required_scenarios_exist() -> None:
    assert set(SCENARIOS) >= REQUIRED
    for scenario in SCENARIOS.values():
        assert scenario.n_frames / scenario.fps <= 10
        assert 10 <= scenario.fps <= 15


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_ground_truth_is_deterministic(name: str) -> None:
    first = format_mot(ground_truth(SCENARIOS[name]).rows)
    assert first == format_mot(ground_truth(SCENARIOS[name]).rows)
    assert first.count("\n") == len(ground_truth(SCENARIOS[name]).rows) > 0


def test_generate_writes_the_same_ground_truth_bytes_each_time(tmp_path: Path) -> None:
    one = generate(SCENARIOS["jitter_across"], tmp_path / "one")
    two = generate(SCENARIOS["jitter_across"], tmp_path / "two")
    assert one.ground_truth_file.read_bytes() == two.ground_truth_file.read_bytes()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_clip_reads_back_with_its_frame_count_and_size(
    clips: dict[str, GoldenClip | str], name: str
) -> None:
    clip = _clip(clips, name)
    scenario = clip.scenario
    capture = cv2.VideoCapture(str(clip.video))
    shapes = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        shapes.append(image.shape)
    capture.release()
    assert len(shapes) == scenario.n_frames
    assert set(shapes) == {(scenario.height, scenario.width, 3)}
    assert clip.video.name == f"{name}.mp4" and clip.codec in {"avc1", "mp4v"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_ground_truth_counts_are_the_documented_counts(
    clips: dict[str, GoldenClip | str], name: str
) -> None:
    scenario = SCENARIOS[name]
    truth = ground_truth(scenario)
    assert truth.counts == scenario.expected
    # And from the file alone, as a consumer of the clip would compute them.
    clip = _clip(clips, name)
    names = {track: obj.class_name for track, obj in enumerate(scenario.objects, start=1)}
    from_file = count_crossings(load_ground_truth(clip.ground_truth_file), scenario.line, names)
    assert from_file == truth.crossings
    assert clip.expected == scenario.expected


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_ground_truth_file_is_mot_format(clips: dict[str, GoldenClip | str], name: str) -> None:
    clip = _clip(clips, name)
    scenario = clip.scenario
    text = clip.ground_truth_file.read_text()
    assert all(len(line.split(",")) == len(MOT_COLUMNS) for line in text.splitlines())
    rows = load_ground_truth(clip.ground_truth_file)
    frame, track, x, y, w, h, conf, klass, visibility = rows.T
    assert frame.min() >= 1 and frame.max() <= scenario.n_frames
    assert set(track.astype(int)) == set(range(1, len(scenario.objects) + 1))
    assert (x >= 0).all() and (y >= 0).all() and (w > 0).all() and (h > 0).all()
    assert (x + w <= scenario.width).all() and (y + h <= scenario.height).all()
    assert (conf == 1).all() and ((visibility > 0) & (visibility <= 1)).all()
    for track_id, obj in enumerate(scenario.objects, start=1):
        assert set(klass[track == track_id]) == {MOT_CLASS[obj.class_name]}
    assert np.array_equal(rows, ground_truth(scenario).rows)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_sprites_never_overlap(name: str) -> None:
    """So that every visible sprite is fair game for the detector."""
    rows = ground_truth(SCENARIOS[name]).rows
    for frame in np.unique(rows[:, 0]):
        boxes = rows[rows[:, 0] == frame][:, 2:6].copy()
        boxes[:, 2:] += boxes[:, :2]
        for i in range(len(boxes)):
            assert (_iou(boxes[i], boxes[i + 1 :].astype(np.float32)) == 0).all(), frame


def test_in_is_downward_across_a_left_to_right_line() -> None:
    line = (0.0, 100.0, 200.0, 100.0)
    down = _rows({1: [(50, 60), (50, 90), (50, 115), (50, 140)]})
    (crossing,) = count_crossings(down, line, {1: "person"})
    assert (crossing.direction, crossing.frame) == ("in", 3)
    up = _rows({1: [(50, 140), (50, 60)]})
    assert [c.direction for c in count_crossings(up, line, {1: "person"})] == ["out"]
    # A vertical line drawn bottom to top has "in" on its right, as bus_cross uses.
    right = _rows({1: [(60, 50), (140, 50)]})
    vertical = (100.0, 200.0, 100.0, 0.0)
    assert [c.direction for c in count_crossings(right, vertical, {1: "bus"})] == ["in"]


def test_a_track_counts_at_most_once_per_direction() -> None:
    line = (0.0, 100.0, 200.0, 100.0)
    back_and_forth = _rows({7: [(50, 60), (50, 140), (50, 60), (50, 140), (50, 60)]})
    crossings = count_crossings(back_and_forth, line, {7: "person"})
    assert [(c.direction, c.frame) for c in crossings] == [("in", 2), ("out", 3)]


def test_crossings_outside_the_segment_do_not_count() -> None:
    line = (0.0, 100.0, 200.0, 100.0)
    beside = _rows({1: [(250, 60), (250, 140)]})
    assert count_crossings(beside, line, {1: "person"}) == ()


@given(
    crossings=st.integers(0, 6),
    jitter=st.lists(st.floats(-9.9, 9.9), min_size=4, max_size=4),
)
def test_jitter_inside_the_margin_never_adds_a_crossing(
    crossings: int, jitter: list[float]
) -> None:
    line = (0.0, 100.0, 200.0, 100.0)
    anchors = [(50.0, 60.0)]
    for i in range(crossings):
        anchors += [(50.0, 100.0 + j) for j in jitter]  # dithering on the line
        anchors.append((50.0, 140.0 if i % 2 == 0 else 60.0))
    anchors += [(50.0, 100.0 + j) for j in jitter]
    found = count_crossings(_rows({1: anchors}), line, {1: "person"})
    assert [c.direction for c in found] == ["in", "out"][: min(crossings, 2)]


@pytest.mark.parametrize(("name", "track"), [("standing_on_line", 1), ("jitter_across", 1)])
def test_jitter_scenarios_are_real_traps(name: str, track: int) -> None:
    """Raw sign flips of the anchor would count what a human would not."""
    scenario = SCENARIOS[name]
    rows = ground_truth(scenario).rows
    names = {t: o.class_name for t, o in enumerate(scenario.objects, start=1)}
    naive = [
        c for c in count_crossings(rows, scenario.line, names, margin=0.0) if c.track_id == track
    ]
    true = [c for c in ground_truth(scenario).crossings if c.track_id == track]
    assert len(naive) > len(true)
    anchors = rows[rows[:, 1] == track]
    offsets = anchors[:, 3] + anchors[:, 5] - scenario.line[1]
    jitter = 3 if name == "standing_on_line" else 6
    if name == "standing_on_line":
        assert np.abs(offsets).max() <= jitter
    assert offsets.min() <= -jitter / 2 and offsets.max() >= jitter / 2


def test_cross_and_return_goes_in_then_out() -> None:
    crossings = ground_truth(SCENARIOS["cross_and_return"]).crossings
    assert [(c.track_id, c.direction) for c in crossings] == [(1, "in"), (1, "out")]


def test_side_by_side_people_are_60_px_apart() -> None:
    rows = ground_truth(SCENARIOS["side_by_side"]).rows
    for frame in np.unique(rows[:, 0]):
        left, right = sorted(rows[rows[:, 0] == frame], key=lambda r: r[2])
        assert right[2] - (left[2] + left[4]) >= 60


def test_edge_scenario_touches_every_edge() -> None:
    scenario = SCENARIOS["edge_enter_exit"]
    rows = ground_truth(scenario).rows
    partial = rows[rows[:, 8] < 1]
    x, y, w, h = partial[:, 2], partial[:, 3], partial[:, 4], partial[:, 5]
    assert (x == 0).any() and (y == 0).any()
    assert (x + w == scenario.width).any() and (y + h == scenario.height).any()


def test_occluded_frames_have_no_rows() -> None:
    scenario = SCENARIOS["occluded_cross"]
    frames = set(ground_truth(scenario).rows[:, 0].astype(int))
    ((start, stop),) = scenario.objects[0].hidden
    assert not frames & set(range(start + 1, stop + 1))
    assert {start, stop + 1} <= frames


def test_cli_writes_the_named_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--scenario", "cross_and_return"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cross_and_return.gt.txt",
        "cross_and_return.mp4",
    ]
    assert "in=1 out=1" in capsys.readouterr().out


def test_the_bus_needs_ultralytics_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
        with pytest.raises(sprites.SpriteUnavailableError, match="pip install ultralytics"):
            sprites.bus_image_path()


def test_a_missing_sprite_fails_before_any_file_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def missing() -> Path:
        raise sprites.SpriteUnavailableError("the bus sprite needs: pip install ultralytics")

    sprites._bus_sprite.cache_clear()
    monkeypatch.setattr(sprites, "bus_image_path", missing)
    try:
        with pytest.raises(sprites.SpriteUnavailableError, match="ultralytics"):
            generate(SCENARIOS["bus_cross"], tmp_path / "out")
        assert main(["--out", str(tmp_path / "cli"), "--scenario", "bus_cross"]) == 2
    finally:
        sprites._bus_sprite.cache_clear()
    assert not (tmp_path / "out").exists() and not (tmp_path / "cli").exists()


# ---------------------------------------------------------------- a real detector
DETECTION_STEP = 6  # every 6th frame
MIN_IOU = 0.5


@pytest.fixture(scope="module")
def detector() -> Detector:
    nanodet = pytest.importorskip(
        "aistack.detect.nanodet",
        reason="aistack.detect.nanodet (the bundled NanoDet detector) cannot be imported",
    )
    found: Detector = nanodet.NanoDetDetector(confidence=0.3, threads=2)
    return found


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_nanodet_finds_every_whole_sprite(
    clips: dict[str, GoldenClip | str], detector: Detector, name: str
) -> None:
    """Each fully visible sprite is detected, as its class, with IoU ≥ 0.5 against its box."""
    clip = _clip(clips, name)
    rows = clip.truth.rows
    capture = cv2.VideoCapture(str(clip.video))
    checked, misses = 0, []
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        index += 1
        if index % DETECTION_STEP:
            continue
        (found,) = detector.detect([np.asarray(image, np.uint8)])
        for _, track, x, y, w, h, _, klass, visibility in rows[rows[:, 0] == index]:
            if visibility < 1:
                continue
            same_class = found.class_id == int(klass) - 1
            best = _iou(np.array([x, y, x + w, y + h]), found.xyxy[same_class]).max(initial=0.0)
            checked += 1
            if best < MIN_IOU:
                misses.append(f"frame {index} track {int(track)}: best IoU {best:.2f}")
    capture.release()
    assert checked > 0
    assert not misses, f"{len(misses)} of {checked} sprites missed: {misses}"
