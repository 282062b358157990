"""YOLOv8n throughput on a GPU at batch 1, 8 and 32 (random weights: throughput, not accuracy).

    python experiments/gpu_yolo_batch.py [--device cuda:0] [--seconds 20] [--out experiments/bench]

A prepared script for a machine with a GPU (a few minutes). It records the card's name,
frames per second and latency per batch size, peak GPU memory (torch) and NVML readings,
into `gpu.json` and `gpu.md` under --out, for the performance table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
from pathlib import Path
from typing import Any

import cv2

from aistack.bench.suites import gpu_readings, machine_info
from aistack.data import DEMO_CLIP


def measure(device: str, batch: int, seconds: float, images: list[Any]) -> dict[str, Any]:
    import torch

    model = importlib.import_module("ultralytics").YOLO("yolov8n.yaml")
    frames = (images * (batch // len(images) + 1))[:batch]
    for _ in range(3):  # warm-up: CUDA context, cuDNN autotuning
        model.predict(frames, device=device, imgsz=640, verbose=False, half=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        model.predict(frames, device=device, imgsz=640, verbose=False, half=True)
        calls += 1
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - began
    return {
        "batch": batch,
        "fps": round(calls * batch / elapsed, 1),
        "latency_ms_per_batch": round(1000 * elapsed / calls, 2),
        "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
        "nvml_after": gpu_readings(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path("experiments/bench"))
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: this script is for a machine with one")
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    images = [capture.read()[1] for _ in range(32)]
    index = int(args.device.split(":")[1]) if ":" in args.device else 0
    rows = [measure(args.device, batch, args.seconds, images) for batch in (1, 8, 32)]
    data = {
        "machine": machine_info(),
        "card": torch.cuda.get_device_name(index),
        "model": "yolov8n (random weights, fp16, 640)",
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps(data, indent=2) + "\n")
    table = [f"GPU: {data['card']}, {data['model']}", "", "| batch | FPS | ms per batch | "
             "peak memory MB |", "|---|---|---|---|"]  # fmt: skip
    table += [
        f"| {r['batch']} | {r['fps']} | {r['latency_ms_per_batch']} | {r['peak_gpu_memory_mb']} |"
        for r in rows
    ]
    (args.out / "gpu.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
