"""Run a YAML config for as long as its sources last: store, metrics server and pipeline."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from aistack.analytics.camera import FrameResult
from aistack.config import AppConfig, field_line, load_config
from aistack.errors import AistackError, ConfigError, field_name
from aistack.live.push import RtspPublisher
from aistack.live.view import LiveView
from aistack.pipeline.gpu import register_gpu_metrics
from aistack.pipeline.metrics import MetricsServer, PipelineMetrics
from aistack.pipeline.sharding import Shard, select_cameras, shard_from_env, statefulset_replicas
from aistack.pipeline.wiring import Pipeline, RunSummary
from aistack.redact import redact_url
from aistack.sinks.influx import InfluxSink
from aistack.sinks.sqlite import SqliteSink
from aistack.sinks.writer import EventSink

log = logging.getLogger("aistack.run")


def run_config(
    path: Path,
    on_start: Callable[[Callable[[], None]], None] | None = None,
    progress: bool = False,
) -> RunSummary:
    """Run until every source ends or the stop callable handed to `on_start` is called.

    An error about a config value (a missing source, a model, a port in use, a store
    that cannot be written) names the file, line and field, as a config error does.
    """
    full = load_config(path)
    try:
        return _run(path, full, on_start, progress)
    except AistackError as error:
        if error.field is None:
            raise
        line = field_line(path, error.field)
        where = f"{path}:{line}" if line is not None else str(path)
        raise type(error)(f"{where}: {field_name(error.field)}: {error}") from None


def _run(
    path: Path,
    full: AppConfig,
    on_start: Callable[[Callable[[], None]], None] | None,
    progress: bool,
) -> RunSummary:
    shard = shard_from_env()
    config = select_cameras(full, shard)
    metrics = PipelineMetrics()
    if shard is not None:
        metrics.shard_index.set(shard.index)
        metrics.shards.set(shard.count)
    # What started is logged once everything has, so an error is the only line printed.
    started: list[str] = []
    server = None
    if full.metrics.enabled:
        server = MetricsServer(metrics, full.metrics.host, full.metrics.port)
        started.append(f"metrics at {server.url}")
    try:
        if config is None:  # a shard with no cameras stays up, so scaling down is calm
            _announce(started, metrics)
            idle = threading.Event()
            if on_start is not None:
                on_start(idle.set)
            _watch_shard(shard, idle.set)
            idle.wait()
            return RunSummary(cameras=[], frames=0, seconds=0.0)
        with contextlib.ExitStack() as stack:
            if config.live_view.enabled:
                live = config.live_view
                view = stack.enter_context(
                    LiveView(live.host, live.port, live.fps, live.jpeg_quality)
                )
                started.append(f"live view at {view.url}")
            else:
                view = None
            try:
                sqlite = stack.enter_context(
                    SqliteSink(config.store.path, config.store.interval_seconds)
                )
            except AistackError as error:
                raise error.at("store", "path") from None
            sinks: dict[str, EventSink] = {"sqlite": sqlite}
            if config.influx.enabled:
                try:
                    sinks["influx"] = stack.enter_context(_influx_sink(config))
                except AistackError as error:
                    raise error.at("influx") from None
            # Never store a secret, even in our own database.
            recorded = config.model_dump(mode="json", exclude={"influx": {"token"}})
            run_id = sqlite.start_run(str(path), recorded)
            pipeline = Pipeline(
                config,
                metrics=metrics,
                sinks=sinks,
                pace="native",
                supervise=True,
                progress=progress,
            )
            observers = [] if view is None else [view.observer(pipeline.cameras)]
            if config.live_view.push_url is not None:
                try:
                    publisher = stack.enter_context(
                        RtspPublisher(config.live_view.push_url, config.live_view.fps)
                    )
                except AistackError as error:
                    raise error.at("live_view", "push_url") from None
                observers.append(publisher.observer(pipeline.cameras))
                started.append(
                    f"pushing annotated video to {redact_url(config.live_view.push_url)}"
                )
            if observers:
                pipeline.on_result = _all_of(observers)
            _announce(started, metrics)
            if on_start is not None:
                on_start(pipeline.stop)
            _watch_shard(shard, pipeline.stop)
            summary = pipeline.run()
            sqlite.finish_run(run_id, summary.to_dict())
            log.info("events stored in %s", config.store.path)
            return summary
    finally:
        if server is not None:
            server.stop()


def _announce(started: list[str], metrics: PipelineMetrics) -> None:
    for line in started:
        log.info("%s", line)
    register_gpu_metrics(metrics.registry)  # one info line and nothing more without a GPU


def _all_of(observers: list[Callable[[FrameResult], None]]) -> Callable[[FrameResult], None]:
    if len(observers) == 1:
        return observers[0]

    def observe(result: FrameResult) -> None:
        for observer in observers:
            observer(result)

    return observe


def _watch_shard(shard: Shard | None, stop: Callable[[], None], every: float = 30.0) -> None:
    """With AISTACK_SHARD_COUNT=auto, stop when the replica count changes (to restart resharded)."""
    if shard is None or not shard.auto:
        return

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                count = statefulset_replicas(os.environ)
            except ConfigError as error:
                log.warning("cannot check the shard count: %s", error)
                continue
            if count != shard.count:
                log.warning("replicas changed %d → %d: stopping to reshard", shard.count, count)
                stop()
                return

    threading.Thread(target=watch, name="shard-watch", daemon=True).start()


def _influx_sink(config: AppConfig) -> InfluxSink:
    influx = config.influx
    return InfluxSink(
        influx.url, api=influx.api, database=influx.database, bucket=influx.bucket,
        org=influx.org, token=influx.token, spool_path=influx.spool_path,
        max_spool_points=influx.max_spool_points, batch_size=influx.batch_size,
        flush_interval=influx.flush_interval, timeout=influx.timeout,
    )  # fmt: skip
