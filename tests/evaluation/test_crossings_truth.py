"""`aistack eval --truth crossings.csv`: counts and matching against true crossings, no boxes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aistack.cli.eval import main
from aistack.config import CameraConfig
from aistack.errors import ConfigError, SourceError
from aistack.evaluation.crossings import Crossing, write_crossings
from aistack.evaluation.evaluate import EvalResult, evaluate
from aistack.evaluation.truth import crossings_truth
from tests.golden.generate import SCENARIOS, GoldenClip, generate
from tests.golden.sprites import SpriteUnavailableError


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> GoldenClip:
    try:
        return generate(SCENARIOS["people_cross"], tmp_path_factory.mktemp("golden-crossings"))
    except SpriteUnavailableError as error:
        pytest.skip(str(error))


def _line(clip: GoldenClip, name: str = "door") -> str:
    return f"{name}=" + ",".join(f"{v:g}" for v in clip.scenario.line)


def _true_crossings(clip: GoldenClip) -> list[Crossing]:
    """The scenario's own crossings, worked out from its paths (not by aistack's counter)."""
    return [
        Crossing("door", c.frame - 1, c.direction, c.class_name, f"object {c.track_id}")
        for c in clip.truth.crossings  # 1-based frames there; crossings.csv counts from 0
    ]


@pytest.fixture(scope="module")
def scored(clip: GoldenClip, tmp_path_factory: pytest.TempPathFactory) -> EvalResult:
    truth = write_crossings(tmp_path_factory.mktemp("truth") / "crossings.csv",
                            _true_crossings(clip))  # fmt: skip
    return evaluate(clip.video, lines=[_line(clip)], crossings=truth)


def test_a_crossings_file_scores_counts_and_pairs_without_boxes(
    clip: GoldenClip, scored: EvalResult
) -> None:
    assert scored.tracking is None and scored.truth_format == "crossings"
    assert scored.classes == ("person",)  # what the truth labels
    (line,) = scored.lines
    assert {"in": line.truth.total_in, "out": line.truth.total_out} == clip.expected
    assert clip.expected == {"in": 3, "out": 1}
    assert scored.match_frames == 10  # one second of the 10 fps clip
    match = line.match
    assert match is not None
    assert match.caught + len(match.missed) == 4
    assert match.caught + len(match.spurious) == line.predicted.total_in + line.predicted.total_out
    assert match.caught >= 1, "the pipeline counted none of the scenario's crossings"
    # The counter confirms a crossing a few frames after the feet are first across, and
    # dates it when they stepped over the line: within a frame or two of the truth.
    for true, counted in match.matched:
        assert abs(counted.frame - true.frame) <= 2, (true, counted)
    errors = abs(line.error("in")) + abs(line.error("out"))
    assert scored.weighted_count_error == errors / 4
    report = scored.to_dict()
    assert report["tracking"] is None
    assert report["matching"] == {
        "caught": match.caught, "missed": len(match.missed), "spurious": len(match.spurious),
        "tolerance_frames": 10,
    }  # fmt: skip


def test_crossings_truth_and_mot_truth_agree_where_the_truths_do(
    clip: GoldenClip, scored: EvalResult
) -> None:
    mot = evaluate(clip.video, clip.ground_truth_file, [_line(clip)])
    assert mot.truth_format == "aistack" and mot.tracking is not None
    (by_crossings,), (by_tracks,) = scored.lines, mot.lines
    assert by_tracks.predicted.counts == by_crossings.predicted.counts  # one pipeline
    assert by_tracks.truth.counts == by_crossings.truth.counts  # two routes to one truth
    assert mot.weighted_count_error == scored.weighted_count_error


def test_a_miss_and_a_phantom_that_cancel_out_still_show(
    clip: GoldenClip, scored: EvalResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The truth is what the pipeline counts, with one crossing moved 3 s later: the counts
    # still agree exactly, but that crossing is now missed and the count spurious.
    (line,) = scored.lines
    assert line.match is not None
    counted = sorted([c for _, c in line.match.matched] + list(line.match.spurious))
    assert counted, "the pipeline counted nothing on the golden clip"
    moved = counted[0]
    later = Crossing("door", moved.frame + 30, moved.direction, moved.class_name)
    truth = write_crossings(tmp_path / "crossings.csv", [later, *counted[1:]])
    nowhere = "nowhere=0,0,5,0"  # given, never in the file: simply no true crossings
    code = main([str(clip.video), "--truth", str(truth), "--line", _line(clip),
                 "--line", nowhere, "--json"])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    door, empty = report["lines"]
    assert door["error"] == {"in": 0, "out": 0}  # the counts alone look perfect
    assert door["matching"]["caught"] == len(counted) - 1
    assert door["matching"]["missed_crossings"] == [
        {"frame": later.frame, "direction": later.direction, "class": "person"}
    ]
    assert door["matching"]["spurious_crossings"] == [
        {"frame": moved.frame, "direction": moved.direction, "class": "person"}
    ]
    assert empty["truth"] == {"in": 0, "out": 0} and empty["matching"]["caught"] == 0
    assert report["weighted_count_error"] == 0.0
    assert report["matching"]["missed"] == report["matching"]["spurious"] == 1


def test_table_has_counts_matching_and_no_tracking(scored: EvalResult) -> None:
    from aistack.cli.eval import format_table

    table = format_table(scored.to_dict())
    assert "HOTA" not in table and "crossings" in table
    assert "caught" in table and "spurious" in table
    assert f"weighted count error {scored.weighted_count_error:.3f}" in table


def test_lines_in_the_file_must_be_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = write_crossings(tmp_path / "crossings.csv", [
        Crossing("door", 5, "in"), Crossing("exit", 9, "out"), Crossing("gate", 9, "out"),
    ])  # fmt: skip
    clip = tmp_path / "never-opened.mp4"  # refused before the video is opened
    with pytest.raises(ConfigError, match=r"lines 'exit', 'gate' are in the file but not given"):
        evaluate(clip, lines=["door=0,10,100,10"], crossings=truth)
    assert main([str(clip), "--truth", str(truth), "--line", "door=0,10,100,10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"aistack: error: --truth {truth}: lines 'exit', 'gate'")
    assert "--line NAME=X1,Y1,X2,Y2" in err and "(given: door)" in err


def test_exactly_one_kind_of_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = write_crossings(tmp_path / "crossings.csv", [])
    with pytest.raises(ConfigError, match="exactly one"):
        evaluate(tmp_path / "clip.mp4", tmp_path / "gt.txt", crossings=truth)
    with pytest.raises(ConfigError, match="exactly one"):
        evaluate(tmp_path / "clip.mp4")
    for both_or_neither in (["--gt", "gt.txt", "--truth", str(truth)], []):
        with pytest.raises(SystemExit) as exit_:
            main([str(tmp_path / "clip.mp4"), *both_or_neither])
        assert exit_.value.code == 2
        assert "--gt" in capsys.readouterr().err


def test_crossings_past_the_clip_are_an_error_unless_the_run_was_cut(tmp_path: Path) -> None:
    camera = CameraConfig.model_validate(
        {"source": {"uri": "clip.mp4"}, "lines": [{"name": "door", "points": [0, 1, 2, 3]}]}
    )
    truth = crossings_truth(tmp_path / "c.csv", [Crossing("door", 5, "in"),
                                                 Crossing("door", 95, "out")], camera)  # fmt: skip
    with pytest.raises(SourceError, match=r"c\.csv: line 'door' has a crossing at frame 95, "
                                          r"beyond the clip's 90 frames"):  # fmt: skip
        truth.within(90, cut=False)
    assert [c.frame for c in truth.within(90, cut=True).crossings] == [5]
    assert [c.frame for c in truth.within(96, cut=False).crossings] == [5, 95]
