"""One self-contained HTML report of a run: summary, annotated frame, counts over time.

The page needs no network: plotly.js is inlined once and the frame is an
embedded JPEG, so a report can be mailed, archived or opened on a plane.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pandas as pd

from aistack.errors import SinkError
from aistack.redact import redact_text
from aistack.stores.sqlite import SqliteStore, check_interval

LAST_EVENTS = 50
MAX_IMAGE_WIDTH = 1280
_SUMMARY_FIRST = ("source", "frames", "fps", "seconds", "model")
# Tableau 10: distinct hues that stay readable when printed in grey.
_PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       background: #f6f7f9; color: #1d2330; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; border-bottom: 1px solid #d8dce3; padding-bottom: 4px; }
.sub { color: #5b6473; margin: 0 0 16px; }
.cards { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
.card { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; padding: 12px 16px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid #eceef2;
         vertical-align: top; }
th { color: #5b6473; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #d8dce3; }
.frame img { max-width: 100%; height: auto; border-radius: 6px; display: block; }
.plot { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; margin: 12px 0;
        height: 380px; }
.note { background: #fff8e1; border: 1px solid #f1d58a; border-radius: 8px; padding: 14px 18px; }
.dir { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
       font-weight: 600; }
.dir-in { background: #dcefdc; color: #256029; }
.dir-out { background: #f9dcdc; color: #8a1f1f; }
.events { max-height: 640px; overflow-y: auto; }
"""


def write_report(
    out_path: Path,
    store: SqliteStore,
    *,
    title: str,
    summary: Mapping[str, object],
    annotated_frame: npt.NDArray[np.uint8] | None,
    interval: str = "10s",
) -> Path:
    """Write the report to `out_path` and return it.

    `annotated_frame` is a BGR (OpenCV order) or grey picture; `interval` is a
    pandas offset alias for the counts-over-time chart.
    """
    check_interval(interval)
    events = store.events()
    totals = store.totals()
    parts = [
        f"<h1>{_text(title)}</h1>",
        f'<p class="sub">{len(events):,} events counted · times in UTC</p>',
        '<div class="cards">',
        _card("Run", _summary_table(summary)),
        _card("Totals", _totals_table(totals)),
        "</div>",
    ]
    if annotated_frame is not None:
        parts += ["<h2>Annotated frame</h2>", _image(annotated_frame)]
    figures: list[str] = []
    if events.empty:
        parts.append(
            '<p class="note"><strong>No crossings counted.</strong> The run finished '
            "without any object crossing a line or entering a zone: check the lines' "
            "placement on the frame above and the classes counted.</p>"
        )
    else:
        counts = store.counts(interval)
        parts.append(f"<h2>Counts per {_text(interval)}</h2>")
        for number, figure in enumerate(_count_figures(counts, interval), start=1):
            figures.append(_plot(f"counts-{number}", figure))
        parts += figures
        parts += ["<h2>Cumulative counts</h2>", _plot("cumulative", _cumulative_figure(counts))]
        parts += [f"<h2>Last {LAST_EVENTS} events</h2>", _events_table(events.tail(LAST_EVENTS))]
    parts.append(_runs_section(store))
    # plotly.js is 4-5 MB: inline it only when the page has a chart to draw.
    head_script = f"<script>{_plotly_js()}</script>" if figures else ""
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_text(title)}</title><style>{_CSS}</style>{head_script}</head>"
        f"<body><main>{''.join(parts)}</main></body></html>\n"
    )
    out_path = Path(out_path)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise SinkError(f"cannot write report {out_path}: {error.strerror or error}") from None
    return out_path


def _plotly_js() -> str:
    bundle = resources.files("plotly").joinpath("package_data", "plotly.min.js")
    return bundle.read_text(encoding="utf-8")


def _text(value: object) -> str:
    return html.escape(redact_text(str(value)))


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def _card(heading: str | None, body: str) -> str:
    title = f'<h2 style="margin-top:0">{heading}</h2>' if heading else ""
    return f'<div class="card">{title}{body}</div>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """`rows` hold ready HTML; columns in `numeric` are right-aligned."""

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(
            f'<{tag} class="num">{v}</{tag}>' if i in numeric else f"<{tag}>{v}</{tag}>"
            for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table><thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody></table>"


def _summary_table(summary: Mapping[str, object]) -> str:
    keys = [k for k in _SUMMARY_FIRST if k in summary]
    keys += [k for k in summary if k not in _SUMMARY_FIRST]
    if not keys:
        return "<p>No run summary given.</p>"
    rows = [(f"<th>{_text(k)}</th>", _text(_format(summary[k]))) for k in keys]
    body = "".join(f"<tr>{key}<td>{value}</td></tr>" for key, value in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _totals_table(totals: pd.DataFrame) -> str:
    if totals.empty:
        return "<p>Nothing counted.</p>"
    directions = sorted(set(totals["direction"]), key=lambda d: (d not in ("in", "out"), d))
    rows: list[list[str]] = []
    grand = dict.fromkeys(directions, 0)
    for (camera, line), group in totals.groupby(["camera", "line"], sort=True):
        by_direction = group.groupby("direction")["count"].sum()
        by_class = group.groupby("class")["count"].sum().sort_values(ascending=False)
        classes = " · ".join(f"{_text(name)} {n:,}" for name, n in by_class.items())
        row = [_text(camera), _text(line)]
        for direction in directions:
            n = int(by_direction.get(direction, 0))
            grand[direction] += n
            row.append(f"{n:,}")
        row += [f"{int(group['count'].sum()):,}", classes]
        rows.append(row)
    header = ["camera", "line", *(_text(d) for d in directions), "total", "by class"]
    numeric = set(range(2, 3 + len(directions)))
    table = _table(header, rows, numeric)
    if len(rows) > 1:
        total_cells = "".join(f'<td class="num">{grand[d]:,}</td>' for d in directions)
        last = f'<tr class="total"><td>all</td><td></td>{total_cells}'
        last += f'<td class="num">{sum(grand.values()):,}</td><td></td></tr>'
        table = table.replace("</tbody>", last + "</tbody>")
    return table


def _image(image: npt.NDArray[np.uint8]) -> str:
    picture = np.asarray(image)
    if picture.dtype != np.uint8 or picture.ndim not in (2, 3):
        raise ValueError(
            f"annotated_frame must be a uint8 picture, got {picture.dtype} {picture.shape}"
        )
    if picture.shape[1] > MAX_IMAGE_WIDTH:
        # Keeps the page small; full resolution is in the annotated video if wanted.
        height = round(picture.shape[0] * MAX_IMAGE_WIDTH / picture.shape[1])
        resized = cv2.resize(picture, (MAX_IMAGE_WIDTH, height), interpolation=cv2.INTER_AREA)
        picture = np.asarray(resized, dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError(f"cannot encode the annotated frame ({picture.shape}) as JPEG")
    data = base64.b64encode(encoded.tobytes()).decode("ascii")
    return (
        f'<div class="frame"><img alt="annotated frame" src="data:image/jpeg;base64,{data}"></div>'
    )


def _times(series: pd.Series) -> list[str]:
    # Plotly reads "YYYY-MM-DD HH:MM:SS.ffffff" as a date without any timezone
    # shift in the viewer's browser, so the axis stays in UTC.
    return [str(t) for t in series.dt.strftime("%Y-%m-%d %H:%M:%S.%f")]


def _layout(title: str, y_title: str) -> dict[str, object]:
    return {
        "title": {"text": title, "x": 0.01, "font": {"size": 15}},
        "margin": {"l": 60, "r": 20, "t": 44, "b": 44},
        "xaxis": {"title": {"text": "time (UTC)"}, "type": "date"},
        "yaxis": {"title": {"text": y_title}, "zeroline": True, "zerolinewidth": 2},
        "legend": {"tracegroupgap": 6},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#fbfbfc",
        "hovermode": "x unified",
    }


def _count_figures(counts: pd.DataFrame, interval: str) -> list[dict[str, object]]:
    """One figure per line: `in` as solid bars up, `out` as hatched bars down."""
    classes = sorted(set(counts["class"]))
    color = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(classes)}
    several_cameras = counts["camera"].nunique() > 1
    figures: list[dict[str, object]] = []
    for (camera, line), group in counts.groupby(["camera", "line"], sort=True):
        traces: list[dict[str, object]] = []
        for (name, direction), part in group.groupby(["class", "direction"], sort=True):
            sign = -1 if direction == "out" else 1
            trace: dict[str, object] = {
                "type": "bar",
                "name": f"{name} {direction}",
                "x": _times(part["time"]),
                "y": [sign * int(n) for n in part["count"]],
                "customdata": [int(n) for n in part["count"]],
                "hovertemplate": "%{fullData.name}: %{customdata}<extra></extra>",
                "marker": {"color": color[name], "line": {"width": 0}},
                "legendgroup": str(name),
            }
            if direction == "out":
                trace["marker"] = {
                    "color": color[name],
                    "line": {"width": 0},
                    # overlay: hatch on top of the class colour, so in/out of a class
                    # share a hue and still differ in greyscale prints.
                    "pattern": {
                        "shape": "/",
                        "fillmode": "overlay",
                        "fgcolor": "#ffffff",
                        "solidity": 0.35,
                    },
                }
            traces.append(trace)
        where = f" ({camera})" if several_cameras else ""
        layout = _layout(f"{line}{where}: per {interval}", "in ↑   out ↓")
        layout["barmode"] = "relative"
        layout["bargap"] = 0.1
        figures.append({"data": traces, "layout": layout})
    return figures


def _cumulative_figure(counts: pd.DataFrame) -> dict[str, object]:
    """Running totals per line; `in` solid, `out` dashed, one colour per line."""
    lines = counts[["camera", "line"]].drop_duplicates().sort_values(["camera", "line"])
    several_cameras = counts["camera"].nunique() > 1
    traces: list[dict[str, object]] = []
    for i, (camera, line) in enumerate(lines.itertuples(index=False)):
        mask = (counts["camera"] == camera) & (counts["line"] == line)
        selected = counts[mask]
        for direction, part in selected.groupby("direction", sort=True):
            per_bin = part.groupby("time")["count"].sum().sort_index()
            where = f" ({camera})" if several_cameras else ""
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "line": {
                        "shape": "hv",
                        "width": 2.5,
                        "color": _PALETTE[i % len(_PALETTE)],
                        "dash": "dash" if direction == "out" else "solid",
                    },
                    "name": f"{line}{where} {direction}",
                    "x": _times(per_bin.index.to_series()),
                    "y": [int(n) for n in per_bin.cumsum()],
                }
            )
    return {"data": traces, "layout": _layout("Cumulative count per line", "count")}


def _plot(element_id: str, figure: Mapping[str, object]) -> str:
    # "</" inside a <script> would end it early if a name contained "</script>".
    spec = json.dumps(
        [figure["data"], figure["layout"], _PLOT_CONFIG], separators=(",", ":")
    ).replace("</", "<\\/")
    return (
        f'<div id="{element_id}" class="plot plotly-graph-div"></div>'
        f'<script>Plotly.newPlot("{element_id}", ...{spec});</script>'
    )


def _events_table(events: pd.DataFrame) -> str:
    rows = []
    for record in events.iloc[::-1].to_dict("records"):
        direction = str(record["direction"])
        badge = f'<span class="dir dir-{_text(direction)}">{_text(direction)}</span>'
        rows.append(
            [
                _text(pd.Timestamp(record["time"]).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]),
                _text(record["camera"]),
                _text(record["line"]),
                _text(record["kind"]),
                _text(record["class"]),
                badge,
                _text(record["track_id"]),
                _text(record["frame_index"]),
            ]
        )
    header = ["time (UTC)", "camera", "line", "kind", "class", "direction", "track", "frame"]
    return f'<div class="events card">{_table(header, rows, {6, 7})}</div>'


def _runs_section(store: SqliteStore) -> str:
    runs = store.runs().tail(10)
    if runs.empty:
        return ""
    rows = []
    for run in runs.to_dict("records"):
        finished = run["finished"]
        rows.append(
            [
                _text(run["id"]),
                _text(pd.Timestamp(run["started"]).strftime("%Y-%m-%d %H:%M:%S")),
                "not finished"
                if pd.isna(finished)
                else _text(pd.Timestamp(finished).strftime("%Y-%m-%d %H:%M:%S")),
                _text(run["source"]),
            ]
        )
    table = _table(["run", "started (UTC)", "finished (UTC)", "source"], rows, {0})
    return f"<h2>Runs in this store</h2>{_card(None, table)}"
