"""Reads metrics back from Prometheus or VictoriaMetrics with PromQL, as DataFrames."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pandas as pd

from aistack.errors import ConfigError, SinkError
from aistack.redact import redact_text, redact_url
from aistack.sinks.influx_protocol import http_auth
from aistack.stores.sqlite import COUNT_COLUMNS, TimeLike, check_interval, to_seconds
from aistack.types import Closing

CROSSED_METRIC = "aistack_objects_crossed_total"
_KEYS = ["camera", "line", "class", "direction"]


def _interval_seconds(interval: str) -> float:
    check_interval(interval)
    try:
        seconds = pd.tseries.frequencies.to_offset(interval).nanos / 1e9
    except ValueError:
        seconds = 0.0
    if seconds < 1:
        raise ConfigError(
            f"interval {interval!r} is not a fixed length of at least 1 s (e.g. 10s, 5min, 1h)"
        )
    return seconds


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _frame(rows: list[dict[str, Any]], labels: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["time", *labels, "value"])
    # Prometheus times are milliseconds sent as float seconds; round away the float error.
    millis = (frame["time"].astype("float64") * 1000).round().astype("int64")
    frame["time"] = pd.to_datetime(millis, unit="ms", utc=True).astype("datetime64[ns, UTC]")
    frame["value"] = frame["value"].astype("float64")
    return frame


def crossings_per_interval(samples: pd.DataFrame, first: float, seconds: float) -> pd.DataFrame:
    """COUNT_COLUMNS from counter values read every `seconds` from `first` (a range query's frame).

    Each series (one exporter's camera, line, class and direction) is
    differenced on its own before series are summed, so one exporter's
    restart cannot hide another's counts. A drop in a counter is a restart:
    the new value is all counted since. A series absent at the first step
    (time `first`, seconds since the epoch) and present later is new, and all
    of its value is counted.
    """
    labels = [c for c in samples.columns if c not in ("time", "value")]
    records: list[dict[str, Any]] = []
    if not samples.empty:
        baseline = pd.Timestamp(first, unit="s", tz="UTC")
        for group, series in samples.groupby(labels, sort=False, dropna=False):
            names = dict(zip(labels, group, strict=True))
            previous: float | None = None
            for when, value in zip(series["time"], series["value"], strict=True):
                if previous is None:
                    delta = 0.0 if when <= baseline else value
                else:
                    delta = value - previous if value >= previous else value
                previous = value
                if delta > 0:
                    record: dict[str, Any] = {k: names.get(k) or "" for k in _KEYS}
                    # The value at t counts crossings up to t: the interval that ends at t.
                    record["time"] = when - pd.Timedelta(seconds=seconds)
                    record["count"] = round(delta)
                    records.append(record)
    frame = pd.DataFrame(records, columns=list(COUNT_COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"], utc=True).astype("datetime64[ns, UTC]")
    frame["count"] = frame["count"].astype("int64")
    summed = frame.groupby(["time", *_KEYS], sort=True)["count"].sum().reset_index()
    return summed[list(COUNT_COLUMNS)]


class PrometheusStore(Closing):
    """PromQL queries against a Prometheus-compatible HTTP API."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._base, self._headers = http_auth(url)
        self.url = redact_url(url)
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self._base}{path}?{urllib.parse.urlencode(params)}"
        where = f"Prometheus at {self.url}"
        request = urllib.request.Request(url, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            # Prometheus answers a bad query with 400/422 and a JSON error.
            try:
                message = str(json.loads(error.read()).get("error", error.reason))
            except ValueError:
                message = str(error.reason)
            raise SinkError(
                f"{where} refused the query: HTTP {error.code} {redact_text(message)}"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SinkError(f"cannot query {where}: {reason}") from None
        except ValueError:
            raise SinkError(f"cannot query {where}: the answer is not JSON") from None
        if body.get("status") != "success":
            raise SinkError(f"{where} refused the query: {redact_text(str(body.get('error')))}")
        data: dict[str, Any] = body.get("data") or {}
        return data

    @staticmethod
    def _rows(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        kind = data.get("resultType")
        result = data.get("result") or []
        if kind in ("scalar", "string"):
            return [{"time": result[0], "value": result[1]}], []
        rows: list[dict[str, Any]] = []
        labels: set[str] = set()
        for series in result:
            metric = series.get("metric") or {}
            labels.update(metric)
            points = series.get("values") if kind == "matrix" else [series.get("value")]
            for point in points or []:
                rows.append({**metric, "time": point[0], "value": point[1]})
        return rows, sorted(labels)

    def query(self, promql: str, at: TimeLike | None = None) -> pd.DataFrame:
        """An instant query: one row per series, columns time, labels..., value."""
        params = {"query": promql}
        if at is not None:
            params["time"] = repr(to_seconds(at))
        rows, labels = self._rows(self._get("/api/v1/query", params))
        return _frame(rows, labels)

    def range(
        self, promql: str, start: TimeLike, end: TimeLike, step: float | str = 15.0
    ) -> pd.DataFrame:
        """A range query: one row per series and step, columns time, labels..., value."""
        step_seconds = _interval_seconds(step) if isinstance(step, str) else float(step)
        params = {
            "query": promql,
            "start": repr(to_seconds(start)),
            "end": repr(to_seconds(end)),
            "step": repr(step_seconds),
        }
        rows, labels = self._rows(self._get("/api/v1/query_range", params))
        frame = _frame(rows, labels)
        return frame.sort_values(["time", *labels], kind="stable", ignore_index=True)

    def counts(
        self,
        interval: str = "1min",
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        camera: str | None = None,
    ) -> pd.DataFrame:
        """Line crossings per `interval` as COUNT_COLUMNS, from the crossing counter.

        The counter is read at every interval boundary and differenced, which
        is what `increase()` estimates, minus its pitfalls: with windows equal
        to the step, `increase()` drops a jump that falls between two windows'
        samples and extrapolates the rest to non-integers. A count is exact
        with respect to the scrapes, so a crossing lands in the interval of the
        first scrape that saw it. Intervals are aligned to the epoch; `end`
        defaults to now, `start` to one hour before `end`; the last interval
        may be partial. Only intervals with a count appear.
        """
        seconds = _interval_seconds(interval)
        end_s = time.time() if end is None else to_seconds(end)
        start_s = end_s - 3600.0 if start is None else to_seconds(start)
        first = math.floor(start_s / seconds) * seconds
        last = max(math.ceil(end_s / seconds) * seconds, first + seconds)
        selector = f'{{camera="{_label_value(camera)}"}}' if camera is not None else ""
        samples = self.range(f"{CROSSED_METRIC}{selector}", first, last, seconds)
        return crossings_per_interval(samples, first, seconds)

    def close(self) -> None:
        """Nothing to release: every query is one HTTP request."""
