"""Send accuracy figures where speed figures already go: a Prometheus textfile and InfluxDB.

An evaluation is a batch job, so it is not scraped while it runs. The node-exporter
textfile collector (`--collector.textfile.directory`) is Prometheus' standard way in
for batch jobs; InfluxDB takes the same figures as points.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, write_to_textfile

from aistack.errors import SinkError
from aistack.evaluation.figures import accuracy_figures, publish
from aistack.evaluation.result import EvalResult
from aistack.sinks.influx_protocol import _DeliveryError, _escape_tag, _V1Writer, influx_token

MEASUREMENT = "aistack_eval"


def write_prometheus_textfile(result: EvalResult, path: Path) -> Path:
    """Write the `aistack_eval_*` gauges atomically, for node-exporter's textfile collector."""
    registry = CollectorRegistry()
    publish(result, registry)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), registry)  # writes a temp file, then renames
    except OSError as error:
        blocker = next((p for p in (path.parent, *path.parent.parents) if p.is_file()), None)
        why = (
            f"{blocker} is a file, not a folder"
            if blocker is not None
            else error.strerror or str(error)
        )
        raise SinkError(
            f"--prometheus-textfile {path}: cannot write the metrics textfile ({why})"
        ) from None
    return path


def influx_lines(result: EvalResult, clip: str, when: float | None = None) -> list[str]:
    """Points tagged by clip: tracking accuracy (MOT truth only), the totals over every line
    (weighted count error, caught, missed, spurious), and one per line and direction."""
    stamp = round((when if when is not None else time.time()) * 1e9)
    figures = accuracy_figures(result)
    tag = f"clip={_escape_tag(clip)}"
    lines = []
    if result.tracking is not None:
        tracking = ",".join(
            f"{key}={figures[key]}" for key in ("hota", "deta", "assa", "idf1", "mota", "motp")
        )
        lines.append(
            f"{MEASUREMENT},{tag},scope=tracking {tracking},idsw={int(figures['idsw'])}i {stamp}"
        )
    totals = ",".join(
        f"{key}={figures[key]}"
        for key in ("weighted_count_error", "caught", "missed", "spurious")
        if key in figures
    )
    if totals:
        lines.append(f"{MEASUREMENT},{tag},scope=total {totals} {stamp}")
    for line in result.lines:
        for direction in ("in", "out"):
            key = f"{line.name}.{direction}"
            fields = ",".join(
                f"{name}={figures[f'{key}.{name}']}"
                for name in ("truth", "predicted", "error", "abs_pct_error")
                if f"{key}.{name}" in figures
            )
            lines.append(
                f"{MEASUREMENT},{tag},scope=line,line={_escape_tag(line.name)},"
                f"direction={direction} {fields} {stamp}"
            )
    return lines


def write_influx(
    result: EvalResult, clip: str, url: str, database: str = "aistack", timeout: float = 10.0
) -> int:
    """Write the figures through the InfluxDB v1 /write API; returns the number of points."""
    lines = influx_lines(result, clip)
    if not lines:  # crossings truth and no line: nothing was scored
        return 0
    writer = _V1Writer(url, database, influx_token(os.environ.get("AISTACK_INFLUX_TOKEN")), timeout)
    try:
        writer.write(lines)
    except _DeliveryError as error:
        raise SinkError(f"InfluxDB {url}: cannot write the accuracy figures: {error}") from None
    return len(lines)
