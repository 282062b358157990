"""aistack against the Ultralytics baseline (`solutions.ObjectCounter`) on the same ONNX model.

Offline, the model is YOLOv8n built from its .yaml with random weights and exported to
ONNX: it measures the frame path (decode, inference, tracking, counting) of both, not
accuracy. Pass `--model` a real export (e.g. of yolov8n.pt) on a connected machine.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import cv2

from aistack.config import AppConfig
from aistack.pipeline import Pipeline
from aistack.types import Image

LINE = (0.5, 0.0, 0.5, 1.0)


def _quiet_ultralytics() -> None:
    """Offline, and no per-frame chatter ("No tracks found") on the bench's output."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ["YOLO_VERBOSE"] = "False"
    logging.getLogger("ultralytics").setLevel(logging.ERROR)


def export_random_yolo(out_dir: Path) -> Path:
    """YOLOv8n with random weights, exported to ONNX with a dynamic batch (about 3 s)."""
    _quiet_ultralytics()
    import importlib

    model = importlib.import_module("ultralytics").YOLO("yolov8n.yaml")
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints a summary
        exported = Path(model.export(format="onnx", imgsz=640, dynamic=True, simplify=False))
    target = out_dir / "yolov8n-random.onnx"
    exported.replace(target)
    return target


def _baseline_worker(model: str, clip: str, frames: int, start: Any, results: Any) -> None:
    """What a user of Ultralytics solutions runs per camera: ObjectCounter on every frame."""
    _quiet_ultralytics()
    from ultralytics import solutions

    capture = cv2.VideoCapture(clip)
    width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
    x = LINE[0] * width
    counter = solutions.ObjectCounter(
        model=model, region=[(x, 0), (x, height)], tracker="bytetrack.yaml", show=False,
        verbose=False,
    )  # fmt: skip
    ok, image = capture.read()
    counter(image.copy())  # warm-up, outside the timing
    start.wait()
    began = time.perf_counter()
    done = 0
    while done < frames:
        ok, image = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        counter(image.copy())  # it draws on the frame it is given
        done += 1
    results.put((began, time.perf_counter(), done))


def _aistack_worker(model: str, clip: str, frames: int, cameras: int) -> float:
    config = AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": f"cam{i}",
                    "source": {"uri": clip, "loop": True},
                    "lines": [{"name": "middle", "points": list(LINE)}],
                }
                for i in range(cameras)
            ],
            "detector": {"type": "onnx", "model": model, "imgsz": 640},
            "metrics": {"enabled": False},
            "pipeline": {"batch_size": cameras, "max_wait_ms": 2},
        }
    )
    pipeline = Pipeline(config, pace="unpaced", max_frames=frames * cameras)
    capture = cv2.VideoCapture(clip)
    pipeline.detector.detect([cast(Image, capture.read()[1])])  # warm-up, outside the timing
    capture.release()
    began = time.perf_counter()
    summary = pipeline.run()
    return summary.frames / (time.perf_counter() - began)


def _baseline(model: Path, clip: Path, frames: int, streams: int) -> float:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(streams + 1)
    results = context.Queue()
    workers = [
        context.Process(
            target=_baseline_worker, args=(str(model), str(clip), frames, start, results)
        )
        for _ in range(streams)
    ]
    for worker in workers:
        worker.start()
    start.wait()
    spans = [results.get(timeout=900) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    wall = max(end for _, end, _ in spans) - min(began for began, _, _ in spans)
    return float(sum(n for _, _, n in spans) / wall)


def versus_ultralytics(clip: Path, frames: int, model: Path | None = None) -> dict[str, Any]:
    """FPS ratios aistack / ObjectCounter for one stream and for four."""
    with tempfile.TemporaryDirectory() as tmp:
        onnx = model or export_random_yolo(Path(tmp))
        result: dict[str, Any] = {"model": onnx.name, "frames_per_stream": frames}
        for streams, target in ((1, 1.25), (4, 1.6)):
            ours = _aistack_worker(str(onnx), str(clip), frames, streams)
            theirs = _baseline(onnx, clip, frames, streams)
            result[f"{streams}_stream"] = {
                "aistack_fps": round(ours, 2),
                "ultralytics_fps": round(theirs, 2),
                "ratio": round(ours / theirs, 3),
                "target": target,
            }
    return result
