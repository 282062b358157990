"""Benchmarks whose speed figures are ratios measured in one run, written to files."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import cv2
import psutil
from tqdm import tqdm

from aistack.bench.usage import SuiteUsage
from aistack.config import DEFAULT_PRESET, PRESETS, AppConfig, DetectorConfig
from aistack.data import DEMO_CLIP
from aistack.detect import Detector, load_detector
from aistack.errors import ConfigError, SourceError
from aistack.pipeline.wiring import Pipeline
from aistack.sources.video import first_frame
from aistack.types import Image


@dataclass(frozen=True)
class BenchResult:
    """What a bench run measured, where its JSON went, and its markdown table."""

    data: dict[str, Any]
    json_path: Path
    markdown: str


def gpu_readings() -> list[dict[str, Any]] | None:
    """Utilisation, memory, temperature and power per GPU now, via NVML; None without one."""
    from prometheus_client import CollectorRegistry

    from aistack.pipeline.gpu import register_gpu_metrics

    registry = CollectorRegistry()
    if not register_gpu_metrics(registry):
        return None
    devices: dict[str, dict[str, Any]] = {}
    for family in registry.collect():
        for sample in family.samples:
            device = devices.setdefault(sample.labels["gpu"], dict(sample.labels))
            device[sample.name.removeprefix("aistack_gpu_")] = sample.value
    return list(devices.values())


def machine_info() -> dict[str, Any]:
    import onnxruntime

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
        "gpus": gpu_readings() or "none",
    }


class _Usage:
    """CPU % and wall time of this process over a block."""

    def __enter__(self) -> _Usage:
        self._process = psutil.Process()
        self._cpu = self._process.cpu_times()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        cpu = self._process.cpu_times()
        self.seconds = time.perf_counter() - self._wall
        used = (cpu.user - self._cpu.user) + (cpu.system - self._cpu.system)
        self.cpu_percent = 100.0 * used / self.seconds if self.seconds else 0.0


def _bare_model(source: Path, detector: Detector, frames: int) -> _Usage:
    """What a user would write with the model alone: decode, detect, repeat."""
    capture = cv2.VideoCapture(str(source))
    with _Usage() as usage:
        for _ in range(frames):
            ok, image = capture.read()
            if not ok:
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, image = capture.read()
            detector.detect([cast(Image, image)])
    capture.release()
    return usage


def preset_detector(preset: str | None) -> DetectorConfig:
    """The detector settings a default run gets with `preset` (None: the default preset)."""
    config = AppConfig.model_validate(
        {"preset": preset or DEFAULT_PRESET, "cameras": [{"source": {"uri": "unused.mp4"}}]}
    )
    return config.detector


def default_pipeline(
    source: Path, frames: int, lanes: int | None = None, preset: str | None = None
) -> Pipeline:
    """aistack as configured by default on `source` read as fast as possible (a line and a
    zone; it builds its own detector and model lanes), warmed up and ready to run."""
    config = AppConfig.model_validate(
        {
            "preset": preset or DEFAULT_PRESET,
            "cameras": [
                {
                    "name": "bench",
                    "source": {"uri": str(source), "loop": True},
                    "lines": [{"name": "middle", "points": [0.5, 0.0, 0.5, 1.0]}],
                    "zones": [{"name": "left", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
                }
            ],
            "metrics": {"enabled": False},
            "pipeline": {"lanes": lanes},
        }
    )
    pipeline = Pipeline(config, pace="unpaced", max_frames=frames)
    pipeline.warm_up(first_frame(source))  # as the bare model was
    return pipeline


def _pipeline(source: Path, frames: int, preset: str | None) -> _Usage:
    pipeline = default_pipeline(source, frames, preset=preset)
    with _Usage() as usage:
        pipeline.run()
    return usage


def pipeline_ratio(
    clip: Path, frames: int, rounds: int = 2, preset: str | None = None
) -> dict[str, Any]:
    """End-to-end pipeline FPS over bare-model FPS, alternating rounds to share the noise.

    The bare model is the default detector in a plain loop; the pipeline runs its
    defaults too (on CPU, model lanes planned from the cores: `plan_lanes`).
    """
    detector = load_detector(preset_detector(preset))
    detector.detect([first_frame(clip)])  # warm up
    bare: list[_Usage] = []
    full: list[_Usage] = []
    for _ in range(rounds):
        bare.append(_bare_model(clip, detector, frames))
        full.append(_pipeline(clip, frames, preset))
    bare_fps = max(frames / u.seconds for u in bare)
    full_fps = max(frames / u.seconds for u in full)
    return {
        "preset": preset or DEFAULT_PRESET,
        "frames_per_round": frames,
        "rounds": rounds,
        "bare_model_fps": round(bare_fps, 2),
        "pipeline_fps": round(full_fps, 2),
        "ratio_pipeline_over_bare": round(full_fps / bare_fps, 3),
        "target_ratio": 0.95,
        "bare_cpu_percent": round(max(u.cpu_percent for u in bare), 1),
        "pipeline_cpu_percent": round(max(u.cpu_percent for u in full), 1),
    }


SUITES = ("pipeline", "cameras", "latency", "overload", "stores", "ultralytics", "memory")


def run_bench(
    suites: list[str],
    source: Path | None,
    out_dir: Path,
    quick: bool,
    influx_url: str | None = None,
    preset: str | None = None,
) -> BenchResult:
    """Run the chosen suites and write `bench-<time>.json` and `latest.md` under out_dir.

    `preset` sets the detector of the pipeline suite (the others run the default).
    """
    from aistack.bench.cameras import batched_vs_independent, latency_and_lag
    from aistack.bench.memory import rss_growth
    from aistack.bench.stores import store_rates
    from aistack.bench.ultralytics import versus_ultralytics

    clip = source or DEMO_CLIP
    check_inputs(clip, out_dir)
    frames = 60 if quick else 300
    seconds = 4.0 if quick else 20.0
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "pipeline": lambda: pipeline_ratio(clip, frames, rounds=1 if quick else 3, preset=preset),
        "cameras": lambda: batched_vs_independent(clip, 4, frames // 2 if quick else frames),
        "latency": lambda: latency_and_lag(clip, 1, seconds),
        "overload": lambda: latency_and_lag(clip, 8, seconds),
        "stores": lambda: store_rates(quick, influx_url),
        "ultralytics": lambda: versus_ultralytics(
            clip, 30 if quick else 300, rounds=1 if quick else 2
        ),
        "memory": lambda: rss_growth(clip, 500 if quick else 10_000),
    }
    results: dict[str, Any] = {}
    sample_gpu = gpu_readings if gpu_readings() is not None else None
    for suite in tqdm(suites, desc="aistack bench", unit="suite", leave=False):
        with SuiteUsage(sample_gpu) as usage:
            results[suite] = runners[suite]()
        results[suite]["usage"] = usage.summary()
        gpus = gpu_readings()  # right after the suite, while the GPU is still warm
        if gpus is not None:
            results[suite]["gpus"] = gpus
    data = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "clip": clip.name,
        "model": _preset_model(preset or DEFAULT_PRESET),
        "quick": quick,
        "results": results,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = out_dir / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    markdown = _markdown(data)
    (out_dir / ("latest-quick.md" if quick else "latest.md")).write_text(markdown)
    return BenchResult(data, json_path, markdown)


def check_inputs(clip: Path, out_dir: Path) -> None:
    """A clip that reads and a results folder that can be written, before any suite runs."""
    if not clip.is_file():
        what = "no such video file" if not clip.exists() else "not a file"
        raise SourceError(f"--source {clip}: {what}")
    try:
        first_frame(clip)
    except SourceError:
        raise SourceError(
            f"--source {clip}: not a readable video file (no frame decodes; a corrupt file "
            "or not a video at all)"
        ) from None
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir}: exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"--out {out_dir}: cannot create the results folder ({error.strerror})"
        ) from None
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK):
        raise ConfigError(f"--out {out_dir}: not a writable folder")


def _markdown(data: dict[str, Any]) -> str:
    machine = data["machine"]
    lines = [
        f"Measured {data['when']} on {machine['cores']} cores, {machine['cpu']}, "
        f"onnxruntime {machine['onnxruntime']}; clip {data['clip']}, model {data['model']}"
        f"{' (quick)' if data['quick'] else ''}. Peak RSS {data['peak_rss_mb']} MB.",
        "",
        "| benchmark | measured | ratio | target |",
        "|---|---|---|---|",
    ]
    results = data["results"]
    if "pipeline" in results:
        r = results["pipeline"]
        lines.append(
            f"| pipeline FPS / bare model FPS | {r['pipeline_fps']} / {r['bare_model_fps']} fps "
            f"| **{r['ratio_pipeline_over_bare']}** | ≥ 0.95 |"
        )
    if "cameras" in results:
        r = results["cameras"]
        lines.append(
            f"| {r['cameras']} cameras: one batched worker / independent pipelines "
            f"| {r['batched_fps']} / {r['independent_fps']} fps "
            f"| **{r['ratio_batched_over_independent']}** | ≥ 1.3 |"
        )
    if "latency" in results:
        r = results["latency"]
        lines.append(
            f"| capture-to-event latency p95 / model latency p95, same run (1 camera; model "
            f"alone, back to back: {r['model_latency_isolated_ms']} ms) "
            f"| {r['latency_p95_ms']} / {r['model_latency_p95_ms']} ms "
            f"| **{r['latency_p95_over_model']}** | ≤ 1.5 |"
        )
    if "overload" in results:
        r = results["overload"]
        lines.append(
            f"| lag under overload ({r['cameras']} cameras, {r['frames_counted']} of "
            f"{r['frames_offered']} frames counted) | p95 {r['lag_frames_p95']}, "
            f"max {r['lag_frames_max']} frames | | < 2 frames |"
        )
    if "ultralytics" in results:
        r = results["ultralytics"]
        for streams in ("1_stream", "4_stream"):
            row = r[streams]
            lines.append(
                f"| aistack / Ultralytics ObjectCounter, {streams.replace('_', ' ')} "
                f"({r['model']}; peak RSS {row['aistack_peak_rss_mb']:g} / "
                f"{row['ultralytics_peak_rss_mb']:g} MB) "
                f"| {row['aistack_fps']} / {row['ultralytics_fps']} fps "
                f"| **{row['ratio']}** | ≥ {row['target']} |"
            )
    if "memory" in results:
        r = results["memory"]
        lines.append(
            f"| RSS growth over {r['frames']:,} frames | {r['rss_after_warmup_mb']} → "
            f"{r['rss_end_mb']} MB | **{r['growth_percent']} %** | ≤ 5 % |"
        )
    if "stores" in results:
        r = results["stores"]
        lines.append(
            f"| SQLite event writes (batches of {r['sqlite']['batch']}) "
            f"| {r['sqlite']['events_per_second']:,} events/s | | ≥ 100,000/s |"
        )
        lines.append(
            f"| spool append / replay | {r['spool']['append_per_second']:,} / "
            f"{r['spool']['replay_per_second']:,} points/s | | |"
        )
        influx = r["influx"]
        measured = (
            f"{influx['points_per_second']:,} points/s" if "points_per_second" in influx
            else influx["skipped"]
        )  # fmt: skip
        lines.append(f"| InfluxDB sink, end to end | {measured} | | ≥ 50,000/s |")
    lines += [
        "",
        "What each suite cost (this process and its child processes together; 200 % = two "
        "cores busy):",
        "",
        "| suite | seconds | CPU % | peak RSS MB | GPU peak |",
        "|---|---|---|---|---|",
    ]
    for suite, result in results.items():
        usage = result.get("usage")
        if usage is None:
            continue
        gpu = "; ".join(
            f"{name}: " + ", ".join(f"{key} {value:g}" for key, value in peak.items())
            for name, peak in usage.get("gpu_peak", {}).items()
        ) or "none"  # fmt: skip
        lines.append(
            f"| {suite} | {usage['seconds']} | {usage['cpu_percent']} | {usage['peak_rss_mb']} "
            f"| {gpu} |"
        )
    return "\n".join(lines) + "\n"


def _preset_model(preset: str) -> str:
    """What a preset runs, in words: "centernet 544 fp32 (bundled ONNX), preset accurate"."""
    detector = PRESETS[preset]["detector"]
    model = f"{detector.get('model', 'nanodet')} {detector['nanodet_size']} {detector['precision']}"
    return f"{model} (bundled ONNX), preset {preset}"
