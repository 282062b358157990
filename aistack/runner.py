"""Run a YAML config for as long as its sources last: store, metrics server and pipeline."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from aistack.config import AppConfig
from aistack.config_file import load_config
from aistack.gpu import register_gpu_metrics
from aistack.live_view import LiveView
from aistack.metrics import MetricsServer, PipelineMetrics
from aistack.pipeline import EventSink, Pipeline, RunSummary
from aistack.sinks.influx import InfluxSink
from aistack.sinks.sqlite import SqliteSink

log = logging.getLogger("aistack.run")


def run_config(
    path: Path,
    on_start: Callable[[Callable[[], None]], None] | None = None,
    progress: bool = False,
) -> RunSummary:
    """Run until every source ends or the stop callable handed to `on_start` is called."""
    config = load_config(path)
    metrics = PipelineMetrics()
    register_gpu_metrics(metrics.registry)  # one info line and nothing more without a GPU
    server = None
    if config.metrics.enabled:
        server = MetricsServer(metrics, config.metrics.host, config.metrics.port)
        log.info("metrics at %s", server.url)
    try:
        with contextlib.ExitStack() as stack:
            if config.live_view.enabled:
                live = config.live_view
                view = stack.enter_context(
                    LiveView(live.host, live.port, live.fps, live.jpeg_quality)
                )
                log.info("live view at %s", view.url)
            else:
                view = None
            sqlite = stack.enter_context(
                SqliteSink(config.store.path, config.store.interval_seconds)
            )
            sinks: dict[str, EventSink] = {"sqlite": sqlite}
            if config.influx.enabled:
                sinks["influx"] = stack.enter_context(_influx_sink(config))
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
            if view is not None:
                pipeline.on_result = view.observer(pipeline.cameras)
            if on_start is not None:
                on_start(pipeline.stop)
            summary = pipeline.run()
            sqlite.finish_run(run_id, summary.to_dict())
            log.info("events stored in %s", config.store.path)
            return summary
    finally:
        if server is not None:
            server.stop()


def _influx_sink(config: AppConfig) -> InfluxSink:
    influx = config.influx
    return InfluxSink(
        influx.url, api=influx.api, database=influx.database, bucket=influx.bucket,
        org=influx.org, token=influx.token, spool_path=influx.spool_path,
        max_spool_points=influx.max_spool_points, batch_size=influx.batch_size,
        flush_interval=influx.flush_interval, timeout=influx.timeout,
    )  # fmt: skip
