"""The experiment scripts behind docs/benchmarks.md still run (small settings, no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> None:
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, timeout=600)


def test_profile_writes_hot_spots_threads_and_fix_ratios(tmp_path: Path) -> None:
    _run("experiments/profile_pipeline.py", "--frames", "40", "--quick", "--out", str(tmp_path))
    data = json.loads((tmp_path / "profile.json").read_text())
    assert data["hot_spots"] and all(row["calls"] > 0 for row in data["hot_spots"])
    threads = data["cpu_ms_per_frame_by_thread"]
    assert any(name.startswith("aistack-infer") for name in threads)
    fixes = data["fixes"]
    assert fixes["yolo_letterbox_old_over_new"] > 0
    assert fixes["read_ahead"]["lanes_with_read_ahead"] >= 1
    assert "Fixes, old against new" in (tmp_path / "profile.md").read_text()


def test_ab_checkouts_compares_two_trees(tmp_path: Path) -> None:
    _run("experiments/ab_checkouts.py", ".", ".", "--rounds", "1", "--frames", "30",
         "--out", str(tmp_path))  # fmt: skip
    data = json.loads((tmp_path / "ab.json").read_text())
    assert len(data["before_fps"]) == len(data["after_fps"]) == 1
    assert data["before_fps"][0] > 0 and data["after_fps"][0] > 0
    assert "after / before" in (tmp_path / "ab.md").read_text()
