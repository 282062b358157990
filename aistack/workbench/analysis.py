"""Plotly figures and tables for the workbench notebooks, built from the stores' DataFrames.

Every figure takes the store's columns (aistack.stores.sqlite.COUNT_COLUMNS, EVENT_COLUMNS),
so it draws the same whether the data came from SQLite, InfluxDB or Prometheus.
"""

from __future__ import annotations

import math
import textwrap
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from aistack.errors import ConfigError
from aistack.stores.sqlite import TimeLike, check_interval

# Tableau 10, as in the demo report: distinct hues that stay readable in grey.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
GRAFANA_DASHBOARD = "aistack-overview"
OFFLINE_RENDERER = "aistack_offline"
# Bins the "auto" interval picks from: about AUTO_BINS of them across the data.
_NICE_INTERVALS = (
    "1s", "2s", "5s", "10s", "15s", "30s", "1min", "2min", "5min", "10min", "15min", "30min",
    "1h", "2h", "3h", "6h", "12h", "1D", "7D",
)  # fmt: skip
AUTO_BINS = 40
PERFORMANCE_COLUMNS = ("time", "series", "value")


class _OfflineNotebookRenderer(pio.base_renderers.NotebookRenderer):  # type: ignore[misc]
    """plotly's `notebook` renderer, minus the MathJax it fetches from a CDN for every figure.

    It inlines plotly.js once per kernel, in the output of the first figure, so a
    notebook exported to HTML draws its figures with no network.
    """

    def to_mimebundle(self, fig_dict: Any) -> dict[str, str]:
        html = pio.to_html(
            fig_dict, config=self.config, include_plotlyjs=False, include_mathjax=False,
            full_html=False, default_width="100%", default_height=460, validate=False,
        )  # fmt: skip
        return {"text/html": html}


def use_offline_plotly() -> None:
    """Show figures so that JupyterLab draws them and an HTML export works offline.

    JupyterLab uses the plotly mimetype; nbconvert uses the HTML, whose plotly.js
    is inlined once. Calling this again changes nothing (and inlines nothing twice).
    """
    if OFFLINE_RENDERER not in pio.renderers:
        pio.renderers[OFFLINE_RENDERER] = _OfflineNotebookRenderer()
    wanted = f"plotly_mimetype+{OFFLINE_RENDERER}"
    if pio.renderers.default != wanted:
        pio.renderers.default = wanted


def resolve_interval(interval: str, times: pd.Series | None) -> str:
    """`interval` itself, or for "auto" a round bin giving about AUTO_BINS across `times`."""
    if interval != "auto":
        return check_interval(interval)
    if times is None or times.empty:
        return "10s"
    span = (times.max() - times.min()).total_seconds()
    for candidate in _NICE_INTERVALS:
        if span / pd.Timedelta(candidate).total_seconds() <= AUTO_BINS:
            return candidate
    return _NICE_INTERVALS[-1]


def _empty(title: str, message: str) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, font={"size": 15, "color": "#5b6473"})
    figure.update_layout(title=title, height=260, xaxis_visible=False, yaxis_visible=False)
    return figure


def _colors(names: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(names)))}


def _time_axis(counts: pd.DataFrame, interval: str) -> tuple[pd.Timedelta, list[pd.Timestamp]]:
    """The bin width, and an x range covering every bin whole (a lone bin stays readable)."""
    width = pd.Timedelta(pd.tseries.frequencies.to_offset(interval).nanos, unit="ns")
    first, last = counts["time"].min(), counts["time"].max() + width
    pad = max((last - first) * 0.02, width * 0.25)
    return width, [first - pad, last + pad]


def counts_figure(counts: pd.DataFrame, interval: str) -> go.Figure:
    """Counts per interval, one panel per line or zone: `in` up, `out` down, a colour per class."""
    title = f"Counts per {interval} (UTC)"
    if counts.empty:
        return _empty(title, "Nothing counted in this time range")
    counters = counts[["camera", "line"]].drop_duplicates().sort_values(["camera", "line"])
    several = counts["camera"].nunique() > 1
    names = [f"{line} ({camera})" if several else str(line) for camera, line in counters.values]
    figure = make_subplots(
        rows=len(names), cols=1, shared_xaxes=True, subplot_titles=names, vertical_spacing=0.08
    )
    color = _colors(counts["class"].astype(str).tolist())
    width, x_range = _time_axis(counts, interval)
    shown: set[str] = set()
    for row, (camera, line) in enumerate(counters.values, start=1):
        part = counts[(counts["camera"] == camera) & (counts["line"] == line)]
        for (name, direction), group in part.groupby(["class", "direction"], sort=True):
            label = f"{name} {direction}"
            figure.add_bar(
                # A bar spans its whole bin: plotly would size a lone bar to nothing.
                x=group["time"] + width / 2, width=width.total_seconds() * 1000 * 0.9,
                y=-group["count"] if direction == "out" else group["count"],
                customdata=group["count"], name=label, legendgroup=label,
                showlegend=label not in shown, row=row, col=1,
                marker={"color": color[str(name)],
                        "pattern": {"shape": "/" if direction == "out" else ""}},
                hovertemplate=f"{label}: %{{customdata}}<extra></extra>",
            )  # fmt: skip
            shown.add(label)
        figure.update_yaxes(title_text="in ↑  out ↓", row=row, col=1)
    figure.update_xaxes(range=x_range, type="date")
    figure.update_layout(
        title=title, barmode="relative", height=160 + 240 * len(names),
        hovermode="x unified", legend={"orientation": "h", "y": -0.12},
    )  # fmt: skip
    return figure


def cumulative_figure(counts: pd.DataFrame, interval: str) -> go.Figure:
    """Running totals per line or zone and direction, stepping up at the end of each bin."""
    title = "Cumulative counts (UTC)"
    if counts.empty:
        return _empty(title, "Nothing counted in this time range")
    width, x_range = _time_axis(counts, interval)
    first, end = counts["time"].min(), counts["time"].max() + width
    figure = go.Figure()
    several = counts["camera"].nunique() > 1
    keys = counts[["camera", "line"]].drop_duplicates().sort_values(["camera", "line"])
    for i, (camera, line) in enumerate(keys.values):
        part = counts[(counts["camera"] == camera) & (counts["line"] == line)]
        for direction, group in part.groupby("direction", sort=True):
            per_bin = group.groupby("time")["count"].sum().sort_index().cumsum()
            where = f" ({camera})" if several else ""
            # From 0 at the first bin to the total at the last, so every line spans the chart.
            ends = [first, *(per_bin.index + width), end]
            totals = [0, *per_bin.values, per_bin.iloc[-1]]
            figure.add_scatter(
                x=ends, y=totals, mode="lines",
                name=f"{line}{where} {direction}",
                line={"shape": "hv", "width": 2.5, "color": PALETTE[i % len(PALETTE)],
                      "dash": "dash" if direction == "out" else "solid"},
            )  # fmt: skip
    figure.update_xaxes(range=x_range, type="date")
    figure.update_yaxes(rangemode="tozero", title_text="count")
    figure.update_layout(title=title, height=380, hovermode="x unified")
    return figure


def hour_of_day_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Counts by UTC date and hour of day, from events (one row each) or counts (`count`)."""
    title = "Counts by hour of day (UTC)"
    if frame.empty:
        return _empty(title, "Nothing counted in this time range")
    times = pd.to_datetime(frame["time"], utc=True)
    weights = frame["count"] if "count" in frame.columns else pd.Series(1, index=frame.index)
    table = (
        pd.DataFrame({"day": times.dt.strftime("%Y-%m-%d"), "hour": times.dt.hour, "n": weights})
        .pivot_table(index="day", columns="hour", values="n", aggfunc="sum", fill_value=0)
        .reindex(columns=range(24), fill_value=0)
        .sort_index()
    )
    values = table.to_numpy(dtype="int64")
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=[f"{h:02d}" for h in table.columns],
            y=list(table.index),
            colorscale="Blues",
            text=np.where(values > 0, values.astype(str), ""),
            texttemplate="%{text}",
            hovertemplate="%{y} %{x}:00 UTC: %{z}<extra></extra>",
            colorbar={"title": {"text": "count"}},
        )
    )
    figure.update_layout(
        title=title, xaxis_title="hour of day", height=max(280, 180 + 40 * len(table)),
        yaxis_type="category",
    )  # fmt: skip
    return figure


@dataclass(frozen=True)
class Performance:
    """Frames per second and latency over time, each as PERFORMANCE_COLUMNS; `where` says whence."""

    fps: pd.DataFrame
    latency_ms: pd.DataFrame
    where: str
    per_run: bool = False  # `time` names a run instead: one bar each


def _performance_frame(rows: Mapping[str, Any] | None = None) -> pd.DataFrame:
    return pd.DataFrame(rows or {column: [] for column in PERFORMANCE_COLUMNS})


def frame_rate(seconds: Sequence[float], window: float = 1.0) -> pd.DataFrame:
    """Frames per second in `window`-long bins, from each frame's seconds since the run began."""
    if not seconds:
        return _performance_frame()
    values = np.asarray(seconds, dtype="float64")
    bins = np.floor(values / window).astype("int64")
    counted = np.bincount(bins)
    ends = np.arange(len(counted), dtype="float64") * window + window
    # The last bin is cut short by the end of the run: divide by the part it covers.
    widths = np.full(len(counted), window)
    widths[-1] = max(values.max() - (len(counted) - 1) * window, 1e-3)
    return _performance_frame(
        {"time": ends, "series": ["frames"] * len(counted), "value": counted / widths}
    )


def runs_performance(runs: pd.DataFrame) -> Performance:
    """FPS of each finished run in a SQLite store's `runs()`; runs record no latency."""
    records = zip(runs["id"], runs["started"], runs["summary"], strict=True)
    rows = [
        (f"run {run_id}, {started:%Y-%m-%d %H:%M} UTC", "fps", float(summary["fps"]))
        for run_id, started, summary in records
        if isinstance(summary, Mapping) and "fps" in summary
    ]
    fps = pd.DataFrame(rows, columns=list(PERFORMANCE_COLUMNS))
    return Performance(fps, _performance_frame(), "the run summaries in the store", per_run=True)


def prometheus_performance(
    url: str, start: TimeLike, end: TimeLike, step: str = "15s"
) -> Performance:
    """Processed FPS per camera and p95 capture-to-count latency, read back from Prometheus."""
    from aistack.stores.prometheus import PrometheusStore

    window = "1m"
    queries = {
        "fps": f"sum by (camera) (rate(aistack_frames_total[{window}]))",
        "latency": "1000 * histogram_quantile(0.95, sum by (camera, le) "
        f"(rate(aistack_end_to_end_latency_seconds_bucket[{window}])))",
    }
    with PrometheusStore(url) as prometheus:
        frames = {name: prometheus.range(q, start, end, step) for name, q in queries.items()}

    def tidy(frame: pd.DataFrame) -> pd.DataFrame:
        series = frame["camera"] if "camera" in frame.columns else pd.Series("all", frame.index)
        tidy = pd.DataFrame({"time": frame["time"], "series": series, "value": frame["value"]})
        finite: pd.DataFrame = tidy[np.isfinite(tidy["value"])]
        return finite.reset_index(drop=True)

    return Performance(tidy(frames["fps"]), tidy(frames["latency"]), f"Prometheus at {url}")


def fps_latency_figure(performance: Performance, x_title: str = "time (UTC)") -> go.Figure:
    """FPS above, latency (ms) below, one trace per camera or run."""
    has_latency = not performance.latency_ms.empty
    rows = 2 if has_latency else 1
    titles = ["frames per second", "latency p95 (ms)"][:rows]
    figure = make_subplots(rows=rows, cols=1, shared_xaxes=True, subplot_titles=titles)
    parts = [performance.fps, performance.latency_ms][:rows]
    for row, part in enumerate(parts, start=1):
        for i, (name, group) in enumerate(part.groupby("series", sort=True)):
            color = PALETTE[i % len(PALETTE)]
            if performance.per_run:
                figure.add_bar(
                    x=group["time"], y=group["value"], name=str(name), row=row, col=1,
                    marker_color=color, text=[f"{v:.1f}" for v in group["value"]],
                )  # fmt: skip
                continue
            figure.add_scatter(
                x=group["time"], y=group["value"], name=str(name), row=row, col=1,
                mode="lines+markers" if len(group) < 30 else "lines",
                line={"color": color}, showlegend=row == 1,
            )  # fmt: skip
    if performance.fps.empty:
        figure.add_annotation(text="No FPS recorded", showarrow=False, row=1, col=1)
    figure.update_xaxes(title_text="run" if performance.per_run else x_title, row=rows, col=1)
    figure.update_yaxes(rangemode="tozero")
    figure.update_layout(
        title=f"Throughput, from {performance.where}", height=300 + 220 * (rows - 1),
        hovermode="x unified", showlegend=performance.fps["series"].nunique() > 1,
    )  # fmt: skip
    return figure


def _millis(value: TimeLike) -> int:
    if isinstance(value, int | float):
        return round(float(value) * 1000)
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        raise ConfigError(f"cannot read {value!r} as a time")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return math.floor(stamp.timestamp() * 1000)


def grafana_link(
    base_url: str, dashboard_uid: str, start: TimeLike, end: TimeLike, **variables: str
) -> str:
    """The dashboard's URL showing start..end (numbers are seconds since the epoch)."""
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"grafana_url must start with http:// or https://, got {base_url!r}")
    start_ms, end_ms = _millis(start), _millis(end)
    if end_ms <= start_ms:
        end_ms = start_ms + 60_000  # Grafana shows nothing for an empty range
    query = {"from": str(start_ms), "to": str(end_ms)}
    query |= {f"var-{name}": value for name, value in variables.items()}
    uid = urllib.parse.quote(dashboard_uid, safe="")
    return f"{base_url.rstrip('/')}/d/{uid}?{urllib.parse.urlencode(query)}"


def totals_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Totals per camera, line or zone and class (the index), with `in`, `out` and `total`."""
    keys = ["camera", "line", "class"]
    if counts.empty:
        empty = pd.DataFrame(columns=[*keys, "in", "out", "total"])
        return empty.set_index(keys)
    table = counts.pivot_table(
        index=keys, columns="direction", values="count", aggfunc="sum", fill_value=0
    )
    for direction in ("in", "out"):
        if direction not in table.columns:
            table[direction] = 0
    table["total"] = table.sum(axis=1)
    ordered = ["in", "out", *(c for c in table.columns if c not in ("in", "out", "total"))]
    return table[[*ordered, "total"]].rename_axis(columns=None)


def snapshot_image(image: npt.NDArray[np.uint8] | None, width: int = 1280) -> Any:
    """A BGR frame as an IPython JPEG image (None if there is none), at most `width` wide."""
    from IPython.display import Image as IPythonImage

    if image is None:
        return None
    picture: npt.NDArray[Any] = np.asarray(image)
    if picture.shape[1] > width:
        height = round(picture.shape[0] * width / picture.shape[1])
        picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError(f"cannot encode a frame of shape {picture.shape} as JPEG")
    return IPythonImage(data=encoded.tobytes(), format="jpeg")  # type: ignore[no-untyped-call]


def _number(value: Any) -> str:
    number = float(value)
    return f"{number:,.0f}" if abs(number) >= 1000 else f"{number:.3g}"


MEETS_COLOR, MISSES_COLOR = "#59a14f", "#e15759"


def target_panels(
    titles: Sequence[str], columns: int, spacing: tuple[float, float], wrap: int
) -> tuple[go.Figure, list[dict[str, int]]]:
    """A grid of at most `columns` panels a row, one per title (wrapped at `wrap`
    characters), and each panel's row/col keywords; `spacing` is (across, down)."""
    columns = min(columns, len(titles))
    grid_rows = -(-len(titles) // columns)
    figure = make_subplots(
        rows=grid_rows, cols=columns, horizontal_spacing=spacing[0] / columns,
        vertical_spacing=spacing[1] / grid_rows,
        subplot_titles=["<br>".join(textwrap.wrap(str(t), wrap)) for t in titles],
    )  # fmt: skip
    return figure, [{"row": i // columns + 1, "col": i % columns + 1} for i in range(len(titles))]


def target_sign(better: str) -> str:
    return "≥" if better == "higher" else "≤"


def target_line(figure: go.Figure, target: Any, better: str, place: dict[str, int]) -> None:
    """A benchmark's target as a dashed line in its panel, drawn after the panel's data
    (plotly leaves out lines for panels that have none yet)."""
    figure.add_hline(
        y=float(target), line_dash="dash", line_color="#1d2330", **place,
        annotation_text=f"target {target_sign(better)} {_number(target)}",
        annotation_position="top left",
    )  # fmt: skip


def bench_figure(ratios: pd.DataFrame) -> go.Figure:
    """Each benchmark's measured figure beside its target (dashed); green meets it, red not."""
    title = "Benchmarks against their targets"
    if ratios.empty:
        return _empty(title, "No benchmark with a target in these results")
    figure, places = target_panels(list(ratios.index), 4, (0.3, 0.35), 34)
    for place, row in zip(places, ratios.reset_index().itertuples(index=False), strict=True):
        sign = target_sign(str(row.better))
        figure.add_bar(
            x=["measured"], y=[row.measured], **place, showlegend=False,
            marker_color=MEETS_COLOR if row.meets else MISSES_COLOR,
            text=[_number(row.measured)], textposition="auto",
            hovertemplate=f"%{{y:,.4g}} {row.unit}, target {sign} {row.target:,.4g}<extra></extra>",
        )  # fmt: skip
        target_line(figure, row.target, str(row.better), place)
        figure.update_yaxes(title_text=str(row.unit), rangemode="tozero", **place)
    figure.update_annotations(font_size=12)
    figure.update_layout(title=title, height=120 + 330 * places[-1]["row"], bargap=0.5)
    return figure


def events_table(events: pd.DataFrame, last: int = 20) -> pd.DataFrame:
    """The last events, newest first, with readable UTC times (ms) and no empty columns."""
    table = events.tail(last).iloc[::-1].copy()
    table["time"] = table["time"].dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]
    if table["snapshot"].isna().all():
        table = table.drop(columns="snapshot")
    return table.rename(columns={"time": "time (UTC)"}).reset_index(drop=True)
