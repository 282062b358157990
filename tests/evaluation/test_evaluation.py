"""`aistack eval`: real pipeline on golden clips against their MOT ground truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from aistack.cli.args import config_from_options
from aistack.cli.eval import main
from aistack.config import AppConfig
from aistack.errors import ConfigError, SourceError
from aistack.evaluation.evaluate import EvalResult, accuracy_figures, evaluate, publish
from aistack.evaluation.mot import (
    TrackBoxes,
    load_ground_truth,
    parse_gt_classes,
    tracking_metrics,
)
from aistack.pipeline.wiring import Pipeline
from tests.golden.generate import SCENARIOS, GoldenClip, generate
from tests.golden.sprites import SpriteUnavailableError

EASY = "people_cross"


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("golden-eval")


_clips: dict[str, GoldenClip] = {}
_results: dict[str, EvalResult] = {}


def _clip(name: str, out_dir: Path) -> GoldenClip:
    if name not in _clips:
        try:
            _clips[name] = generate(SCENARIOS[name], out_dir)
        except SpriteUnavailableError as error:
            pytest.skip(str(error))
    return _clips[name]


def _line(clip: GoldenClip) -> str:
    return "line=" + ",".join(f"{v:g}" for v in clip.scenario.line)


def _evaluated(name: str, out_dir: Path) -> tuple[GoldenClip, EvalResult]:
    clip = _clip(name, out_dir)
    if name not in _results:
        _results[name] = evaluate(
            clip.video, clip.ground_truth_file, [_line(clip)], gt_format="aistack"
        )
    return clip, _results[name]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_truth_is_the_scenario_count_and_predicted_is_what_count_gives(
    name: str, golden_dir: Path
) -> None:
    clip, result = _evaluated(name, golden_dir)
    (line,) = result.lines
    truth = {d: line.truth.total_in if d == "in" else line.truth.total_out for d in ("in", "out")}
    assert truth == clip.scenario.expected, f"{name}: GT through LineCounter gives {truth}"
    assert set(line.truth.by_class()) <= {o.class_name for o in clip.scenario.objects}

    # What `aistack count CLIP --line ... --classes <the eval's classes>` runs.
    config = config_from_options(
        str(clip.video), [_line(clip)], ",".join(result.classes), "nanodet", "cpu",
        "bottom_center",
    )  # fmt: skip
    (counted,) = Pipeline(config, pace="unpaced").run().cameras[0].lines
    assert line.predicted.counts == counted.counts
    for direction in ("in", "out"):
        assert line.error(direction) == (
            (counted.total_in - truth["in"]) if direction == "in" else
            (counted.total_out - truth["out"])
        )  # fmt: skip


def test_tracking_is_good_on_an_easy_clip(golden_dir: Path) -> None:
    # At 416 px high (the `fast` preset) the synthetic scene is easy for the detector.
    clip = _clip(EASY, golden_dir)
    config = AppConfig.model_validate(
        {
            "preset": "fast",
            "cameras": [{"source": {"uri": str(clip.video)}}],
            "detector": {"classes": ["person"]},
            "metrics": {"enabled": False},
        }
    )
    result = evaluate(
        clip.video, clip.ground_truth_file, [_line(clip)], config, gt_format="aistack"
    )
    tracking = result.tracking
    for score in (tracking.hota, tracking.deta, tracking.assa, tracking.idf1):
        assert 0.6 < score <= 1.0, tracking
    # MOTA also pays for false boxes: a sign post of the synthetic scene scores about 0.44.
    assert 0.55 < tracking.mota <= 1.0
    assert tracking.idsw == 0


def test_the_default_preset_tracks_the_easy_clip_without_swaps(golden_dir: Path) -> None:
    # The default runs this 768x576 clip at 544 px high, nearly its own size, where the
    # sign post becomes one static false track (DetA about 0.57, MOTA about 0.48): detection
    # pays for it, association and the counts do not.
    _, result = _evaluated(EASY, golden_dir)
    tracking = result.tracking
    assert 0.8 < tracking.assa <= 1.0 and 0.6 < tracking.hota <= 1.0, tracking
    assert tracking.deta > 0.5 and tracking.idsw == 0, tracking
    (line,) = result.lines
    assert line.predicted.counts == line.truth.counts
    assert result.frames == SCENARIOS[EASY].n_frames
    assert result.classes == ("person",)  # only what the truth labels is detected by default


def test_ground_truth_against_itself_scores_one(golden_dir: Path) -> None:
    for name in (EASY, "bus_cross"):
        golden = _clip(name, golden_dir).ground_truth_file
        truth = load_ground_truth(golden, gt_format="aistack").boxes
        perfect = tracking_metrics(truth, truth)
        for score in (perfect.hota, perfect.deta, perfect.assa, perfect.idf1, perfect.mota):
            assert score == pytest.approx(1.0)
        assert (perfect.idsw, perfect.false_positives, perfect.false_negatives) == (0, 0, 0)
    # Two classes at once: still perfect, and each class scored on its own.
    both = TrackBoxes.concat([truth, _shifted(truth, track_offset=100, class_id=2)])
    perfect = tracking_metrics(both, both)
    assert perfect.hota == pytest.approx(1.0) and set(perfect.by_class) == {"bus", "car"}


def _shifted(
    boxes: TrackBoxes, track_offset: int, class_id: int, offset: float = 1000.0
) -> TrackBoxes:
    """The same tracks under other ids and class, moved `offset` px away."""
    return TrackBoxes(boxes.frame, boxes.track_id + track_offset, boxes.xyxy + offset,
                      np.full(len(boxes), class_id))  # fmt: skip


def test_swapped_identities_are_switches_not_detection_errors(golden_dir: Path) -> None:
    golden = _clip("side_by_side", golden_dir).ground_truth_file
    truth = load_ground_truth(golden, gt_format="aistack").boxes
    swapped_ids = truth.track_id.copy()
    late = truth.frame >= 30
    swapped_ids[late] = 3 - swapped_ids[late]  # ids 1 and 2 trade places halfway
    swapped = TrackBoxes(truth.frame, swapped_ids, truth.xyxy, truth.class_id)
    scores = tracking_metrics(truth, swapped)
    assert scores.deta == pytest.approx(1.0)  # every box is still found...
    assert scores.idsw == 2 and scores.assa < 0.75 and scores.idf1 < 0.75  # ...by the wrong id


def test_predictions_on_mot_distractors_count_neither_way(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    gt.write_text(
        "1,1,10,10,20,40,1,1,1\n2,1,12,10,20,40,1,1,1\n"  # a pedestrian
        "1,2,100,10,20,40,0,8,1\n2,2,100,10,20,40,0,8,1\n"  # a distractor (conf 0, class 8)
        "1,3,200,10,30,30,0,3,1\n"  # a car the benchmark does not evaluate
    )
    truth = load_ground_truth(gt, parse_gt_classes("mot"))
    assert len(truth.boxes) == 2 and len(truth.ignored) == 2
    # A tracker that finds the pedestrian and the distractor, both as persons.
    predicted = TrackBoxes.concat([truth.boxes, _shifted(truth.ignored, 10, 0, 0.0)])
    scored = tracking_metrics(truth.boxes, predicted, truth.ignored)
    assert scored.false_positives == 0 and scored.hota == pytest.approx(1.0)
    assert tracking_metrics(truth.boxes, predicted).false_positives == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,1,10,20,30,40,1,1,1\n1,1,10,20,30\n", r"gt\.txt:2: expected 6 to 10"),
        ("1,1,10,20,30,40\nframe,id,x,y,w,h\n", r"gt\.txt:2: expected 6 to 10"),
        ("0,1,10,20,30,40\n", r"gt\.txt:1: frame must be an integer >= 1"),
        ("1.5,1,10,20,30,40\n", r"gt\.txt:1: frame must be an integer"),
        ("1,1,10,20,-3,40\n", r"gt\.txt:1: box width and height"),
        ("1,1,10,20,30,40\n1,1,50,20,30,40\n", r"gt\.txt:2: id 1 appears twice in frame 1"),
        ("\n\n", r"no rows"),
    ],
)
def test_malformed_ground_truth_is_one_line_naming_file_and_line(
    content: str, message: str, tmp_path: Path
) -> None:
    gt = tmp_path / "gt.txt"
    gt.write_text(content)
    with pytest.raises(ConfigError, match=message) as error:
        load_ground_truth(gt)
    assert "\n" not in str(error.value)


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such ground-truth file"):
        load_ground_truth(tmp_path / "missing.txt")
    with pytest.raises(ConfigError, match="--gt-classes 'nope=car'"):
        parse_gt_classes("nope=car")
    with pytest.raises(ConfigError, match="--gt-classes"):
        parse_gt_classes("1=unicorn")
    gt = tmp_path / "gt.txt"
    gt.write_text("1,1,10,20,30,40\n")
    with pytest.raises(ConfigError, match="--line"):
        evaluate(tmp_path / "clip.mp4", gt, ["0,0,1,2,3"])
    with pytest.raises(ConfigError, match="video file"):
        evaluate("rtsp://camera/stream", gt)


def test_ground_truth_beyond_the_clip_is_a_source_error(golden_dir: Path, tmp_path: Path) -> None:
    clip = _clip("bus_cross", golden_dir)
    gt = tmp_path / "gt.txt"
    gt.write_text(clip.ground_truth_file.read_text() + "51,9,10,20,30,40,1,6,1\n")
    with pytest.raises(SourceError, match=r"gt\.txt:\d+: frame 51 is beyond the clip's 50"):
        evaluate(clip.video, gt, gt_format="aistack")


def test_figures_are_flat_numbers_and_published_as_gauges(golden_dir: Path) -> None:
    _, result = _evaluated(EASY, golden_dir)
    figures = accuracy_figures(result)
    assert all(isinstance(v, float) for v in figures.values())
    assert figures["hota"] == result.tracking.hota
    assert figures["line.in.truth"] == 3 and figures["line.out.truth"] == 1
    assert figures["line.in.error"] == result.lines[0].error("in")

    registry = CollectorRegistry()
    publish(result, registry)
    for name in ("hota", "idf1", "mota"):
        value = registry.get_sample_value(f"aistack_eval_{name}")
        assert value == pytest.approx(getattr(result.tracking, name))
    labels = {"line": "line", "direction": "out"}
    assert registry.get_sample_value("aistack_eval_count_error", labels) == result.lines[0].error(
        "out"
    )
    publish(EvalResult(**{**result.__dict__, "lines": []}), registry)  # replaces, no clash
    assert registry.get_sample_value("aistack_eval_count_error", labels) is None
    assert registry.get_sample_value("aistack_eval_hota") == pytest.approx(result.tracking.hota)


def test_cli_prints_a_table_or_exactly_one_json_object(
    golden_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = _clip(EASY, golden_dir)
    arguments = [str(clip.video), "--gt", str(clip.ground_truth_file), "--line", _line(clip)]
    assert main(arguments) == 0
    table = capsys.readouterr().out
    for word in ("HOTA", "IDF1", "MOTA", "truth", "counted", "line"):
        assert word in table
    assert main([*arguments, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    report = json.loads(out)
    assert {"clip", "frames", "tracking", "lines"} <= set(report)
    assert {"HOTA", "DetA", "AssA", "IDF1", "MOTA", "IDSW"} <= set(report["tracking"])
    (line,) = report["lines"]
    assert {"name", "points", "truth", "predicted", "abs_error", "by_class"} <= set(line)
    assert line["truth"] == {"in": 3, "out": 1}
    assert set(line["by_class"]["person"]) >= {"truth", "predicted", "abs_error"}

    assert main([str(clip.video), "--gt", str(clip.ground_truth_file) + ".missing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aistack: error: --gt ") and err.count("\n") == 1


@pytest.mark.slow
def test_eval_and_count_commands_agree(golden_dir: Path) -> None:
    clip = _clip("edge_enter_exit", golden_dir)

    def run(*args: str) -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-m", *args, "--json"], capture_output=True,
                              text=True, timeout=300, check=True)  # fmt: skip
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    line = _line(clip)
    report = run("aistack.cli.eval", str(clip.video), "--gt", str(clip.ground_truth_file),
                 "--line", line, "--classes", "people,traffic")  # fmt: skip
    counted = run("aistack", "count", str(clip.video), "--line", line, "--classes",
                  "people,traffic")  # fmt: skip
    (evaluated,) = report["lines"]
    assert evaluated["predicted"] == {"in": counted["lines"][0]["in"],
                                      "out": counted["lines"][0]["out"]}  # fmt: skip
    assert evaluated["truth"] == clip.expected
    # With traffic classes, vtest's parked van and car are real detections the truth lacks.
    assert report["tracking"]["FP"] > 0


def test_help_explains_the_format_and_metrics() -> None:
    done = subprocess.run([sys.executable, "-m", "aistack.cli.eval", "--help"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    for word in ("--gt-classes", "1-based", "conf 0", "HOTA", "IDF1", "MOTA", "mot", "coco+1",
                 "--gt-format", "mot15", "mot16", "aistack", "wx,wy,wz", "--truth",
                 "crossings.csv", "0-based", "weighted count error", "caught", "spurious",
                 "--match-frames", "--max-frames"):  # fmt: skip
        assert word in done.stdout, word
