"""Reads counted events back from InfluxDB with InfluxQL, as the SQLite store's DataFrames.

It calls the HTTP `/query` endpoint directly: influxdb-client's query API speaks
only Flux, which InfluxDB 1.x and 3.x lack, while InfluxQL over `/query` works
on 1.x, on 2.x through a DBRP mapping, and on 3.x.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import numpy as np
import pandas as pd

from aistack.errors import ConfigError, SinkError
from aistack.redact import redact_text, redact_url
from aistack.sinks.influx_protocol import MEASUREMENT, http_auth, influx_token
from aistack.stores.sqlite import (
    COUNT_COLUMNS,
    EVENT_COLUMNS,
    TOTAL_COLUMNS,
    TimeLike,
    check_interval,
)
from aistack.types import Closing

_KEYS = ["camera", "line", "class", "direction"]


def _tag_literal(value: str) -> str:
    # The sink writes a backslash in a tag as "/"; match what it wrote.
    escaped = value.replace("\\", "/").replace("'", "\\'")
    return f"'{escaped}'"


def _nanos(value: TimeLike) -> int:
    if isinstance(value, int | float):
        return round(float(value) * 1e9)
    try:
        stamp = pd.Timestamp(value)
    except ValueError as error:
        raise ConfigError(f"cannot read {value!r} as a time: {error}") from None
    if pd.isna(stamp):
        raise ConfigError(f"cannot read {value!r} as a time")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value)


def _duration(interval: str) -> str:
    """A pandas offset alias as an InfluxQL duration, e.g. "5min" -> "300000000000ns"."""
    check_interval(interval)
    try:
        nanos = int(pd.tseries.frequencies.to_offset(interval).nanos)
    except ValueError:
        nanos = 0
    if nanos <= 0:
        raise ConfigError(
            f"interval {interval!r} has no fixed length; InfluxDB needs one such as 10s, 5min or 1h"
        )
    return f"{nanos}ns"


def _times(nanos: Any) -> pd.Series:
    # The point's nanoseconds below the microsecond are the writer's tiebreak
    # (docs/influxdb.md), not part of the event's time.
    values = np.asarray(nanos, dtype="int64") // 1000 * 1000
    return pd.Series(pd.to_datetime(values, unit="ns", utc=True))


class InfluxStore(Closing):
    """Query API over the `aistack_events` measurement of one InfluxDB database."""

    def __init__(
        self, url: str, database: str = "aistack", token: str | None = None, timeout: float = 30.0
    ) -> None:
        self._base, self._headers = http_auth(url, influx_token(token))
        self.url = redact_url(url)
        self.database = database
        self.timeout = timeout

    def _series(self, query: str) -> list[dict[str, Any]]:
        """Run one InfluxQL statement; its series as returned (name, tags, columns, values)."""
        params = urllib.parse.urlencode({"db": self.database, "q": query, "epoch": "ns"})
        request = urllib.request.Request(f"{self._base}/query?{params}", headers=self._headers)
        where = f"InfluxDB at {self.url} (database {self.database})"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace").strip()[:300]
            raise SinkError(
                f"cannot query {where}: HTTP {error.code} {redact_text(detail)}"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SinkError(f"cannot query {where}: {reason}") from None
        except ValueError:
            raise SinkError(f"cannot query {where}: the answer is not JSON") from None
        results = body.get("results") or [{}]
        if "error" in body or "error" in results[0]:
            message = body.get("error") or results[0]["error"]
            raise SinkError(f"cannot query {where}: {redact_text(str(message))}")
        series: list[dict[str, Any]] = results[0].get("series") or []
        return series

    @staticmethod
    def _where(
        start: TimeLike | None, end: TimeLike | None, camera: str | None, counter: str | None = None
    ) -> str:
        clauses: list[str] = []
        if start is not None:
            clauses.append(f"time >= {_nanos(start)}")
        if end is not None:
            clauses.append(f"time < {_nanos(end)}")
        if camera is not None:
            clauses.append(f'"camera" = {_tag_literal(camera)}')
        if counter is not None:
            clauses.append(f'"line" = {_tag_literal(counter)}')
        return (" WHERE " + " AND ".join(clauses)) if clauses else ""

    def events(
        self,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        camera: str | None = None,
        counter: str | None = None,
    ) -> pd.DataFrame:
        """Events with start <= time < end, oldest first, as EVENT_COLUMNS."""
        query = (
            'SELECT "track_id", "frame_index", "camera", "line", "kind", "class", "direction" '
            f'FROM "{MEASUREMENT}"{self._where(start, end, camera, counter)} ORDER BY time ASC'
        )
        rows: list[list[Any]] = []
        at: dict[str, int] = {}
        for series in self._series(query):
            at = {name: position for position, name in enumerate(series["columns"])}
            rows.extend(series["values"])

        def column(name: str, missing: Any) -> list[Any]:
            # A tag the point did not carry (it was empty) or a field it lacks comes back null.
            if name not in at:
                return [missing] * len(rows)
            position = at[name]
            return [missing if row[position] is None else row[position] for row in rows]

        # Plain lists, so pandas infers the same dtypes as for the SQLite store's frames.
        out = pd.DataFrame(
            {
                "time": _times(column("time", 0)),
                **{
                    tag: column(tag, "") for tag in ("camera", "line", "kind", "class", "direction")
                },
                "track_id": np.asarray(column("track_id", -1), dtype="int64"),
                "frame_index": np.asarray(column("frame_index", -1), dtype="int64"),
                "snapshot": pd.Series([None] * len(rows), dtype="object"),
            }
        )
        return out[list(EVENT_COLUMNS)]

    def counts(
        self,
        interval: str = "1min",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        camera: str | None = None,
    ) -> pd.DataFrame:
        """Events per `interval` as COUNT_COLUMNS, intervals aligned to the epoch.

        Only intervals with at least one event appear; `time` is the start of
        the interval. Without `end`, InfluxDB 1.x would stop GROUP BY time at
        now(), so a far-future bound is used instead.
        """
        duration = _duration(interval)
        if end is None:
            end = pd.Timestamp("2262-01-01", tz="UTC")
        query = (
            f'SELECT count("track_id") FROM "{MEASUREMENT}"{self._where(start, end, camera)} '
            f'GROUP BY time({duration}), "camera", "line", "class", "direction" fill(none)'
        )
        return self._grouped(query, with_time=True)

    def totals(self) -> pd.DataFrame:
        """Everything counted so far, per camera, line, class and direction."""
        query = (
            f'SELECT count("track_id") FROM "{MEASUREMENT}" '
            'GROUP BY "camera", "line", "class", "direction"'
        )
        return self._grouped(query, with_time=False)

    def _grouped(self, query: str, *, with_time: bool) -> pd.DataFrame:
        records: list[dict[str, Any]] = []
        for series in self._series(query):
            tags = series.get("tags") or {}
            for point in series["values"]:
                record = {key: tags.get(key, "") for key in _KEYS}
                record["time"] = point[0]
                record["count"] = point[1]
                records.append(record)
        frame = pd.DataFrame(records, columns=["time", *_KEYS, "count"])
        frame["count"] = frame["count"].astype("int64")
        if not with_time:
            frame = frame.sort_values(_KEYS, kind="stable", ignore_index=True)
            return frame[list(TOTAL_COLUMNS)]
        frame["time"] = _times(frame["time"].to_numpy(dtype="int64"))
        frame = frame.sort_values(["time", *_KEYS], kind="stable", ignore_index=True)
        return frame[list(COUNT_COLUMNS)]

    def close(self) -> None:
        """Nothing to release: every query is one HTTP request."""
