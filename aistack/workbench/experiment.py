"""One experiment run: a config and its overrides → the pipeline → a SQLite store in a run folder.

Notebook 03 (and so `aistack job run`) calls `run_experiment`; notebook 04 finds
the stores it wrote with `latest_store`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import cv2
import pandas as pd
import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from aistack.config import (
    PRESETS,
    AppConfig,
    DetectorConfig,
    TrackerConfig,
    format_validation_error,
    load_config,
    tracker_for,
)
from aistack.errors import ConfigError
from aistack.pipeline.wiring import Pipeline, RunSummary
from aistack.redact import redact_url
from aistack.sinks.sqlite import SqliteSink

RUNS_DIR = Path("experiments/runs")
DEFAULT_EXPERIMENT = Path("experiments/people_walkway.yaml")
STORE_NAME = "aistack.sqlite"

_FINITE = ConfigDict(allow_inf_nan=False)
# What `run_experiment` (and so the job notebook's parameters cell) takes, checked before
# a job starts a kernel: a TypeError deep in the notebook would not name the parameter.
PARAMETER_TYPES: dict[str, TypeAdapter[Any]] = {
    "config": TypeAdapter(str | None),
    "source": TypeAdapter(str | None),
    "model": TypeAdapter(str | None),
    "device": TypeAdapter(str | None),
    "max_frames": TypeAdapter(Annotated[int | None, Field(strict=True, ge=1)]),
    "duration_s": TypeAdapter(Annotated[float | None, Field(gt=0)], config=_FINITE),
    "output_dir": TypeAdapter(str | None),
    "interval": TypeAdapter(str),
    "overrides": TypeAdapter(dict[str, Any]),
}


def check_parameters(parameters: Mapping[str, Any]) -> None:
    """Refuse a parameter of the wrong type or range, naming it (unknown names pass)."""
    for name, value in parameters.items():
        adapter = PARAMETER_TYPES.get(name)
        if adapter is None:
            continue
        try:
            adapter.validate_python(value)
        except ValidationError as error:
            problem = error.errors()[0]
            message = str(problem["msg"]).removeprefix("Value error, ")
            raise ConfigError(f"--param {name}={value!r}: {message}") from None


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: the working directory) that holds
    experiments/ and notebooks/, where configs' relative paths point from; else `start`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "experiments").is_dir() and (folder / "notebooks").is_dir():
            return folder
    return here


def new_run_dir(name: str, runs_dir: Path = RUNS_DIR) -> Path:
    """A new, empty `<UTC time>-<name>` folder under runs_dir."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1, 1000):
        folder = runs_dir / (f"{stamp}-{name}" if attempt == 1 else f"{stamp}-{name}-{attempt}")
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            continue
        return folder
    raise ConfigError(f"cannot make a new run folder under {runs_dir}")


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.0.c` in nested dicts and lists; pydantic judges the result."""
    parts = dotted.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"parameters: {dotted}: {where} is not an item of the list")
            index = int(part)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise ConfigError(f"parameters: {dotted}: {'.'.join(parts[:depth])} has no fields")


def configure(
    config: str | Path | AppConfig,
    *,
    source: str | None = None,
    model: str | None = None,
    device: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AppConfig:
    """The config with the notebook's parameters applied, validated like the YAML itself.

    `overrides` maps dotted config fields to values, e.g. {"detector.confidence": 0.4}.
    """
    base = config if isinstance(config, AppConfig) else load_config(config)
    data = base.model_dump(mode="json")
    before = dict(data["detector"])
    overrides = dict(overrides or {})
    preset = overrides.pop("preset", None)
    if preset is not None:
        _apply_preset(data, preset, overrides)
    for dotted, value in overrides.items():
        _set(data, str(dotted), value)
    if source is not None:
        if len(data["cameras"]) != 1:
            raise ConfigError(
                "parameters: source replaces the camera of a one-camera config; this one has "
                f"{len(data['cameras'])} (use overrides such as cameras.1.source.uri)"
            )
        data["cameras"][0]["source"]["uri"] = str(source)
    if model is not None:
        from aistack.detect import backend_for

        data["detector"]["model"] = str(model)
        data["detector"]["type"] = backend_for(str(model))
        # int8 is the bundled NanoDet's alone (a preset's default for it).
        nanodet = (data["detector"]["type"], model) == ("onnx", "nanodet")
        if not nanodet and "detector.precision" not in overrides:
            data["detector"]["precision"] = "fp32"
    if preset is not None or model is not None:
        _match_tracker(data, before, overrides)
    if device is not None:
        data["detector"]["device"] = str(device)
    try:
        return AppConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, "parameters")) from None


def _apply_preset(data: dict[str, Any], preset: object, overrides: Mapping[str, Any]) -> None:
    """Switch a dumped config to another preset, as if its YAML had named that one.

    A dump holds every key the old preset filled in, so setting `preset` alone would
    change nothing: the new preset's detector keys replace them, unless `overrides` set
    those keys themselves.
    """
    data["preset"] = preset
    if preset not in PRESETS:
        return  # validation names the choices
    for key, value in PRESETS[str(preset)]["detector"].items():
        if f"detector.{key}" not in overrides:
            data["detector"][key] = value


def _match_tracker(
    data: dict[str, Any], before: Mapping[str, Any], overrides: Mapping[str, Any]
) -> None:
    """Give the tracker what its new detector needs (`tracker_for`), unless overridden.

    Keys the old detector needed and the new one does not go back to their defaults;
    every other tracker key stays as the config had it.
    """
    old, new = tracker_for(before), tracker_for(data["detector"])
    defaults = TrackerConfig().model_dump(mode="json")
    for key in sorted(set(old) | set(new)):
        if f"tracker.{key}" not in overrides:
            data["tracker"][key] = new.get(key, defaults[key])


@dataclass(frozen=True)
class DeviceChoice:
    """The device a run asked for, the one it ran on, and why they differ."""

    requested: str
    used: str
    note: str = ""


def _wants_cuda(device: str) -> bool:
    return device.startswith("cuda") or device.isdigit()


def _cuda_index(device: str) -> int:
    """0 for "cuda", N for "cuda:N" or "N"."""
    text = device.partition(":")[2] if ":" in device else device
    return int(text) if text.isdigit() else 0


def resolve_device(detector: DetectorConfig) -> DeviceChoice:
    """Where the detector can run: a CUDA device when there is one, else the CPU, saying why."""
    requested = detector.device
    if not _wants_cuda(requested):
        return DeviceChoice(requested, requested)
    if detector.type == "onnx":
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            return DeviceChoice(requested, requested)
        why = "onnxruntime has no CUDA provider here (install onnxruntime-gpu)"
    else:
        try:
            import torch
        except ImportError:
            return DeviceChoice(requested, requested)  # the detector says what is missing
        if torch.cuda.is_available() and _cuda_index(requested) < torch.cuda.device_count():
            return DeviceChoice(requested, requested)
        why = "torch sees no CUDA GPU here"
    return DeviceChoice(requested, "cpu", f"{requested} was asked for but {why}: ran on the CPU")


def _device_in_use(detector: object, choice: DeviceChoice) -> DeviceChoice:
    # onnxruntime quietly falls back to the CPU when CUDA fails to start; its session knows.
    session = getattr(detector, "_session", None)
    if session is None or choice.used == "cpu":
        return choice
    if "CUDAExecutionProvider" in session.get_providers():
        return choice
    return DeviceChoice(
        choice.requested,
        "cpu",
        f"onnxruntime could not start CUDA on {choice.used}: ran on the CPU",
    )


def gpu_name(device: str) -> str | None:
    """The name NVML gives the GPU of a cuda device string, if it can tell."""
    if not _wants_cuda(device):
        return None
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(_cuda_index(device))
            name = pynvml.nvmlDeviceGetName(handle)
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver, no GPU, or an NVML without this call
        return None
    return name.decode() if isinstance(name, bytes) else str(name)


@dataclass
class ExperimentRun:
    """What one run counted, where it stored it, how fast, and on which device."""

    name: str
    config: AppConfig
    run_dir: Path
    store_path: Path
    summary: RunSummary
    device: DeviceChoice
    started: datetime
    frame_seconds: list[float] = field(default_factory=list, repr=False)

    @property
    def model(self) -> str:
        detector = self.config.detector
        return f"{detector.model} ({detector.type})"

    def headline(self) -> str:
        """One Markdown paragraph: what ran, when, and on which device."""
        s = self.summary
        text = (
            f"**{self.name}** · started {self.started:%Y-%m-%d %H:%M:%S} UTC · "
            f"{s.frames:,} frames in {s.seconds:.1f} s (**{s.fps:.1f} fps**) · "
            f"model {self.model} · device **{self.device.used}**"
        )
        if self.device.note:
            text += f"\n\n⚠ {self.device.note}."
        return text

    def throughput_table(self) -> pd.DataFrame:
        s = self.summary
        rows: dict[str, object] = {
            "frames": s.frames,
            "seconds": round(s.seconds, 2),
            "fps": round(s.fps, 2),
            "device used": self.device.used,
            "device requested": self.device.requested,
            "model": self.model,
            "sources": ", ".join(c.source for c in s.cameras),
        }
        if gpu := gpu_name(self.device.used):
            rows["gpu"] = gpu
        return pd.DataFrame({"value": [str(v) for v in rows.values()]}, index=list(rows))

    def performance(self) -> Any:
        """FPS per second of the run, for `analysis.fps_latency_figure`."""
        from aistack.workbench.analysis import Performance, frame_rate

        return Performance(frame_rate(self.frame_seconds), frame_rate([]), "this run")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "started": self.started.isoformat(timespec="seconds"),
            "store": str(self.store_path),
            "device_requested": self.device.requested,
            "device_used": self.device.used,
            "device_note": self.device.note,
            "model": self.config.detector.model,
            "backend": self.config.detector.type,
            **self.summary.to_dict(),
        }


def _needs_limit(config: AppConfig) -> bool:
    return any(c.source.kind != "file" or c.source.loop for c in config.cameras)


def run_experiment(
    config: str | Path | AppConfig = DEFAULT_EXPERIMENT,
    *,
    source: str | None = None,
    model: str | None = None,
    device: str | None = None,
    max_frames: int | None = None,
    duration_s: float | None = None,
    output_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> ExperimentRun:
    """Count with `config` and the overrides into `output_dir`/aistack.sqlite.

    `output_dir` defaults to a new experiments/runs/<UTC time>-<name>/. A live or
    looping source needs `max_frames` or `duration_s`, or it would never end.
    The folder also gets the effective config.yaml, summary.json and annotated.jpg.
    """
    from aistack.detect import load_detector

    label = name or (Path(config).stem if not isinstance(config, AppConfig) else "experiment")
    chosen = configure(config, source=source, model=model, device=device, overrides=overrides)
    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"parameters: max_frames must be at least 1, got {max_frames}")
    if duration_s is not None and duration_s <= 0:
        raise ConfigError(f"parameters: duration_s must be above 0, got {duration_s}")
    if _needs_limit(chosen) and max_frames is None and duration_s is None:
        raise ConfigError(
            "parameters: a live or looping source never ends: set max_frames or duration_s"
        )
    run_dir = Path(output_dir) if output_dir is not None else new_run_dir(label)
    run_dir.mkdir(parents=True, exist_ok=True)
    store_path = run_dir / STORE_NAME
    choice = resolve_device(chosen.detector)
    updates: dict[str, Any] = {
        "store": chosen.store.model_copy(update={"path": store_path}),
        "detector": chosen.detector.model_copy(update={"device": choice.used}),
        "snapshots": chosen.snapshots.model_copy(update={"directory": run_dir / "snapshots"}),
    }
    chosen = chosen.model_copy(update=updates)
    recorded = chosen.model_dump(mode="json", exclude={"influx": {"token"}})
    (run_dir / "config.yaml").write_text(yaml.safe_dump(recorded, sort_keys=False))
    detector = load_detector(chosen.detector)
    choice = _device_in_use(detector, choice)
    seconds: list[float] = []
    started = datetime.now(UTC)
    with SqliteSink(store_path, chosen.store.interval_seconds) as sink:
        sources = ", ".join(redact_url(c.source.uri) for c in chosen.cameras)
        run_id = sink.start_run(sources, recorded)
        pipeline = Pipeline(
            chosen, detector=detector, sinks={"sqlite": sink}, pace="unpaced",
            keep_snapshot=True, max_frames=max_frames,
        )  # fmt: skip
        origin = time.perf_counter()
        deadline = None if duration_s is None else time.monotonic() + duration_s

        def observe(_: object) -> None:
            seconds.append(time.perf_counter() - origin)
            if deadline is not None and time.monotonic() >= deadline:
                pipeline.stop()

        pipeline.on_result = observe
        summary = pipeline.run()
        sink.finish_run(run_id, summary.to_dict() | {"device": choice.used})
    run = ExperimentRun(label, chosen, run_dir, store_path, summary, choice, started, seconds)
    if summary.snapshot is not None:
        cv2.imwrite(str(run_dir / "annotated.jpg"), summary.snapshot)
    (run_dir / "summary.json").write_text(json.dumps(run.to_dict(), indent=2) + "\n")
    return run


def latest_store(runs_dir: Path = RUNS_DIR) -> Path | None:
    """The most recently written store of any run under runs_dir, or None."""
    stores = [p for p in runs_dir.glob(f"*/{STORE_NAME}") if p.is_file()]
    return max(stores, key=lambda p: p.stat().st_mtime) if stores else None
