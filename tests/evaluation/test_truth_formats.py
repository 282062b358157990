"""Ground-truth formats: MOT15, MOT16 and aistack's own files read as what they are, or refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from aistack.cli.eval import GT_FORMATS, main
from aistack.errors import ConfigError
from aistack.evaluation.ground_truth import FORMAT_CHOICES, MOT_CLASSES
from aistack.evaluation.mot import load_ground_truth, parse_gt_classes

# Real MOT15 rows (PETS09-S2L1's first frame): world coordinates in the last three
# columns, which a class column reading takes for classes 3 (car), 4 (bicycle) and so on.
MOT15 = (
    "1,9,499,158,31.03,75.17,1,-4.1554,-7.3591,0\n"
    "1,15,258,219,32.913,88.702,1,3.306,-5.5995,0\n"
    "2,19,633,242,42.338,81.074,1,4.0323,12.587,0\n"
    "2,9,497,158,31.03,75.17,1,-1,-1,-1\n"
)
# MOT16/17 rows: a pedestrian, a static person and a distractor (ignored), and a car.
MOT16 = (
    "1,1,10,10,20,40,1,1,0.9\n"
    "1,2,50,10,20,40,0,7,1\n"
    "1,3,90,10,20,40,0,8,0.5\n"
    "2,4,200,10,60,30,0,3,1\n"
)


def _gt(tmp_path: Path, text: str, name: str = "gt.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_mot15_is_read_as_pedestrians_whatever_its_world_coordinates(tmp_path: Path) -> None:
    truth = load_ground_truth(_gt(tmp_path, MOT15))
    assert truth.format == "mot15"
    assert truth.boxes.class_names() == ["person"]
    assert len(truth.boxes) == 4 and len(truth.ignored) == 0
    assert truth.boxes.frame.tolist() == [0, 0, 1, 1]  # 1-based in the file
    assert truth.boxes.xyxy[0].tolist() == pytest.approx([499, 158, 530.03, 233.17])
    assert load_ground_truth(_gt(tmp_path, MOT15), gt_format="mot15").boxes.class_names() == [
        "person"
    ]


def test_mot16_uses_motchallenge_labels(tmp_path: Path) -> None:
    truth = load_ground_truth(_gt(tmp_path, MOT16), gt_format="mot16")
    assert truth.format == "mot16"
    assert truth.boxes.class_names() == ["person"]  # the car has conf 0: not evaluated
    assert truth.ignored.track_id.tolist() == [2, 3]  # static person and distractor
    # --gt-classes mot says the same thing about a 9-column file.
    assert load_ground_truth(_gt(tmp_path, MOT16), parse_gt_classes("mot")).format == "mot16"


def test_aistack_files_are_coco_plus_one_with_six_to_nine_columns(tmp_path: Path) -> None:
    for text, classes in [
        ("1,1,10,20,30,40\n2,1,12,20,30,40\n", ["person"]),
        ("1 1 10 20 30 40 1\n2 1 12 20 30 40 0\n", ["person"]),  # spaces; conf 0 not scored
        ("1,1,10,20,30,40,1,6\n", ["bus"]),
        ("1,1,10,20,30,40,1,1,1\n1,2,10,20,30,40,1,-1,1\n", ["person"]),  # -1: no class
    ]:
        truth = load_ground_truth(_gt(tmp_path, text))
        assert (truth.format, truth.boxes.class_names()) == ("aistack", classes), text
    truth = load_ground_truth(_gt(tmp_path, "1,1,10,20,30,40,1,6,1\n"), gt_format="aistack")
    assert truth.boxes.class_names() == ["bus"]
    assert MOT_CLASSES[1] == "person" and parse_gt_classes("1=pedestrian,7=ignore") == {
        1: "person", 7: "ignore",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("content", "gt_format", "message"),
    [
        # 9 columns whose classes mean different things in MOT16 and COCO + 1.
        (MOT16, "auto", r"gt\.txt: 9 columns fit two formats.*class 7: static person in MOT16, "
                        r"train in COCO \+ 1.*--gt-format mot16.*--gt-format aistack"),
        # Rows of different lengths could be two formats pasted together.
        (MOT15 + "3,9,495,158,31,75,1,1,1\n", "auto",
         r"gt\.txt:5: 9 columns, but line 1 has 10: .*different formats.*--gt-format"),
        # An explicit format that does not fit the file.
        (MOT15, "mot16", r"gt\.txt:1: expected 9 numbers frame,id,x,y,w,h,conf,class,visibility "
                         r"\(--gt-format mot16\), got '1,9,499"),
        (MOT16, "mot15", r"gt\.txt:1: expected 10 numbers .*wx,wy,wz \(--gt-format mot15\)"),
        ("1,1,10,20,30,40,1,1,1\n1,1,10,20,30\n", "auto", r"gt\.txt:2: expected 6 to 10"),
        ("1,1,10,20,30,40\nframe,id,x,y,w,h\n", "auto", r"gt\.txt:2: expected 6 to 10"),
        ("1,1,10,20,30,40,1,nan,1\n", "auto", r"gt\.txt:1: expected 6 to 10"),
        ("0,1,10,20,30,40\n", "auto", r"gt\.txt:1: frame must be an integer >= 1"),
        ("1.5,1,10,20,30,40\n", "auto", r"gt\.txt:1: frame must be an integer"),
        ("1,1,10,20,-3,40\n", "auto", r"gt\.txt:1: box width and height"),
        ("1,1,10,20,30,40\n1,1,50,20,30,40\n", "auto", r"gt\.txt:2: id 1 appears twice in frame 1"),
        ("1,1,10,20,30,40,1,2.5,1\n", "aistack", r"gt\.txt:1: class 2\.5 is not a whole number"),
        ("1,1,10,20,30,40,1,99,1\n", "aistack",
         r"gt\.txt:1: class 99 is not a COCO id \+ 1.*--gt-format mot16"),
        ("\n\n", "auto", r"no rows"),
        ("1,1,10,20,30,40\n", "mot17", r"--gt-format 'mot17': expected one of auto, mot15"),
    ],
)  # fmt: skip
def test_ambiguous_or_malformed_files_are_refused_in_one_line(
    content: str, gt_format: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_ground_truth(_gt(tmp_path, content), gt_format=gt_format)
    assert "\n" not in str(error.value)


def test_class_maps_do_not_apply_to_mot15(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--gt-classes: .*mot15 .*no class column"):
        load_ground_truth(_gt(tmp_path, MOT15), parse_gt_classes("mot"))


def test_cli_refuses_an_ambiguous_file_with_one_line_naming_gt_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt = _gt(tmp_path, MOT16)
    # The file is refused before any video is opened: the clip need not exist.
    assert main([str(tmp_path / "clip.mp4"), "--gt", str(gt)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"aistack: error: {gt}: 9 columns fit two formats")
    assert "--gt-format mot16" in captured.err

    broken = _gt(tmp_path, MOT15 + "3,9,495\n", "broken.txt")
    assert main([str(tmp_path / "clip.mp4"), "--gt", str(broken), "--gt-format", "mot15"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"aistack: error: {broken}:5: expected 10 numbers") and err.count("\n") == 1
    )


def test_cli_offers_the_formats_evaluation_knows() -> None:
    assert GT_FORMATS == FORMAT_CHOICES
