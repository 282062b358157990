"""A whole run's configuration: cameras and the shared stages, with the preset applied."""

from __future__ import annotations

from pydantic import Field, model_validator

from aistack.config.base import Strict
from aistack.config.camera import CameraConfig
from aistack.config.detector import DetectorConfig
from aistack.config.outputs import (
    InfluxConfig,
    LiveViewConfig,
    MetricsConfig,
    PipelineSettings,
    SnapshotConfig,
    StoreConfig,
)
from aistack.config.presets import (
    DEFAULT_PRESET,
    PRESETS,
    Preset,
    preset_detector,
    preset_models_in_words,
    tracker_for,
)
from aistack.config.tracking import CountingConfig, PoseConfig, TrackerConfig


class AppConfig(Strict):
    """A whole run: cameras with their lines and zones, and the shared stages."""

    preset: Preset = Field(
        default=DEFAULT_PRESET,
        description="fast, balanced or accurate: which bundled detector runs "
        f"({preset_models_in_words()}), at what input size and precision "
        "(docs/accuracy.md has each one's speed and count error); a key set explicitly, "
        "such as detector.nanodet_size or detector.model, wins over the preset, and a "
        "bundled model named in the config gets its own size for the preset",
    )
    cameras: list[CameraConfig] = Field(min_length=1)
    detector: DetectorConfig = DetectorConfig()
    tracker: TrackerConfig = TrackerConfig()
    counting: CountingConfig = CountingConfig()
    pose: PoseConfig = PoseConfig()
    store: StoreConfig = Field(default_factory=StoreConfig)
    influx: InfluxConfig = Field(default_factory=InfluxConfig)
    metrics: MetricsConfig = MetricsConfig()
    pipeline: PipelineSettings = PipelineSettings()
    snapshots: SnapshotConfig = Field(default_factory=SnapshotConfig)
    live_view: LiveViewConfig = LiveViewConfig()

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: object) -> object:
        # The preset fills in only what the config leaves unset.
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", DEFAULT_PRESET)
        if preset not in PRESETS:
            return data  # the field's own validation names the choices
        merged = dict(data)
        for section, values in PRESETS[preset].items():
            given = merged.get(section)
            if section == "detector":
                values = preset_detector(preset, given)
            if given is None:
                merged[section] = dict(values)
            elif isinstance(given, dict):
                merged[section] = {**values, **given}
        # The tracker settings the detector's scores need, unless the tracker section says.
        detector, tracker = merged.get("detector"), merged.get("tracker")
        if isinstance(detector, dict) and (tracker is None or isinstance(tracker, dict)):
            merged["tracker"] = {**tracker_for(detector), **(tracker or {})}
        return merged

    @model_validator(mode="after")
    def _unique_cameras(self) -> AppConfig:
        names = [camera.name for camera in self.cameras]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"camera names must be unique, repeated: {duplicates}")
        push = self.live_view.push_url
        if push is not None and len(names) > 1 and "{camera}" not in push:
            raise ValueError(
                "live_view.push_url: with several cameras put '{camera}' in it, "
                "so each camera pushes to its own mount"
            )
        return self
