"""`aistack bench accuracy`: fixed cases, scaled copies, the weighted error and its files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from aistack.bench.accuracy.cases import GRID_LINES, find_cases, scaled_copy
from aistack.bench.accuracy.report import markdown, weighted_error
from aistack.data import DEMO_CLIP

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / "PETS09-S2L1" / "gt.txt").is_file(),
    reason=f"the accuracy dev set is not here ({DATA}; it lives in ../shared/data)",
)


def _line(name: str, true_in: int, counted_in: int, true_out: int, counted_out: int) -> dict:
    return {
        "name": name,
        "in": {"truth": true_in, "counted": counted_in},
        "out": {"truth": true_out, "counted": counted_out},
    }


def test_weighted_error_sums_absolute_errors_over_lines_and_directions() -> None:
    runs = [
        {"lines": [_line("a", 10, 12, 5, 5)]},  # |12-10| + |5-5| = 2 of 15
        {"lines": [_line("b", 4, 1, 1, 3)]},  # |1-4| + |3-1| = 5 of 5
    ]
    assert weighted_error(runs) == pytest.approx(round(100 * 7 / 20, 1))
    # Over- and under-counts never cancel, on one line or across lines.
    assert weighted_error([{"lines": [_line("c", 2, 4, 2, 0)]}]) == 100.0
    assert weighted_error([{"lines": [_line("d", 0, 0, 0, 0)]}]) is None


def test_every_case_says_why_it_cannot_run_without_the_data(tmp_path: Path) -> None:
    cases = find_cases(tmp_path / "nowhere", truth_dir=tmp_path / "no-truth")
    assert [c.name for c in cases] == [
        "pets-s2l1", "pets-s2l1-x0.5", "pets-s2l1-x0.35", "MOT1601raw", "MOT1608raw",
    ]  # fmt: skip
    assert all(c.missing and "not found" in c.missing for c in cases)
    assert all(c.lines == GRID_LINES for c in cases[:3])


def test_without_any_data_the_command_is_one_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "bench", "accuracy", "--quick",
         "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("aistack: error:")]
    assert len(errors) == 1 and "no accuracy case can run here" in errors[0]
    assert "Traceback" not in result.stderr


def test_an_unknown_case_is_named(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "bench", "accuracy", "--case", "plaza",
         "--data", str(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown accuracy case plaza" in result.stderr and "pets-s2l1" in result.stderr


@needs_data
def test_a_scaled_case_shrinks_the_frames_and_the_boxes_alike(tmp_path: Path) -> None:
    (case,) = [c for c in find_cases(DATA) if c.name == "pets-s2l1-x0.5"]
    scaled = scaled_copy(case, cache=tmp_path)
    capture = cv2.VideoCapture(str(scaled.clip))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, image = capture.read()
    capture.release()
    source = cv2.VideoCapture(str(DEMO_CLIP))
    width, height = source.get(cv2.CAP_PROP_FRAME_WIDTH), source.get(cv2.CAP_PROP_FRAME_HEIGHT)
    source_frames = int(source.get(cv2.CAP_PROP_FRAME_COUNT))
    source.release()
    assert ok and image.shape[:2] == (round(height * 0.5), round(width * 0.5))
    assert frames == source_frames
    original = case.truth.read_text().splitlines()[0].split(",")
    copied = scaled.truth.read_text().splitlines()[0].split(",")
    assert copied[:2] == original[:2]  # same frame and identity
    for a, b in zip(original[2:6], copied[2:6], strict=True):
        assert float(b) == pytest.approx(float(a) * 0.5, abs=0.01)
    assert scaled_copy(case, cache=tmp_path).clip == scaled.clip  # cached, not rebuilt


@needs_data
@pytest.mark.slow
def test_quick_accuracy_run_writes_json_markdown_and_plot(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "bench", "accuracy", "--quick",
         "--case", "pets-s2l1-x0.35", "--setting", "balanced", "--data", str(DATA),
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (json_path,) = tmp_path.glob("accuracy-*.json")
    data = json.loads(json_path.read_text())
    (run,) = data["runs"]
    assert run["case"] == "pets-s2l1-x0.35" and run["frames"] == 90
    assert [line["name"] for line in run["lines"]] == [g.split("=")[0] for g in GRID_LINES]
    assert run["count_error_pct"] == weighted_error([run])
    matching = run["matching"]
    assert matching["caught"] + matching["missed"] == run["truth_total"]
    assert matching["caught"] + matching["spurious"] == run["counted_total"]
    assert 0 <= run["tracking"]["HOTA"] <= 1 and run["fps"] > 0
    text = (tmp_path / "accuracy-latest-quick.md").read_text()
    assert text == markdown(data) and text.strip() in result.stdout
    png = tmp_path / "accuracy-latest-quick.png"
    pytest.importorskip("matplotlib")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
