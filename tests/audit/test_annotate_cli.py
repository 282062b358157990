"""`aistack annotate` as a user runs it: the page, candidates.csv, --truth, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from aistack.cli.main import main
from aistack.evaluation.crossings import Crossing, read_crossings, write_crossings
from tests.audit.conftest import WALKWAY, AnnotateRun


def page_data(page: Path) -> dict[str, object]:
    text = page.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="audit-data">(.*?)</script>', text, re.S)
    assert match is not None
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_help_says_what_it_is_for_and_how_to_use_the_page(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["annotate", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for words in ("Audit the counts", "slit-scan strip", "candidate crossings", "Save downloads",
                  "crossings.csv", "examples:", "--truth", "--max-frames", "--out"):  # fmt: skip
        assert words in text, words


def test_the_run_writes_a_self_contained_page_and_the_candidates(annotate_run: AnnotateRun) -> None:
    page = annotate_run.page
    assert annotate_run.stdout.strip() == str(page.resolve())  # the page's path on stdout
    assert "walkway: 3 counted by aistack" in annotate_run.stderr
    assert f"open in a browser: {page.resolve().as_uri()}" in annotate_run.stderr
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text  # opens offline
    assert page.stat().st_size < 2_000_000
    assert page.stat().st_mode & 0o044  # readable as any file the user writes

    candidates = read_crossings(annotate_run.out / "candidates.csv")
    counted = [c for c in candidates if c.note.startswith("aistack track")]
    assert [(c.frame, c.direction) for c in counted] == [(12, "out"), (19, "out"), (64, "out")]
    assert all(c.line == "walkway" and c.class_name == "person" for c in candidates)

    data = page_data(page)
    assert data["frames"] == 80 and data["fps"] == 10.0 and data["firstFrame"] == 0
    (line,) = data["lines"]  # type: ignore[misc]
    assert line["name"] == "walkway"
    assert [c["frame"] for c in line["crossings"]] == [c.frame for c in candidates]
    assert {c["status"] for c in line["crossings"] if c["source"] == "aistack"} == {"counted"}
    for crossing in line["crossings"]:  # every candidate's own frame has its thumbnail
        assert str(crossing["frame"]) in line["thumbs"]


def test_a_truth_file_is_loaded_into_the_page_confirmed(short_clip: Path, tmp_path: Path) -> None:
    truth = write_crossings(
        tmp_path / "crossings.csv",
        [Crossing("walkway", 13, "out", "person", "seen"), Crossing("walkway", 25, "in", "dog")],
    )
    out = tmp_path / "again"
    code = main(["annotate", str(short_clip), "--line", WALKWAY, "--out", str(out),
                 "--truth", str(truth), "--max-frames", "30"])  # fmt: skip
    assert code == 0
    (line,) = page_data(out / "annotate.html")["lines"]  # type: ignore[misc]
    rows = {(c["frame"], c["direction"], c["cls"], c["status"], c["source"], c["note"])
            for c in line["crossings"]}  # fmt: skip
    assert (13, "out", "person", "confirmed", "aistack", "seen") in rows  # the count at 12
    assert (25, "in", "dog", "confirmed", "truth", "") in rows
    assert not any(r[0] == 12 for r in rows)  # replaced by the truth row, not shown twice
    # candidates.csv stays what was found: the truth is not a candidate.
    assert [c.frame for c in read_crossings(out / "candidates.csv")] == [12, 19]


def one_error_line(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["annotate", *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aistack: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_mistakes_are_one_line_before_the_clip_is_read(
    short_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = str(short_clip)
    assert "no such video file" in one_error_line(capsys, "missing.mp4", "--line", WALKWAY)
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    assert "cannot read this video" in one_error_line(capsys, str(not_video), "--line", WALKWAY)
    assert "--line 'door=1,2,3'" in one_error_line(capsys, clip, "--line", "door=1,2,3")
    assert "--line far: (2000, 10) to (2100, 10) lies outside the 768x576 picture" in (
        one_error_line(capsys, clip, "--line", "far=2000,10,2100,10")
    )
    a_file = tmp_path / "taken"
    a_file.write_text("")
    assert "is a file, not a folder" in one_error_line(
        capsys, clip, "--line", WALKWAY, "--out", str(a_file)
    )
    assert "cannot write there" in one_error_line(
        capsys, clip, "--line", WALKWAY, "--out", str(a_file / "below")
    )
    assert "no such crossings file" in one_error_line(
        capsys, clip, "--line", WALKWAY, "--out", str(tmp_path / "o"), "--truth", "none.csv"
    )
    other = write_crossings(tmp_path / "other.csv", [Crossing("gate", 3, "in")])
    assert "line(s) gate are not among the --line names" in one_error_line(
        capsys, clip, "--line", WALKWAY, "--out", str(tmp_path / "o"), "--truth", str(other)
    )
    assert "--max-frames" in one_error_line(capsys, clip, "--line", WALKWAY, "--max-frames", "0")


def test_usage_mistakes_exit_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    for args in (["annotate", "clip.mp4"], ["annotate", "missing.mp4", "--line", WALKWAY]):
        result = subprocess.run(
            [sys.executable, "-m", "aistack", *args], capture_output=True, text=True,
            timeout=120, cwd=tmp_path, check=False,
        )  # fmt: skip
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("aistack: error: ")
    assert not any(tmp_path.iterdir())  # nothing written for a clip that does not exist
