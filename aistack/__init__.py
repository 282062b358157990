"""aistack: count things in live video, store the counts, and watch them.

The public API is listed in `__all__`. Names load on first use, so that
`import aistack` (and `aistack --help`) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "AistackError": "aistack.errors",
    "ConfigError": "aistack.errors",
    "SourceError": "aistack.errors",
    "ModelError": "aistack.errors",
    "SinkError": "aistack.errors",
    "AppConfig": "aistack.config",
    "CameraConfig": "aistack.config",
    "load_config": "aistack.config",
    "parse_config": "aistack.config",
    "Frame": "aistack.types",
    "Detections": "aistack.types",
    "Event": "aistack.types",
    "load_detector": "aistack.detect",
    "LineCounter": "aistack.analytics.lines",
    "ZoneCounter": "aistack.analytics.zones",
    "Pipeline": "aistack.pipeline.wiring",
    "RunSummary": "aistack.pipeline.wiring",
    "PipelineMetrics": "aistack.pipeline.metrics",
    "SqliteSink": "aistack.sinks.sqlite",
    "open_store": "aistack.stores.sqlite",
    "write_report": "aistack.workbench.report",
    "run_demo": "aistack.workbench.demo",
    "evaluate": "aistack.evaluation.evaluate",
    "LiveView": "aistack.live.view",
    "LineTuner": "aistack.workbench.widgets",
    "stack_up": "aistack.stack.control",
    "stack_status": "aistack.stack.control",
    "stack_down": "aistack.stack.control",
    "redact_url": "aistack.redact",
    "bench_history": "aistack.workbench.bench_history",
    "bench_history_figure": "aistack.workbench.bench_history",
}

__all__ = [
    "AistackError",
    "AppConfig",
    "CameraConfig",
    "ConfigError",
    "Detections",
    "Event",
    "Frame",
    "LineCounter",
    "LineTuner",
    "LiveView",
    "ModelError",
    "Pipeline",
    "PipelineMetrics",
    "RunSummary",
    "SinkError",
    "SourceError",
    "SqliteSink",
    "ZoneCounter",
    "__version__",
    "bench_history",
    "bench_history_figure",
    "evaluate",
    "load_config",
    "load_detector",
    "open_store",
    "parse_config",
    "redact_url",
    "run_demo",
    "stack_down",
    "stack_status",
    "stack_up",
    "write_report",
]

if TYPE_CHECKING:
    from aistack.analytics.lines import LineCounter
    from aistack.analytics.zones import ZoneCounter
    from aistack.config import AppConfig, CameraConfig, load_config, parse_config
    from aistack.detect import load_detector
    from aistack.errors import AistackError, ConfigError, ModelError, SinkError, SourceError
    from aistack.evaluation.evaluate import evaluate
    from aistack.live.view import LiveView
    from aistack.pipeline.metrics import PipelineMetrics
    from aistack.pipeline.wiring import Pipeline, RunSummary
    from aistack.redact import redact_url
    from aistack.sinks.sqlite import SqliteSink
    from aistack.stack.control import stack_down, stack_status, stack_up
    from aistack.stores.sqlite import open_store
    from aistack.types import Detections, Event, Frame
    from aistack.workbench.bench_history import bench_history, bench_history_figure
    from aistack.workbench.demo import run_demo
    from aistack.workbench.report import write_report
    from aistack.workbench.widgets import LineTuner


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aistack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
