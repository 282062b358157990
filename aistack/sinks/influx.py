"""The InfluxDB sink: events become line-protocol points in a disk spool, sent by a thread.

`write()` only appends to the spool, so a slow or dead server never stalls
counting; the sender drains the spool in order, acks what the server took,
and backs off with jitter while it is down. Points left at `close()` stay in
the spool and go first at the next start. See docs/influxdb.md for the schema.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from aistack.errors import SinkError
from aistack.redact import redact_text, redact_url
from aistack.sinks.influx_protocol import (
    MEASUREMENT,
    TOKEN_ENV_VARS,
    LineEncoder,
    _DeliveryError,
    _V1Writer,
    _V2Writer,
    http_auth,
    influx_token,
    split_userinfo,
)
from aistack.sinks.spool import DEFAULT_MAX_POINTS, Spool
from aistack.types import Closing, Event

log = logging.getLogger(__name__)

# The encoder and credential helpers live in influx_protocol and stay importable from here.
__all__ = [
    "MEASUREMENT",
    "TOKEN_ENV_VARS",
    "InfluxApi",
    "InfluxSink",
    "LineEncoder",
    "http_auth",
    "influx_token",
    "split_userinfo",
]

InfluxApi = Literal["v1", "v2"]


class InfluxSink(Closing):
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
