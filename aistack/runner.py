"""Run a YAML config for as long as its sources last: store, metrics server and pipeline."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from aistack.config_file import load_config
from aistack.live_view import LiveView
from aistack.metrics import MetricsServer, PipelineMetrics
from aistack.pipeline import Pipeline, RunSummary
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
    server = None
    if config.metrics.enabled:
        server = MetricsServer(metrics, config.metrics.host, config.metrics.port)
        log.info("metrics at %s", server.url)
    view = None
    try:
        if config.live_view.enabled:
            live = config.live_view
            view = LiveView(live.host, live.port, live.fps, live.jpeg_quality).start()
            log.info("live view at %s", view.url)
        with SqliteSink(config.store.path, config.store.interval_seconds) as sink:
            run_id = sink.start_run(str(path), config.model_dump(mode="json"))
            pipeline = Pipeline(
                config, metrics=metrics, sinks={"sqlite": sink}, pace="native",
                supervise=True, progress=progress,
            )  # fmt: skip
            if view is not None:
                pipeline.on_result = view.observer(pipeline.cameras)
            if on_start is not None:
                on_start(pipeline.stop)
            summary = pipeline.run()
            sink.finish_run(run_id, summary.to_dict())
        log.info("events stored in %s", config.store.path)
        return summary
    finally:
        if view is not None:
            view.stop()
        if server is not None:
            server.stop()
