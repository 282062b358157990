"""A thread per sink, so a slow or failing store never holds up counting."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import Protocol

from prometheus_client import Counter, Gauge

from aistack.types import Event

log = logging.getLogger("aistack.pipeline")


class EventSink(Protocol):
    def write(self, events: Sequence[Event]) -> None: ...


class SinkMetrics(Protocol):
    """The metrics a sink writer updates; the pipeline's `PipelineMetrics` has them.

    A Protocol, so that sinks stay below the pipeline that wires them.
    """

    sink_errors: Counter
    spool_pending: Gauge


class SinkWriter(threading.Thread):
    """Feeds events to one sink off the counting path; failures are counted, not raised."""

    def __init__(self, name: str, sink: EventSink, metrics: SinkMetrics, size: int = 10_000):
        super().__init__(name=f"sink-{name}", daemon=True)
        self.sink_name = name
        self.sink = sink
        self.pending: queue.Queue[list[Event] | None] = queue.Queue(maxsize=size)
        self._metrics = metrics
        self._reported_errors = 0
        metrics.sink_errors.labels(name)  # export 0 before the first failure

    def submit(self, events: list[Event]) -> None:
        try:
            self.pending.put_nowait(events)
        except queue.Full:
            self._metrics.sink_errors.labels(self.sink_name).inc()
            log.warning("sink %s is too slow; %d events not written", self.sink_name, len(events))

    def run(self) -> None:
        while True:
            try:
                batch = self.pending.get(timeout=1.0)
            except queue.Empty:
                self._report()  # a remote sink's outage shows even when nothing is counted
                continue
            if batch is None:
                self._report()
                return
            while len(batch) < 5000:  # coalesce what is already waiting into one transaction
                try:
                    more = self.pending.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._write(batch)
                    return
                batch = batch + more
            self._write(batch)
            self._report()

    def _report(self) -> None:
        """Copy a buffering sink's own delivery errors and backlog into the metrics."""
        errors = getattr(self.sink, "errors", None)
        if isinstance(errors, int) and errors > self._reported_errors:
            self._metrics.sink_errors.labels(self.sink_name).inc(errors - self._reported_errors)
            self._reported_errors = errors
        pending = getattr(self.sink, "pending", None)
        if isinstance(pending, int):
            self._metrics.spool_pending.labels(self.sink_name).set(pending)

    def _write(self, batch: list[Event]) -> None:
        try:
            self.sink.write(batch)
        except Exception as error:
            self._metrics.sink_errors.labels(self.sink_name).inc()
            log.error("sink %s failed to write %d events: %s", self.sink_name, len(batch), error)

    def close(self) -> None:
        self.pending.put(None)
        self.join(timeout=30)
