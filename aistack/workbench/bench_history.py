"""How the benchmark figures moved between runs: every kept bench-*.json, side by side.

One run's figures on a shared machine say little alone; every full run is kept
under experiments/bench/, and the spread between them is what shows whether a
figure clears its target or sits on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from aistack.errors import ConfigError
from aistack.workbench.analysis import MEETS_COLOR, MISSES_COLOR, _empty, target_line, target_panels
from aistack.workbench.notebook_data import BENCH_COLUMNS, bench_ratios

HISTORY_COLUMNS = ("when", "run", *BENCH_COLUMNS)


def bench_history(bench_dir: str | Path, include_quick: bool = False) -> pd.DataFrame:
    """Every run's figures with their targets, oldest run first, as HISTORY_COLUMNS.

    Quick (smoke) runs are left out unless asked for: their few frames make
    figures that do not compare with full runs. A file that is not readable
    bench results is a ConfigError naming it.
    """
    frames = []
    for path in sorted(Path(bench_dir).glob("bench-*.json")):
        data = _read(path)
        if data.get("quick") and not include_quick:
            continue
        ratios = bench_ratios(data).reset_index()
        if ratios.empty:
            continue
        ratios.insert(0, "run", path.name)
        ratios.insert(0, "when", _when(path, data))
        frames.append(ratios)
    if not frames:
        return pd.DataFrame({column: [] for column in HISTORY_COLUMNS})
    history = pd.concat(frames, ignore_index=True)
    history["when"] = pd.to_datetime(history["when"], utc=True)
    # Stable: within a run, rows keep bench_ratios' order (pipeline first).
    return history.sort_values("when", kind="stable", ignore_index=True)[list(HISTORY_COLUMNS)]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the bench results: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not bench results (a JSON object with 'results')")
    return data


def _when(path: Path, data: dict[str, Any]) -> pd.Timestamp:
    """The run's 'when', or the time in its bench-YYYYmmddTHHMMSSZ.json name."""
    text = data.get("when") or path.stem.removeprefix("bench-")
    try:
        return pd.Timestamp(text)
    except ValueError:
        raise ConfigError(f"{path}: no 'when' and no time in the name ({text!r})") from None


def bench_history_figure(history: pd.DataFrame) -> go.Figure:
    """One panel per benchmark: each run's figure over time, green where it met the target
    (dashed line), red where not."""
    title = "Benchmarks across runs"
    if history.empty:
        return _empty(title, "No full benchmark runs kept yet")
    names = list(dict.fromkeys(history["benchmark"]))  # in order of first appearance
    figure, places = target_panels(names, 3, (0.25, 0.4), 40)
    for place, name in zip(places, names, strict=True):
        runs = history[history["benchmark"] == name]
        last = runs.iloc[-1]
        colors = [MEETS_COLOR if meets else MISSES_COLOR for meets in runs["meets"]]
        figure.add_scatter(
            x=runs["when"], y=runs["measured"], mode="lines+markers", **place,
            showlegend=False, line={"color": "#9aa3b2", "width": 1},
            marker={"size": 9, "color": colors},
            customdata=runs["run"],
            hovertemplate=f"%{{y:,.4g}} {last['unit']}<br>%{{customdata}}<extra></extra>",
        )  # fmt: skip
        target_line(figure, last["target"], str(last["better"]), place)
        figure.update_yaxes(title_text=str(last["unit"]), **place)
    figure.update_annotations(font_size=12)
    figure.update_layout(title=title, height=120 + 300 * places[-1]["row"])
    return figure
