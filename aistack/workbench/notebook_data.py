"""What notebooks 04 and 05 load: counts and events from any store, and benchmark results."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from aistack.errors import ConfigError
from aistack.stores.sqlite import TimeLike, open_store
from aistack.workbench.analysis import (
    Performance,
    prometheus_performance,
    resolve_interval,
    runs_performance,
)
from aistack.workbench.experiment import DEFAULT_EXPERIMENT, latest_store, run_experiment

StoreKind = Literal["sqlite", "influx", "prometheus"]
STORE_KINDS = ("sqlite", "influx", "prometheus")
# Frames counted to make a store when notebook 04 finds none to analyse.
SAMPLE_FRAMES = 150
BENCH_COLUMNS = ("benchmark", "measured", "target", "better", "meets", "unit")


@dataclass(frozen=True)
class StoreData:
    """Counts (and events, where the store keeps them) over one time range, ready to plot."""

    kind: str
    where: str
    counts: pd.DataFrame
    events: pd.DataFrame | None
    interval: str
    start: pd.Timestamp
    end: pd.Timestamp
    performance: Performance
    note: str = ""

    def headline(self) -> str:
        """One Markdown paragraph: which store, which time range, how much was counted."""
        counted = int(self.counts["count"].sum()) if not self.counts.empty else 0
        text = (
            f"**{self.kind}** store at `{self.where}` · {self.start:%Y-%m-%d %H:%M:%S} to "
            f"{self.end:%Y-%m-%d %H:%M:%S} UTC · {counted:,} counted · bins of {self.interval}"
        )
        return f"{text}\n\n{self.note}" if self.note else text


def _utc(value: TimeLike | None) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value, unit="s") if isinstance(value, int | float) else pd.Timestamp(value)
    if pd.isna(stamp):
        raise ConfigError(f"parameters: cannot read {value!r} as a time")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _span(
    events: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    now = pd.Timestamp.now(tz="UTC")
    first = events["time"].min() if not events.empty else now
    last = events["time"].max() if not events.empty else now
    return (start or first), (end or last + pd.Timedelta(seconds=1))


def load_store_data(
    store: str = "sqlite",
    *,
    path: str | Path | None = None,
    url: str | None = None,
    database: str = "aistack",
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    interval: str = "auto",
    prometheus_url: str | None = None,
) -> StoreData:
    """Counts per interval, events and throughput from one store, with the same columns.

    SQLite: `path`, or the newest store under experiments/runs/ (made from
    SAMPLE_FRAMES frames of the example experiment if there is none). InfluxDB
    and Prometheus: `url`. FPS and latency come from `prometheus_url` (or the
    Prometheus store itself), else from the SQLite store's run summaries.
    """
    if store not in STORE_KINDS:
        raise ConfigError(
            f"parameters: store must be one of {', '.join(STORE_KINDS)}, not {store!r}"
        )
    first, last = _utc(start), _utc(end)
    note = ""
    performance: Performance | None = None
    if store == "sqlite":
        if path is None:
            found = latest_store()
            if found is None:
                run = run_experiment(DEFAULT_EXPERIMENT, max_frames=SAMPLE_FRAMES, name="sample")
                found = run.store_path
                note = f"No job run found, so this counted {SAMPLE_FRAMES} frames of the example."
            path = found
        with open_store(path) as sqlite:
            events = sqlite.events(first, last)
            bins = resolve_interval(interval, events["time"])
            counts = sqlite.counts(bins, first, last)
            if prometheus_url is None:
                performance = runs_performance(sqlite.runs())
        where = str(path)
    elif url is None:
        raise ConfigError(f"parameters: store={store!r} needs url, e.g. http://127.0.0.1:8086")
    elif store == "influx":
        from aistack.stores.influx import InfluxStore

        with InfluxStore(url, database) as influx:
            events = influx.events(first, last)
            bins = resolve_interval(interval, events["time"])
            counts = influx.counts(bins, first, last)
        where = f"{url} ({database})"
    else:
        from aistack.stores.prometheus import PrometheusStore

        last = last or pd.Timestamp.now(tz="UTC")
        first = first or last - pd.Timedelta(hours=1)
        bins = resolve_interval(interval, pd.Series([first, last]))
        with PrometheusStore(url) as prometheus:
            counts = prometheus.counts(bins, first, last)
        events = None
        prometheus_url = prometheus_url or url
        where = url
    first, last = _span(counts if events is None else events, first, last)
    if performance is None:
        if prometheus_url is None:
            performance = Performance(
                pd.DataFrame(columns=["time", "series", "value"]),
                pd.DataFrame(columns=["time", "series", "value"]),
                "nowhere: give prometheus_url",
            )
        else:
            performance = prometheus_performance(prometheus_url, first, last)
    return StoreData(store, where, counts, events, bins, first, last, performance, note)


def latest_bench(directory: Path) -> Path | None:
    """The newest bench-*.json in directory, or None."""
    found = sorted(Path(directory).glob("bench-*.json"))
    return found[-1] if found else None


def bench_results(
    *, run: bool, suites: Sequence[str], quick: bool, bench_dir: str | Path
) -> tuple[dict[str, Any], Path]:
    """Run the suites now (results written under bench_dir), or load bench_dir's newest."""
    directory = Path(bench_dir)
    if run:
        from aistack.bench.suites import SUITES, run_bench

        unknown = [s for s in suites if s not in SUITES]
        if unknown:
            raise ConfigError(f"parameters: unknown suite {', '.join(unknown)}; known: {SUITES}")
        with contextlib.redirect_stderr(io.StringIO()):  # its progress bar, not for a report
            result = run_bench(list(suites), None, directory, quick)
        return result.data, result.json_path
    found = latest_bench(directory)
    if found is None:
        raise ConfigError(f"no bench-*.json in {directory}: run with run=True first")
    try:
        data: dict[str, Any] = json.loads(found.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{found}: cannot read the bench results: {error}") from None
    return data, found


def bench_ratios(data: dict[str, Any]) -> pd.DataFrame:
    """One row per measured figure (the index) with its target, as BENCH_COLUMNS."""
    results = data.get("results", {})
    rows: list[tuple[str, float, float, str, str]] = []
    if "pipeline" in results:
        r = results["pipeline"]
        rows.append(("pipeline FPS / bare model FPS", r["ratio_pipeline_over_bare"],
                     r.get("target_ratio", 0.95), "higher", "ratio"))  # fmt: skip
    if "cameras" in results:
        r = results["cameras"]
        rows.append((f"{r['cameras']} cameras batched / independent",
                     r["ratio_batched_over_independent"], r.get("target_ratio", 1.3),
                     "higher", "ratio"))  # fmt: skip
    if "latency" in results:
        r = results["latency"]
        rows.append(("latency p95 / model latency", r["latency_p95_over_model"], 1.5,
                     "lower", "ratio"))  # fmt: skip
    if "overload" in results:
        r = results["overload"]
        rows.append((f"lag p95 under overload ({r['cameras']} cameras)", r["lag_frames_p95"],
                     2.0, "lower", "frames"))  # fmt: skip
    if "ultralytics" in results:
        r = results["ultralytics"]
        for streams in ("1_stream", "4_stream"):
            if streams in r:
                row = r[streams]
                rows.append((f"aistack / Ultralytics ObjectCounter, {streams.replace('_', ' ')}",
                             row["ratio"], row["target"], "higher", "ratio"))  # fmt: skip
    if "memory" in results:
        r = results["memory"]
        rows.append((f"RSS growth over {r['frames']:,} frames", r["growth_percent"],
                     r.get("target_percent", 5.0), "lower", "%"))  # fmt: skip
    if "stores" in results:
        r = results["stores"]
        sqlite = r["sqlite"]
        rows.append(("SQLite event writes", sqlite["events_per_second"],
                     sqlite.get("target", 100_000), "higher", "events/s"))  # fmt: skip
        influx = r.get("influx", {})
        if "points_per_second" in influx:
            rows.append(("InfluxDB sink, end to end", influx["points_per_second"],
                         influx.get("target", 50_000), "higher", "points/s"))  # fmt: skip
    frame = pd.DataFrame(
        [(name, float(m), float(t), better, unit) for name, m, t, better, unit in rows],
        columns=["benchmark", "measured", "target", "better", "unit"],
    )
    higher = frame["better"] == "higher"
    frame["meets"] = (higher & (frame["measured"] >= frame["target"])) | (
        ~higher & (frame["measured"] <= frame["target"])
    )
    return frame[list(BENCH_COLUMNS)].set_index("benchmark")


def bench_headline(data: dict[str, Any], path: Path) -> str:
    """One Markdown line: when, where and on what the results were measured."""
    machine = data.get("machine", {})
    quick = " (quick)" if data.get("quick") else ""
    return (
        f"Results `{path}`{quick} · measured {data.get('when', '?')} on "
        f"{machine.get('cores', '?')} cores ({machine.get('cpu', '?')}), "
        f"onnxruntime {machine.get('onnxruntime', '?')} · clip {data.get('clip', '?')}, "
        f"model {data.get('model', '?')}"
    )
