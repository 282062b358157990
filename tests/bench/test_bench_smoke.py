"""`aistack bench --quick` runs every suite and writes its files (timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aistack.bench.suites import SUITES


@pytest.mark.slow
def test_quick_bench_writes_json_and_markdown(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "bench", "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (json_path,) = tmp_path.glob("bench-*.json")
    data = json.loads(json_path.read_text())
    assert set(data["results"]) == set(SUITES)
    assert data["machine"]["cores"] >= 1 and "gpus" in data["machine"]
    results = data["results"]
    assert results["pipeline"]["ratio_pipeline_over_bare"] > 0
    assert results["cameras"]["ratio_batched_over_independent"] > 0
    assert results["latency"]["latency_p95_over_model"] > 0
    assert results["overload"]["frames_counted"] > 0
    assert results["stores"]["sqlite"]["events_per_second"] > 0
    assert results["ultralytics"]["1_stream"]["ratio"] > 0
    assert results["memory"]["frames"] == 500
    markdown = (tmp_path / "latest-quick.md").read_text()
    assert markdown == result.stdout.strip() + "\n" or markdown.strip() in result.stdout
    assert markdown.count("\n|") >= 8  # one row per figure
