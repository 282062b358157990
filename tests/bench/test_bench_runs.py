"""The kept benchmark runs, read back and plotted across runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aistack import bench_history, bench_history_figure
from aistack.errors import ConfigError

BENCH = Path(__file__).resolve().parents[2] / "experiments" / "bench"


@pytest.fixture()
def kept(tmp_path: Path) -> Path:
    """The full runs committed under experiments/bench, copied so a test may add to them."""
    runs = sorted(BENCH.glob("bench-*.json"))
    assert len(runs) >= 2, "experiments/bench should keep every full run"
    for path in runs:
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_every_run_is_read_in_time_order_with_its_targets(kept: Path) -> None:
    history = bench_history(kept)
    runs = sorted(p.name for p in kept.glob("bench-*.json"))
    assert list(dict.fromkeys(history["run"])) == runs
    assert history["when"].is_monotonic_increasing
    newest = json.loads((kept / runs[-1]).read_text())["results"]
    row = history[
        (history["run"] == runs[-1]) & (history["benchmark"] == "pipeline FPS / bare model FPS")
    ]
    assert row["measured"].item() == newest["pipeline"]["ratio_pipeline_over_bare"]
    assert row["meets"].item() == (row["measured"].item() >= row["target"].item())


def test_quick_runs_are_left_out_unless_asked(kept: Path) -> None:
    newest = sorted(kept.glob("bench-*.json"))[-1]
    data = json.loads(newest.read_text())
    data["quick"] = True
    (kept / "bench-29990101T000000Z.json").write_text(json.dumps(data))
    assert "bench-29990101T000000Z.json" not in set(bench_history(kept)["run"])
    assert "bench-29990101T000000Z.json" in set(bench_history(kept, include_quick=True)["run"])


def test_a_broken_file_is_named_in_one_clear_error(kept: Path) -> None:
    (kept / "bench-29990101T000000Z.json").write_text('{"results": ')
    with pytest.raises(ConfigError, match=r"bench-29990101T000000Z\.json: cannot read"):
        bench_history(kept)


def test_a_run_with_no_time_is_named(kept: Path) -> None:
    data = json.loads(sorted(kept.glob("bench-*.json"))[-1].read_text())
    del data["when"]
    (kept / "bench-mine.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"bench-mine\.json: no 'when'"):
        bench_history(kept)


def test_the_figure_has_a_panel_and_a_point_per_run_for_each_benchmark(kept: Path) -> None:
    history = bench_history(kept)
    figure = bench_history_figure(history)
    traces = [trace for trace in figure.data if trace.type == "scatter"]
    assert len(traces) == history["benchmark"].nunique()
    total = sum(len(trace.y) for trace in traces)
    assert total == len(history)
    assert len(figure.layout.shapes) == len(traces)  # each panel's dashed target line


def test_no_runs_is_an_empty_figure_that_says_so(tmp_path: Path) -> None:
    history = bench_history(tmp_path)
    assert history.empty
    figure = bench_history_figure(history)
    assert "No full benchmark runs" in figure.layout.annotations[0].text
