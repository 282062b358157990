"""Store benchmarks: SQLite event writes, spool append and replay, InfluxDB sink throughput."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from aistack.sinks.influx import InfluxSink, LineEncoder
from aistack.sinks.spool import Spool
from aistack.sinks.sqlite import SqliteSink
from aistack.types import Event

CLASSES = ("person", "car", "bus", "truck", "bicycle")


def _events(n: int, start: float = 1_700_000_000.0) -> list[Event]:
    """Realistic events: a few cameras, lines and classes, times 10 ms apart."""
    return [
        Event(
            timestamp=start + i * 0.01,
            camera=f"cam{i % 4}",
            counter=f"line{i % 3}",
            kind="crossing",
            class_name=CLASSES[i % len(CLASSES)],
            direction="in" if i % 2 else "out",
            track_id=i,
            frame_index=i,
        )
        for i in range(n)
    ]


def sqlite_rate(n: int, batch: int = 1000) -> dict[str, float]:
    events = _events(n)
    with tempfile.TemporaryDirectory() as tmp, SqliteSink(Path(tmp) / "b.sqlite") as sink:
        began = time.perf_counter()
        for i in range(0, n, batch):
            sink.write(events[i : i + batch])
        seconds = time.perf_counter() - began
    return {"events": n, "batch": batch, "events_per_second": round(n / seconds), "target": 100_000}


def spool_rates(n: int, batch: int = 1000) -> dict[str, float]:
    encoder = LineEncoder()
    lines = [encoder.encode(event) for event in _events(n)]
    with tempfile.TemporaryDirectory() as tmp, Spool(Path(tmp) / "spool", max_points=n) as spool:
        began = time.perf_counter()
        for i in range(0, n, batch):
            spool.append(lines[i : i + batch])
        append = n / (time.perf_counter() - began)
        began = time.perf_counter()
        while rows := spool.peek(5000):
            spool.ack([row_id for row_id, _ in rows])
        replay = n / (time.perf_counter() - began)
    return {"points": n, "append_per_second": round(append), "replay_per_second": round(replay)}


def influx_rate(url: str, n: int, batch: int = 1000) -> dict[str, Any]:
    """End to end through the sink (spool, then HTTP) into a real InfluxDB."""
    events = _events(n, start=time.time() - n * 0.01)
    database = f"aistack_bench_{int(time.time())}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        InfluxSink(url, database=database, spool_path=Path(tmp) / "spool") as sink,
    ):
        began = time.perf_counter()
        for i in range(0, n, batch):
            sink.write(events[i : i + batch])
        delivered = sink.flush(timeout=300)
        seconds = time.perf_counter() - began
    return {
        "points": n,
        "delivered": delivered,
        "points_per_second": round(n / seconds),
        "target": 50_000,
        "server": sink.url,
    }


def store_rates(quick: bool, influx_url: str | None) -> dict[str, Any]:
    n = 20_000 if quick else 200_000
    results: dict[str, Any] = {"sqlite": sqlite_rate(n), "spool": spool_rates(n)}
    results["influx"] = (
        influx_rate(influx_url, n)
        if influx_url
        else {"skipped": "no InfluxDB given (--influx-url or `aistack stack up`)"}
    )
    return results
