"""The `aistack` command end to end, as a user runs it: real clip, real model, real store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from aistack.data import DEMO_CLIP
from tests.clips import write_clip


def aistack(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aistack", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 150 frames of the bundled clip: people walk across the middle."""
    path = tmp_path_factory.mktemp("clips") / "vtest150.mp4"
    return write_clip(path, 150)


def test_help_explains_commands_and_direction() -> None:
    result = aistack("--help")
    assert result.returncode == 0
    for word in ("count", "run", "demo", "bench", '"in"'):
        assert word in result.stdout
    count_help = aistack("count", "--help").stdout
    assert "--line" in count_help and "fractions" in count_help and "--json" in count_help


def test_count_json_is_one_object_with_plausible_counts(short_clip: Path, tmp_path: Path) -> None:
    store = tmp_path / "events.sqlite"
    result = aistack(
        "count", str(short_clip), "--line", "walkway=0.62,0.8,0.62,0.3",
        "--line", "0,0.55,1,0.55", "--classes", "people", "--json", "--store", str(store),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert set(data) == {"source", "frames", "seconds", "fps", "lines"}
    assert data["frames"] == 150 and data["fps"] > 0 and data["seconds"] > 0
    walkway, second = data["lines"]
    assert walkway["name"] == "walkway" and second["name"] == "line2"
    assert walkway["points"] == [476.16, 460.8, 476.16, 172.8]
    # People walk both ways along the path in these 15 s; a handful cross.
    assert 1 <= walkway["in"] + walkway["out"] <= 15
    assert set(walkway["by_class"]) <= {"person"}
    assert sum(c["in"] for c in walkway["by_class"].values()) == walkway["in"]
    with sqlite3.connect(store) as db:
        stored = db.execute("SELECT COUNT(*) FROM events WHERE kind = 'crossing'").fetchone()[0]
    assert stored == sum(line["in"] + line["out"] for line in data["lines"])


def test_count_prints_a_table_without_json(short_clip: Path) -> None:
    result = aistack("count", str(short_clip), "--line", "door=0.62,0.8,0.62,0.3")
    assert result.returncode == 0, result.stderr
    assert "150 frames" in result.stdout and "door" in result.stdout


def _assert_one_clear_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aistack: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    _assert_one_clear_error(aistack("count", str(missing)), str(missing), "no such video file")


def test_corrupt_video(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    _assert_one_clear_error(aistack("count", str(corrupt)), "corrupt.mp4", "cannot read")


def test_unreachable_url() -> None:
    result = aistack("count", "rtsp://admin:hunter2@127.0.0.1:9/stream", timeout=60)
    _assert_one_clear_error(result, "connection refused", "rtsp://admin:***@127.0.0.1:9/stream")
    assert "hunter2" not in result.stderr


def test_unknown_class(short_clip: Path) -> None:
    _assert_one_clear_error(
        aistack("count", str(short_clip), "--classes", "person,unicorn"), "--classes", "unicorn"
    )


def test_unknown_model(short_clip: Path) -> None:
    _assert_one_clear_error(aistack("count", str(short_clip), "--model", "nosuch.pt"), "nosuch.pt")
    _assert_one_clear_error(aistack("count", str(short_clip), "--model", "resnet"), "resnet")


@pytest.mark.parametrize("line", ["1,2,3", "a,b,c,d", "0,0,0,0", "-1,0,5,5"])
def test_malformed_line(short_clip: Path, line: str) -> None:
    _assert_one_clear_error(aistack("count", str(short_clip), f"--line={line}"), "--line")


def test_usage_mistakes_are_one_line_too() -> None:
    _assert_one_clear_error(aistack("count"), "SOURCE", "aistack count --help")
    _assert_one_clear_error(aistack("count", "x.mp4", "--line"), "--line")


def test_unknown_config_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(f"cameras:\n  - name: a\n    source: {{uri: {DEMO_CLIP}}}\n    linez: []\n")
    _assert_one_clear_error(aistack("run", str(config)), "bad.yaml:4", "linez")


@pytest.mark.slow
def test_demo_writes_a_report_and_a_store(tmp_path: Path) -> None:
    result = aistack("demo", "--out", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    report = Path(result.stdout.strip().splitlines()[-1])
    assert report == (tmp_path / "demo" / "report.html").resolve()
    html = report.read_text()
    assert "plotly" in html and "data:image/jpeg;base64," in html
    with sqlite3.connect(tmp_path / "demo" / "aistack.sqlite") as db:
        crossings = db.execute("SELECT COUNT(*) FROM events WHERE kind='crossing'").fetchone()[0]
    assert crossings > 0
    assert (tmp_path / "demo" / "annotated.jpg").stat().st_size > 10_000


def test_one_push_url_for_several_cameras_is_one_line(short_clip: Path, tmp_path: Path) -> None:
    config = tmp_path / "two.yaml"
    config.write_text(
        "cameras:\n"
        f"  - {{name: a, source: {{uri: '{short_clip}'}}}}\n"
        f"  - {{name: b, source: {{uri: '{short_clip}'}}}}\n"
        "metrics: {enabled: false}\n"
        f"store: {{path: '{tmp_path / 'events.sqlite'}'}}\n"
        "live_view: {push_url: 'rtsp://127.0.0.1:8554/annotated'}\n"
    )
    result = aistack("run", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "'{camera}'" in result.stderr
