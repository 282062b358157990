"""The query API: counted events and counts as pandas DataFrames, read from a store.

Every store (SQLite today; InfluxDB or Prometheus later) returns the same
columns, named once here, so notebooks and reports never care which it is.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Final, TypeAlias

import pandas as pd

from aistack.errors import ConfigError, SinkError
from aistack.sinks.sqlite import SCHEMA_VERSION
from aistack.types import Closing

EVENT_COLUMNS: Final = (
    "time",
    "camera",
    "line",
    "kind",
    "class",
    "direction",
    "track_id",
    "frame_index",
    "snapshot",
)
COUNT_COLUMNS: Final = ("time", "camera", "line", "class", "direction", "count")
TOTAL_COLUMNS: Final = ("camera", "line", "class", "direction", "count")
RUN_COLUMNS: Final = ("id", "started", "finished", "source", "config", "summary")

# A point in time: seconds since the epoch, a datetime (naive means UTC) or a
# string pandas can parse, such as "2024-05-01 12:00".
TimeLike: TypeAlias = float | int | str | datetime | pd.Timestamp


def to_seconds(value: TimeLike) -> float:
    """Epoch seconds from a number, datetime, pandas timestamp or string (naive = UTC)."""
    if isinstance(value, int | float):
        return float(value)
    try:
        stamp = pd.Timestamp(value)
    except ValueError as error:
        raise ConfigError(f"cannot read {value!r} as a time: {error}") from None
    if pd.isna(stamp):
        raise ConfigError(f"cannot read {value!r} as a time")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return float(stamp.timestamp())


def _utc(seconds: pd.Series) -> pd.Series:
    return pd.to_datetime(seconds.astype("float64"), unit="s", utc=True)


def check_interval(interval: str) -> str:
    """Return `interval` if pandas knows it as an offset alias, else raise ConfigError."""
    try:
        pd.tseries.frequencies.to_offset(interval)
    except ValueError:
        raise ConfigError(
            f"unknown interval {interval!r}; use a pandas offset alias such as 10s, 5min or 1h"
        ) from None
    return interval


class SqliteStore(Closing):
    """Reads an aistack SQLite store; safe to use while a sink is writing it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SinkError(f"no store at {self.path}; run `aistack demo` or `aistack count` first")
        self._lock = threading.Lock()
        try:
            # Read-only: a report or a notebook must never change the store.
            self._connection = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                check_same_thread=False,
                timeout=10.0,
            )
            version = int(self._connection.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as error:
            raise SinkError(f"cannot read store {self.path}: {error}") from None
        if version == 0 or version > SCHEMA_VERSION:
            self._connection.close()
            raise SinkError(
                f"{self.path} is not an aistack store this version can read "
                f"(schema version {version}, expected 1..{SCHEMA_VERSION})"
            )

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> pd.DataFrame:
        with self._lock:
            try:
                cursor = self._connection.execute(sql, params)
                names = [description[0] for description in cursor.description]
                rows = cursor.fetchall()
            except sqlite3.Error as error:
                raise SinkError(f"cannot read store {self.path}: {error}") from None
        return pd.DataFrame.from_records(rows, columns=names)

    def events(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        camera: str | None = None,
        counter: str | None = None,
    ) -> pd.DataFrame:
        """Events with start <= time < end, oldest first, as EVENT_COLUMNS."""
        where: list[str] = []
        params: list[object] = []
        if start is not None:
            where.append("ts >= ?")
            params.append(to_seconds(start))
        if end is not None:
            where.append("ts < ?")
            params.append(to_seconds(end))
        if camera is not None:
            where.append("camera = ?")
            params.append(camera)
        if counter is not None:
            where.append("counter = ?")
            params.append(counter)
        sql = (
            "SELECT ts AS time, camera, counter AS line, kind, class, direction, "
            "track_id, frame_index, snapshot FROM events"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        frame = self._query(sql + " ORDER BY ts, id", tuple(params))
        frame["time"] = _utc(frame["time"])
        frame["track_id"] = frame["track_id"].astype("int64")
        frame["frame_index"] = frame["frame_index"].astype("int64")
        frame["snapshot"] = frame["snapshot"].astype("object")
        return frame[list(EVENT_COLUMNS)]

    def counts(
        self,
        interval: str = "1min",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        camera: str | None = None,
    ) -> pd.DataFrame:
        """Events per `interval` (a pandas offset alias) as COUNT_COLUMNS.

        Only intervals with at least one event appear; `time` is the start of
        the interval.
        """
        check_interval(interval)
        events = self.events(start=start, end=end, camera=camera)
        keys = ["camera", "line", "class", "direction"]
        if events.empty:
            empty = pd.DataFrame({column: [] for column in COUNT_COLUMNS})
            empty["time"] = _utc(empty["time"])
            empty["count"] = empty["count"].astype("int64")
            return empty
        # Grouper bins by the calendar like resample() does, so "1h" starts on
        # the hour and "1D" at midnight UTC, whatever the first event's time.
        grouped = events.groupby([pd.Grouper(key="time", freq=interval), *keys], observed=True)
        counted = grouped.size().rename("count").reset_index()
        counted["count"] = counted["count"].astype("int64")
        counted = counted.sort_values(["time", *keys], kind="stable", ignore_index=True)
        return counted[list(COUNT_COLUMNS)]

    def totals(self) -> pd.DataFrame:
        """Everything counted so far, per camera, line, class and direction."""
        # The counts table is kept in the same transaction as the events, so
        # summing it is exact and much cheaper than scanning the events.
        frame = self._query(
            "SELECT camera, counter AS line, class, direction, SUM(count) AS count FROM counts "
            "GROUP BY camera, counter, class, direction ORDER BY camera, counter, class, direction"
        )
        frame["count"] = frame["count"].astype("int64")
        return frame[list(TOTAL_COLUMNS)]

    def runs(self) -> pd.DataFrame:
        """The recorded runs, oldest first; `config` and `summary` are dicts."""
        frame = self._query(
            "SELECT id, started, finished, source, config_json, summary_json FROM runs ORDER BY id"
        )
        frame["id"] = frame["id"].astype("int64")
        frame["started"] = _utc(frame["started"])
        frame["finished"] = _utc(frame["finished"])
        frame["config"] = [json.loads(text) for text in frame["config_json"]]
        # Unfinished runs have no summary; pandas turns their NULL into NaN.
        frame["summary"] = [
            json.loads(text) if isinstance(text, str) else None for text in frame["summary_json"]
        ]
        return frame[list(RUN_COLUMNS)]

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def open_store(path: Path | str) -> SqliteStore:
    """Open the store at `path` for reading; SinkError if there is none."""
    return SqliteStore(Path(path))
