"""Benchmarks whose speed figures are ratios measured in one run, written to files."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import cv2
import psutil
from tqdm import tqdm

from aistack.config import AppConfig, DetectorConfig
from aistack.demo import DEMO_CLIP
from aistack.detect import Detector, load_detector
from aistack.pipeline import Pipeline
from aistack.types import Image


@dataclass(frozen=True)
class BenchResult:
    data: dict[str, Any]
    json_path: Path
    markdown: str


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


def _pipeline(source: Path, detector: Detector, frames: int) -> _Usage:
    config = AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": "bench",
                    "source": {"uri": str(source), "loop": True},
                    "lines": [{"name": "middle", "points": [0.5, 0.0, 0.5, 1.0]}],
                    "zones": [{"name": "left", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
                }
            ],
            "metrics": {"enabled": False},
        }
    )
    pipeline = Pipeline(config, detector=detector, pace="unpaced", max_frames=frames)
    with _Usage() as usage:
        pipeline.run()
    return usage


def run_pipeline_bench(
    source: Path | None, frames: int, out_dir: Path, rounds: int = 2
) -> BenchResult:
    """End-to-end pipeline FPS over bare-model FPS, alternating rounds to share the noise."""
    clip = source or DEMO_CLIP
    detector = load_detector(DetectorConfig())
    detector.detect([_first_frame(clip)])  # warm up
    bare: list[_Usage] = []
    full: list[_Usage] = []
    for _ in tqdm(range(rounds), desc="bench pipeline", unit="round", leave=False):
        bare.append(_bare_model(clip, detector, frames))
        full.append(_pipeline(clip, detector, frames))
    bare_fps = max(frames / u.seconds for u in bare)
    full_fps = max(frames / u.seconds for u in full)
    data = {
        "benchmark": "pipeline",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "clip": clip.name,
        "model": "nanodet (bundled ONNX)",
        "frames_per_round": frames,
        "rounds": rounds,
        "bare_model_fps": round(bare_fps, 2),
        "pipeline_fps": round(full_fps, 2),
        "ratio_pipeline_over_bare": round(full_fps / bare_fps, 3),
        "target_ratio": 0.90,
        "bare_cpu_percent": round(max(u.cpu_percent for u in bare), 1),
        "pipeline_cpu_percent": round(max(u.cpu_percent for u in full), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = out_dir / f"pipeline-{stamp}.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    markdown = (
        "| benchmark | bare model fps | pipeline fps | ratio | target | CPU % (bare / pipeline) "
        "| peak RSS MB |\n|---|---|---|---|---|---|---|\n"
        f"| pipeline ({clip.name}, {frames} frames × {rounds}) | {data['bare_model_fps']} "
        f"| {data['pipeline_fps']} | **{data['ratio_pipeline_over_bare']}** | ≥ 0.90 "
        f"| {data['bare_cpu_percent']} / {data['pipeline_cpu_percent']} | {data['peak_rss_mb']} |\n"
    )
    (out_dir / "pipeline.md").write_text(markdown)
    return BenchResult(data, json_path, markdown)


def _first_frame(clip: Path) -> Any:
    capture = cv2.VideoCapture(str(clip))
    _, image = capture.read()
    capture.release()
    return image
