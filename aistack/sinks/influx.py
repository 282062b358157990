"""The InfluxDB sink: events become line-protocol points in a disk spool, sent by a thread.

`write()` only appends to the spool, so a slow or dead server never stalls
counting; the sender drains the spool in order, acks what the server took,
and backs off with jitter while it is down. Points left at `close()` stay in
the spool and go first at the next start. See docs/influxdb.md for the schema.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aistack.errors import SinkError
from aistack.redact import redact_text, redact_url
from aistack.sinks.spool import DEFAULT_MAX_POINTS, Spool
from aistack.types import Event

log = logging.getLogger(__name__)

MEASUREMENT = "aistack_events"
TOKEN_ENV_VARS = ("AISTACK_INFLUX_TOKEN", "INFLUX_TOKEN")

InfluxApi = Literal["v1", "v2"]


def _escape_tag(value: str) -> str:
    # Line protocol: commas, equals signs and spaces end a tag value, so they
    # are escaped. A backslash cannot be written portably: InfluxDB 1.x keeps
    # an escaped backslash as two characters, 2.x as one, and one before a comma
    # or at the end escapes what follows. It becomes "/": camera a\b is a/b.
    value = value.replace("\\", "/")
    return value.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


class LineEncoder:
    """Turns events into line protocol with a unique timestamp per point.

    InfluxDB keeps one point per (measurement, tag set, timestamp); two people
    crossing a line in the same frame share a timestamp and would merge into
    one. Event times are floats, exact to about a microsecond, so the point's
    time is the event's microsecond and the three nanosecond digits below it
    number the events of one series within that microsecond (0, 1, 2, ...).
    """

    def __init__(self) -> None:
        # Per series: the microsecond last seen and how many points used it.
        # One entry per tag set, which is bounded (never a track id).
        self._last: dict[str, tuple[int, int]] = {}

    def encode(self, event: Event) -> str:
        tags = {
            "camera": event.camera,
            "class": event.class_name,
            "direction": event.direction,
            "kind": event.kind,
            "line": event.counter,
        }
        # An empty tag value is not valid line protocol; leaving the tag out is.
        series = MEASUREMENT + "".join(
            f",{key}={_escape_tag(value)}" for key, value in sorted(tags.items()) if value
        )
        micros = round(event.timestamp * 1_000_000)
        last_micros, used = self._last.get(series, (None, 0))
        tiebreak = used if last_micros == micros else 0
        self._last[series] = (micros, tiebreak + 1)
        # Beyond 1000 events of one series in one microsecond the time spills
        # into the next microsecond, which is still unique and off by < 1 µs.
        nanos = micros * 1000 + tiebreak
        fields = f"count=1i,frame_index={int(event.frame_index)}i,track_id={int(event.track_id)}i"
        return f"{series} {fields} {nanos}"


def influx_token(token: str | None) -> str | None:
    """The token given, else from AISTACK_INFLUX_TOKEN or INFLUX_TOKEN, else None."""
    if token:
        return token
    for name in TOKEN_ENV_VARS:
        value = os.environ.get(name)
        if value:
            return value
    return None


def split_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without `user:password@`, and that "user:password" (None if absent)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.username:
        return url.rstrip("/"), None
    userinfo = (
        f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    )
    bare = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urllib.parse.urlunsplit(bare).rstrip("/"), userinfo


def http_auth(url: str, token: str | None = None) -> tuple[str, dict[str, str]]:
    """The URL without credentials, and the headers that carry them.

    urllib cannot use `user:password@` in a URL, so it becomes Basic auth;
    otherwise a token becomes `Authorization: Token ...` (InfluxDB 1.8+ and 2.x).
    """
    base, userinfo = split_userinfo(url)
    if userinfo is not None:
        return base, {"Authorization": "Basic " + base64.b64encode(userinfo.encode()).decode()}
    return base, {"Authorization": f"Token {token}"} if token else {}


class _DeliveryError(Exception):
    """A batch did not reach the server; `permanent` means retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class _V1Writer:
    """POST /write?db=...&precision=ns (InfluxDB 1.x, or 2.x/3.x v1 compatibility)."""

    def __init__(self, url: str, database: str, token: str | None, timeout: float) -> None:
        self._base, self._headers = http_auth(url, token)
        self._headers["Content-Type"] = "text/plain; charset=utf-8"
        self._database = database
        self._timeout = timeout

    def _post(self, path: str, params: dict[str, str], body: bytes) -> None:
        url = f"{self._base}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=body, headers=self._headers, method="POST")
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            response.read()

    def write(self, lines: Sequence[str]) -> None:
        body = "\n".join(lines).encode()
        try:
            try:
                self._post("/write", {"db": self._database, "precision": "ns"}, body)
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
                # 404: the database does not exist (yet, or any more). CREATE
                # DATABASE is idempotent; a failure to create is reported as is.
                self._post("/query", {"q": f'CREATE DATABASE "{self._database}"'}, b"")
                self._post("/write", {"db": self._database, "precision": "ns"}, body)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace").strip()[:300]
            # 400: the server refuses the points themselves (a field type
            # conflict, say); sending them again would block everything behind.
            raise _DeliveryError(
                f"HTTP {error.code}: {detail or error.reason}", permanent=error.code == 400
            ) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise _DeliveryError(str(reason) or type(error).__name__) from None

    def close(self) -> None:
        pass


class _V2Writer:
    """influxdb-client's synchronous write API (InfluxDB 2.x/3.x, VictoriaMetrics)."""

    def __init__(self, url: str, bucket: str, org: str, token: str | None, timeout: float) -> None:
        try:
            from influxdb_client.client.influxdb_client import InfluxDBClient
            from influxdb_client.client.write_api import SYNCHRONOUS
        except ImportError:
            raise SinkError(
                "the InfluxDB v2 API needs influxdb-client: pip install influxdb-client"
            ) from None
        base, userinfo = split_userinfo(url)
        # InfluxDB 1.8's v2 API takes "user:password" as the token.
        token = token or userinfo
        # retries=False: our loop owns retrying, so a dead server costs one timeout.
        self._client: Any = InfluxDBClient(
            url=base, token=token or "", org=org, timeout=int(timeout * 1000), retries=False
        )
        self._api: Any = self._client.write_api(write_options=SYNCHRONOUS)
        self._bucket = bucket
        self._org = org

    def write(self, lines: Sequence[str]) -> None:
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            self._api.write(
                bucket=self._bucket,
                org=self._org,
                record=list(lines),
                write_precision=WritePrecision.NS,
            )
        except ApiException as error:
            detail = str(error.body or error.reason or "").strip()[:300]
            raise _DeliveryError(
                f"HTTP {error.status}: {detail}", permanent=error.status == 400
            ) from None
        except Exception as error:  # urllib3 raises many kinds for a dead server
            raise _DeliveryError(_error_line(error)) from None

    def close(self) -> None:
        self._api.close()
        self._client.close()


def _error_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class InfluxSink:
    """Writes events to InfluxDB through a disk spool and a sender thread.

    `errors` counts failed deliveries, `written` points the server took,
    `rejected` points it refused for good (HTTP 400), `pending` points in the
    spool and `dropped` points the full spool discarded. Use it as a context
    manager, or call `start()` and `close()`.
    """

    def __init__(
        self,
        url: str,
        *,
        api: InfluxApi = "v1",
        database: str = "aistack",
        bucket: str | None = None,
        org: str = "",
        token: str | None = None,
        spool_path: Path | str = Path("aistack-influx.spool"),
        max_spool_points: int = DEFAULT_MAX_POINTS,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        timeout: float = 10.0,
        max_backoff: float = 30.0,
    ) -> None:
        if api not in ("v1", "v2"):
            raise SinkError(f"influx sink: api must be 'v1' or 'v2', got {api!r}")
        if batch_size < 1 or not flush_interval > 0 or not timeout > 0 or not max_backoff > 0:
            raise SinkError(
                "influx sink: batch_size must be >= 1 and flush_interval, timeout and "
                "max_backoff > 0"
            )
        # Public and loggable, so redacted; the writer keeps the real one.
        self.url = redact_url(url)
        self.api = api
        self.batch_size = int(batch_size)
        self.flush_interval = float(flush_interval)
        self.max_backoff = float(max_backoff)
        self.errors = 0
        self.written = 0
        self.rejected = 0
        where = f"bucket {bucket or database}" if api == "v2" else f"database {database}"
        self._target = f"{self.url} ({api}, {where})"
        self._encoder = LineEncoder()
        self._encode_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._close_deadline = 0.0
        self._closed = False
        self._timeout = float(timeout)
        self._failures = 0
        self._spool = Spool(Path(spool_path), max_spool_points)
        secret = influx_token(token)
        try:
            self._writer: _V1Writer | _V2Writer = (
                _V1Writer(url, database, secret, timeout)
                if api == "v1"
                else _V2Writer(url, bucket or database, org, secret, timeout)
            )
        except BaseException:
            self._spool.close()
            raise

    @property
    def pending(self) -> int:
        return self._spool.pending()

    @property
    def dropped(self) -> int:
        return self._spool.dropped

    def write(self, events: Sequence[Event]) -> None:
        """Spool the events and return; the sender thread delivers them."""
        if not events:
            return
        with self._encode_lock:
            lines = [self._encoder.encode(event) for event in events]
            # Appending under the same lock keeps spool order equal to the tiebreak order.
            self._spool.append(lines)

    def start(self) -> InfluxSink:
        """Start the sender thread; spooled points from an earlier run go first."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="aistack-influx", daemon=True)
            self._thread.start()
            log.info("influx sink: sending to %s, %d points spooled", self._target, self.pending)
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                outcome = self._send_batch()
            except SinkError as error:  # the spool file failed; nothing to deliver
                log.error("influx sink: %s", redact_text(str(error)))
                outcome = "failed"
            if outcome == "full":
                continue
            self._stop.wait(self._backoff() if outcome == "failed" else self.flush_interval)
        self._flush_until(self._close_deadline)

    def _backoff(self) -> float:
        # Exponential, randomised within its upper half, so many sinks coming
        # back together do not hammer a recovering server in lockstep.
        ceiling = min(self.max_backoff, 0.5 * 2 ** min(self._failures, 16))
        return random.uniform(ceiling / 2, ceiling)

    def _send_batch(self) -> Literal["empty", "partial", "full", "failed"]:
        batch = self._spool.peek(self.batch_size)
        if not batch:
            return "empty"
        ids = [point_id for point_id, _ in batch]
        try:
            self._writer.write([line for _, line in batch])
        except _DeliveryError as error:
            self.errors += 1
            if error.permanent:
                self.rejected += len(batch)
                self._spool.ack(ids)
                log.error(
                    "influx sink: %s refused %d points for good, dropped them: %s",
                    self._target,
                    len(batch),
                    redact_text(str(error)),
                )
                return "partial"
            self._failures += 1
            # Log the first failure of an outage and then every tenth, not every retry.
            if self._failures == 1 or self._failures % 10 == 0:
                log.warning(
                    "influx sink: cannot reach %s (%s); %d points spooled, retrying",
                    self._target,
                    redact_text(str(error)),
                    self.pending,
                )
            return "failed"
        self._spool.ack(ids)
        self.written += len(batch)
        if self._failures:
            log.info("influx sink: %s is back after %d failed tries", self._target, self._failures)
            self._failures = 0
        return "full" if len(batch) == self.batch_size else "partial"

    def _flush_until(self, deadline: float) -> None:
        while self.pending and time.monotonic() < deadline:
            try:
                outcome = self._send_batch()
            except SinkError:
                return
            if outcome in ("empty", "failed"):
                return

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the spool is empty (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            if self._thread is None:
                self._flush_until(deadline)
                break
            time.sleep(0.02)
        return self.pending == 0

    def close(self, timeout: float = 10.0) -> None:
        """Send what can be sent within `timeout`; the rest stays spooled for the next start."""
        if self._closed:
            return
        self._closed = True
        self._close_deadline = time.monotonic() + timeout
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            # One HTTP timeout past the deadline covers a request already in flight.
            thread.join(timeout + self._timeout + 1.0)
        else:
            self._flush_until(self._close_deadline)
        left = self.pending
        if left:
            log.warning(
                "influx sink: %d points stay spooled in %s for the next start",
                left,
                self._spool.path,
            )
        self._writer.close()
        self._spool.close()

    def __enter__(self) -> InfluxSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
