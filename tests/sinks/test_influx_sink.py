"""The InfluxDB sink against real servers: round trip, v2 path, dead URL, SIGKILL, a 60 s outage."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from aistack.errors import SinkError
from aistack.sinks.influx import InfluxSink, LineEncoder
from aistack.sinks.sqlite import SqliteSink
from aistack.stores.influx import InfluxStore
from aistack.stores.prometheus import PrometheusStore
from aistack.stores.sqlite import SqliteStore
from aistack.types import Event

if TYPE_CHECKING:
    from tests.servers import Server


ROOT = Path(__file__).resolve().parents[2]
# Eighths of a second are exact in binary, so float seconds and nanoseconds agree.
T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


def _events(n: int, start: float = T0, per_frame: int = 3) -> list[Event]:
    """Events in frames of `per_frame` that share one timestamp, as a real counter emits them."""
    return [
        Event(
            timestamp=start + (i // per_frame) * 0.125,
            camera="gate 1" if i % 5 else "yard,east",
            counter="door=a" if i % 3 else "line 2",
            kind="crossing",
            class_name="person" if i % 2 else "car",
            direction="in" if i % 4 < 2 else "out",
            track_id=i,
            frame_index=i // per_frame,
        )
        for i in range(n)
    ]


def _influxql(server: Server, database: str, query: str) -> list[list[object]]:
    params = urllib.parse.urlencode({"db": database, "q": query})
    with urllib.request.urlopen(f"{server.url}/query?{params}", timeout=10) as response:
        result = json.loads(response.read())["results"][0]
    return [row for series in result.get("series", []) for row in series["values"]]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["time", "track_id"], ignore_index=True)


def test_points_of_one_frame_get_unique_timestamps() -> None:
    encoder = LineEncoder()
    lines = [encoder.encode(event) for event in _events(6, per_frame=6)]
    stamps = [int(line.rsplit(" ", 1)[1]) for line in lines]
    micros = round(T0 * 1e6)
    # All six share one microsecond; the nanoseconds below it tell them apart per series.
    assert {stamp // 1000 for stamp in stamps} == {micros}
    keyed = {(line.split(" count=")[0], stamp) for line, stamp in zip(lines, stamps, strict=True)}
    assert len(keyed) == 6
    assert lines[0].startswith(
        "aistack_events,camera=yard\\,east,class=car,direction=in,kind=crossing,line=line\\ 2 "
        "count=1i,frame_index=0i,track_id=0i "
    )


@pytest.mark.services
def test_events_read_back_equal_to_the_sqlite_store(influxdb: Server, tmp_path: Path) -> None:
    events = _events(600)
    sqlite_path = tmp_path / "events.sqlite"
    with SqliteSink(sqlite_path) as sqlite_sink:
        sqlite_sink.write(events)
    # A database that does not exist yet: the sink creates it on the first 404.
    with InfluxSink(influxdb.url, database="roundtrip", spool_path=tmp_path / "r.spool") as sink:
        for start in range(0, len(events), 50):
            sink.write(events[start : start + 50])
        assert sink.flush(timeout=20)
        assert sink.errors == 0
    assert sink.written == len(events)
    influx = InfluxStore(influxdb.url, "roundtrip")
    with SqliteStore(sqlite_path) as sqlite:
        pd.testing.assert_frame_equal(_sorted(influx.events()), _sorted(sqlite.events()))
        for interval in ("1s", "1min"):
            pd.testing.assert_frame_equal(influx.counts(interval), sqlite.counts(interval))
        pd.testing.assert_frame_equal(influx.totals(), sqlite.totals())
        window = {"start": T0 + 10, "end": T0 + 20, "camera": "gate 1"}
        pd.testing.assert_frame_equal(
            _sorted(influx.events(**window)), _sorted(sqlite.events(**window))
        )
        pd.testing.assert_frame_equal(influx.counts("5s", **window), sqlite.counts("5s", **window))


@pytest.mark.services
@pytest.mark.usefixtures("influxdb_client_library")
def test_v2_api_writes_series_to_victoria_metrics(victoria_metrics: Server, tmp_path: Path) -> None:
    # Victoria keeps milliseconds: give each event its own, a minute ago.
    start = round(time.time()) - 60.0
    events = [
        Event(start + i / 100, "cam2", "door", "crossing", "person", "in" if i % 3 else "out", i)
        for i in range(30)
    ]
    sink = InfluxSink(
        victoria_metrics.url,
        api="v2",
        bucket="ignored",
        org="ignored",
        token="not-needed-by-victoria",
        spool_path=tmp_path / "v2.spool",
    )
    with sink:
        sink.write(events)
        assert sink.flush(timeout=20)
    assert (sink.errors, sink.written) == (0, 30)
    urllib.request.urlopen(f"{victoria_metrics.url}/internal/force_flush", timeout=10).read()
    # `m,tags count=1i` becomes the series m_count{tags} in Victoria's PromQL.
    frame = PrometheusStore(victoria_metrics.url).query(
        "sum by (camera, line, class, direction, kind) "
        '(count_over_time(aistack_events_count{camera="cam2"}[10m]))'
    )
    got = {(row.direction, int(row.value)) for row in frame.itertuples()}
    assert got == {("in", 20), ("out", 10)}
    assert set(frame["kind"]) == {"crossing"}


def test_dead_server_keeps_spooling_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AISTACK_INFLUX_TOKEN", "env-token-s3cret")
    caplog.set_level(logging.DEBUG, logger="aistack")
    # Port 1 on loopback: nothing listens, so every delivery fails at once.
    url = "http://writer:pa55word@127.0.0.1:1"
    sink = InfluxSink(url, spool_path=tmp_path / "dead.spool", timeout=1.0, max_backoff=0.2)
    sink.start()
    slowest = 0.0
    for frame in range(50):
        began = time.perf_counter()
        sink.write(_events(10, start=T0 + frame))
        slowest = max(slowest, time.perf_counter() - began)
        time.sleep(0.01)
    deadline = time.monotonic() + 10
    while sink.errors < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sink.errors >= 3
    assert sink.written == 0
    assert sink.pending == 500
    sink.close(timeout=0.5)
    assert sink.pending == 500
    assert slowest < 0.05
    assert "pa55word" not in caplog.text and "s3cret" not in caplog.text
    assert "writer:***@127.0.0.1:1" in caplog.text


@pytest.mark.services
def test_spool_left_at_close_goes_first_at_next_start(influxdb: Server, tmp_path: Path) -> None:
    spool = tmp_path / "replay.spool"
    first, second = _events(40), _events(40, start=T0 + 100)
    with InfluxSink("http://127.0.0.1:1", spool_path=spool, timeout=0.5) as dead:
        dead.write(first)
    assert dead.pending == 40
    with InfluxSink(influxdb.url, database="replay", spool_path=spool, batch_size=7) as sink:
        sink.write(second)
        assert sink.flush(timeout=20)
    rows = _influxql(influxdb, "replay", 'SELECT "track_id" FROM "aistack_events"')
    assert len(rows) == 80


_KILLED_WRITER = """
import sys, time
from aistack.sinks.influx import InfluxSink
from aistack.types import Event
sink = InfluxSink("http://127.0.0.1:1", spool_path=sys.argv[1], timeout=0.5).start()
for i in range(int(sys.argv[2])):
    sink.write([Event(1767225600.0 + i / 8, "cam", "door", "crossing", "person", "in", i, i)])
print("spooled", flush=True)
time.sleep(60)
"""


@pytest.mark.services
def test_events_spooled_by_a_killed_process_reach_influxdb(
    influxdb: Server, tmp_path: Path
) -> None:
    spool = tmp_path / "killed.spool"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(spool), "500"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "spooled"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with InfluxSink(influxdb.url, database="killed", spool_path=spool) as sink:
        assert sink.pending == 500
        assert sink.flush(timeout=20)
    frame = InfluxStore(influxdb.url, "killed").events()
    assert frame["track_id"].tolist() == list(range(500))


def test_bad_settings_are_sink_errors(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="api"):
        InfluxSink("http://127.0.0.1:1", api="v3", spool_path=tmp_path / "a")  # type: ignore[arg-type]
    with pytest.raises(SinkError, match="batch_size"):
        InfluxSink("http://127.0.0.1:1", batch_size=0, spool_path=tmp_path / "b")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SinkError, match="cannot open spool"):
        InfluxSink("http://127.0.0.1:1", spool_path=blocker / "x.spool")


@pytest.mark.services
def test_write_rate_to_real_influxdb(influxdb: Server, tmp_path: Path) -> None:
    """Measured, not asserted: points/s through the whole sink (spool + HTTP), printed."""
    events = _events(200_000, per_frame=10)
    with InfluxSink(
        influxdb.url, database="bench", spool_path=tmp_path / "bench.spool", flush_interval=0.05
    ) as sink:
        began = time.perf_counter()
        for start in range(0, len(events), 1000):
            sink.write(events[start : start + 1000])
        spooled = time.perf_counter() - began
        assert sink.flush(timeout=120)
        total = time.perf_counter() - began
    rows = _influxql(influxdb, "bench", 'SELECT count("track_id") FROM "aistack_events"')
    assert rows[0][1] == len(events)
    # For scale: the same points POSTed straight to /write, 5000 a request, no spool.
    encoder = LineEncoder()
    lines = [encoder.encode(event) for event in _events(200_000, start=T0 + 86_400)]
    began = time.perf_counter()
    for start in range(0, len(lines), 5000):
        body = "\n".join(lines[start : start + 5000]).encode()
        request = urllib.request.Request(
            f"{influxdb.url}/write?db=bench&precision=ns", data=body, method="POST"
        )
        urllib.request.urlopen(request, timeout=30).read()
    direct = time.perf_counter() - began
    print(
        f"\ninflux sink: {len(events)} points, write() {len(events) / spooled:,.0f} points/s, "
        f"delivered end to end {len(events) / total:,.0f} points/s; "
        f"direct /write without the sink {len(lines) / direct:,.0f} points/s"
    )


@pytest.mark.services
@pytest.mark.slow
def test_sixty_second_outage_loses_nothing(own_influxdb: Server, tmp_path: Path) -> None:
    """3000 events over 70 s; influxd is down from 5 s to 65 s; every event arrives."""
    total, frames, frame_period = 3000, 700, 0.1
    outage = (5.0, 65.0)
    sink = InfluxSink(
        own_influxdb.url,
        database="outage",
        spool_path=tmp_path / "outage.spool",
        batch_size=500,
        flush_interval=0.2,
        timeout=2.0,
        max_backoff=2.0,
    ).start()
    produced: list[Event] = []
    write_seconds: list[tuple[float, float]] = []  # (when, how long)
    began = time.monotonic()
    base = round(time.time()) - 3600.0

    def produce() -> None:
        for frame in range(frames):
            time.sleep(max(0.0, began + frame * frame_period - time.monotonic()))
            # Spread `total` events over the frames, 4 or 5 per frame, sharing its timestamp.
            n = total * (frame + 1) // frames - total * frame // frames
            batch = [
                Event(
                    timestamp=base + frame * frame_period,
                    camera="cam",
                    counter="door",
                    kind="crossing",
                    class_name="person" if k % 2 else "car",
                    direction="in" if k < 3 else "out",
                    track_id=len(produced) + k,
                    frame_index=frame,
                )
                for k in range(n)
            ]
            start = time.perf_counter()
            sink.write(batch)
            write_seconds.append((time.monotonic() - began, time.perf_counter() - start))
            produced.extend(batch)

    producer = threading.Thread(target=produce, name="producer")
    producer.start()
    time.sleep(max(0.0, began + outage[0] - time.monotonic()))
    own_influxdb.stop()
    errors_before = sink.errors
    peak_pending = 0
    while time.monotonic() < began + outage[1]:
        peak_pending = max(peak_pending, sink.pending)
        time.sleep(0.5)
    own_influxdb.start()
    restarted = time.monotonic()
    # The sender must recover by itself, while events still arrive, before any close().
    deadline = time.monotonic() + 20
    while sink.pending > 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    recovered = time.monotonic() - restarted
    assert sink.pending <= 100, (
        f"{sink.pending} points still spooled {recovered:.0f} s after restart"
    )
    producer.join()
    assert sink.flush(timeout=30)
    sink.close()
    duration = time.monotonic() - began

    assert len(produced) == total
    assert sink.errors > errors_before
    assert peak_pending >= 2000, "the spool should have held the outage's events"
    assert sink.pending == 0
    count = _influxql(own_influxdb, "outage", 'SELECT count("track_id") FROM "aistack_events"')
    assert count[0][1] == total
    stored = InfluxStore(own_influxdb.url, "outage").events()
    assert sorted(stored["track_id"]) == list(range(total))
    during = [took for when, took in write_seconds if outage[0] <= when <= outage[1]]
    assert len(during) > 500
    assert max(during) < 0.05, f"write() blocked {max(during) * 1000:.1f} ms during the outage"
    print(
        f"\noutage test: {total} events in {duration:.1f} s, influxd down "
        f"{outage[1] - outage[0]:.0f} s, peak spool {peak_pending}, "
        f"{sink.errors} failed deliveries, backlog drained "
        f"{recovered:.1f} s after restart, slowest write() during outage "
        f"{max(during) * 1000:.2f} ms"
    )
