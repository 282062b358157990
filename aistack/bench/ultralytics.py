"""aistack against the Ultralytics baseline (`solutions.ObjectCounter`) on the same ONNX model.

Offline, the model is the bundled NanoDet wrapped as a YOLOv8-format ONNX file
(aistack/models/yolo_format.py): a real detector, so both sides track and count
real people, through the same file and the same clip. `export_random_yolo` gives a
random-weight YOLOv8n instead (no boxes: the frame path only); on a connected
machine pass a real export (e.g. of yolov8n.pt).
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

from aistack.classes import COCO_CLASSES
from aistack.config import AppConfig
from aistack.pipeline.wiring import Pipeline
from aistack.sources.video import first_frame

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
    counter(image)  # warm-up, outside the timing
    start.wait()
    began = time.perf_counter()
    done = 0
    while done < frames:
        ok, image = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        counter(image)  # it draws on this frame, a fresh one from each read: no copy needed
        done += 1
    results.put((began, time.perf_counter(), done, _peak_rss_mb()))


def _peak_rss_mb() -> float:
    """This process's own peak RSS. Linux carries `ru_maxrss` over from the parent through
    fork and exec, so a spawned worker would report the bench's peak; VmHWM is its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _aistack_worker(model: str, clip: str, frames: int, cameras: int, results: Any) -> None:
    """aistack over `cameras` copies of the clip in one fresh process, as a user runs it.

    Puts its FPS, the boxes per frame and the process's peak RSS in MB on `results`.
    """
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
            # Ultralytics' defaults: every class, IoU 0.7, confidence 0.25.
            "detector": {
                "type": "onnx",
                "model": model,
                "imgsz": 640,
                "classes": list(COCO_CLASSES),
                "iou": 0.7,
                "confidence": 0.25,
            },
            "metrics": {"enabled": False},
            "pipeline": {"batch_size": cameras, "max_wait_ms": 2},
        }
    )
    boxes: list[int] = []
    pipeline = Pipeline(
        config, pace="unpaced", max_frames=frames * cameras,
        on_result=lambda result: boxes.append(len(result.detections)),
    )  # fmt: skip
    pipeline.warm_up(first_frame(Path(clip)))  # outside the timing, as for ObjectCounter
    began = time.perf_counter()
    summary = pipeline.run()
    fps = summary.frames / (time.perf_counter() - began)
    results.put((fps, sum(boxes) / max(1, len(boxes)), _peak_rss_mb()))


def _aistack(model: Path, clip: Path, frames: int, streams: int) -> tuple[float, float, float]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    worker = context.Process(
        target=_aistack_worker, args=(str(model), str(clip), frames, streams, results)
    )
    worker.start()
    fps, boxes, rss = results.get(timeout=900)
    worker.join(timeout=60)
    return float(fps), float(boxes), float(rss)


def _baseline(model: Path, clip: Path, frames: int, streams: int) -> tuple[float, float]:
    """ObjectCounter's aggregate FPS over `streams` processes, and their summed peak RSS."""
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
    wall = max(span[1] for span in spans) - min(span[0] for span in spans)
    return float(sum(span[2] for span in spans) / wall), float(sum(span[3] for span in spans))


def versus_ultralytics(
    clip: Path, frames: int, model: Path | None = None, rounds: int = 2
) -> dict[str, Any]:
    """FPS ratios aistack / ObjectCounter for one stream and for four.

    The two sides alternate for `rounds` rounds and each keeps its best, so a
    burst of load from elsewhere on a shared machine hurts neither side alone.
    """
    from aistack.models.yolo_format import nanodet_as_yolo

    with tempfile.TemporaryDirectory() as tmp:
        onnx = model or nanodet_as_yolo(Path(tmp) / "nanodet-yolo-format.onnx")
        result: dict[str, Any] = {"model": onnx.name, "frames_per_stream": frames, "rounds": rounds}
        for streams, target in ((1, 1.25), (4, 1.6)):
            ours: list[float] = []
            theirs: list[float] = []
            for _ in range(rounds):
                fps, boxes, our_rss = _aistack(onnx, clip, frames, streams)
                ours.append(fps)
                their_fps, their_rss = _baseline(onnx, clip, frames, streams)
                theirs.append(their_fps)
            result[f"{streams}_stream"] = {
                "boxes_per_frame": round(boxes, 1),
                "aistack_peak_rss_mb": round(our_rss, 1),
                "ultralytics_peak_rss_mb": round(their_rss, 1),
                "aistack_fps": round(max(ours), 2),
                "ultralytics_fps": round(max(theirs), 2),
                "ratio": round(max(ours) / max(theirs), 3),
                "target": target,
            }
    return result
