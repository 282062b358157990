"""An aistack configuration: pydantic models, loaded strictly from YAML.

One module per part of a run: `camera` (sources, lines, zones), `detector`, `tracking`
(tracker, counting, pose), `outputs` (store, InfluxDB, metrics, snapshots, live view,
the frame pipeline), `presets`, `app` (the whole run) and `file` (YAML with file, line
and field in every error). Import from here; the modules are the layout, not the API.
"""

from aistack.config.app import AppConfig
from aistack.config.base import (
    STREAM_SCHEMES,
    Port,
    Strict,
    check_stream_url,
    check_url,
    default_data_dir,
    source_kind,
)
from aistack.config.camera import (
    CAMERA_NAME,
    COUNTER_NAME_RULE,
    CameraConfig,
    LineConfig,
    SourceConfig,
    ZoneConfig,
    parse_line,
)
from aistack.config.detector import DetectorConfig
from aistack.config.file import field_line, format_validation_error, load_config, parse_config
from aistack.config.outputs import (
    InfluxConfig,
    LiveViewConfig,
    MetricsConfig,
    PipelineSettings,
    SnapshotConfig,
    StoreConfig,
)
from aistack.config.presets import (
    BUNDLED_PRESETS,
    DEFAULT_PRESET,
    MODEL_TRACKER,
    POSE_TRACKER,
    PRESET_MODELS,
    PRESETS,
    Preset,
    preset_models_in_words,
    tracker_for,
)
from aistack.config.tracking import Anchor, CountingConfig, PoseConfig, TrackerConfig

__all__ = [
    "BUNDLED_PRESETS",
    "CAMERA_NAME",
    "COUNTER_NAME_RULE",
    "DEFAULT_PRESET",
    "MODEL_TRACKER",
    "POSE_TRACKER",
    "PRESETS",
    "PRESET_MODELS",
    "STREAM_SCHEMES",
    "Anchor",
    "AppConfig",
    "CameraConfig",
    "CountingConfig",
    "DetectorConfig",
    "InfluxConfig",
    "LineConfig",
    "LiveViewConfig",
    "MetricsConfig",
    "PipelineSettings",
    "Port",
    "PoseConfig",
    "Preset",
    "SnapshotConfig",
    "SourceConfig",
    "StoreConfig",
    "Strict",
    "TrackerConfig",
    "ZoneConfig",
    "check_stream_url",
    "check_url",
    "default_data_dir",
    "field_line",
    "format_validation_error",
    "load_config",
    "parse_config",
    "parse_line",
    "preset_models_in_words",
    "source_kind",
    "tracker_for",
]
