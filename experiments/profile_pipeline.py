"""Where a pipeline frame's time goes, and what the fixes bought (before/after, same run).

    python experiments/profile_pipeline.py [--frames 200] [--out experiments/bench] [--quick]

Writes `profile.json` and `profile.md` under --out: the top functions by own time
(cProfile) of an end-to-end run on the bundled clip, and A/B ratios for the changes
made after profiling, each measured by alternating both variants in one run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from aistack.bench.suites import default_pipeline, machine_info
from aistack.config import DetectorConfig
from aistack.data import DEMO_CLIP
from aistack.detect import plan_lanes
from aistack.detect.yolo_onnx import PAD_VALUE, YoloOnnxDetector
from aistack.models import bundled_model_path
from aistack.models.yolo_format import nanodet_as_yolo

MEAN = np.array([103.53, 116.28, 123.675], np.float32)
STD = np.array([57.375, 57.12, 58.395], np.float32)


def cpu_by_thread(frames: int) -> dict[str, float]:
    """CPU milliseconds per frame of each kind of thread in a default run (Linux /proc)."""
    pipeline = default_pipeline(DEMO_CLIP, frames)
    tick = os.sysconf("SC_CLK_TCK")
    first: dict[int, float] = {}
    last: dict[int, tuple[float, str]] = {}
    done = threading.Event()

    def sample() -> None:
        while True:
            names = {t.native_id: t.name for t in threading.enumerate()}
            for tid in os.listdir("/proc/self/task"):
                try:
                    stat = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1]
                    comm = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
                except OSError:
                    continue  # the thread has just ended
                fields = stat.split()
                seconds = (int(fields[11]) + int(fields[12])) / tick
                first.setdefault(int(tid), seconds)
                name = names.get(int(tid)) or f"native ({comm})"
                last[int(tid)] = (seconds, name.rstrip("0123456789").rstrip("-"))
            if done.wait(0.05):
                return

    sampler = threading.Thread(target=sample, name="sampler")
    sampler.start()
    summary = pipeline.run()
    done.set()
    sampler.join()
    spent: dict[str, float] = {}
    for tid, (seconds, name) in last.items():
        if name != "sampler":
            spent[name] = spent.get(name, 0.0) + seconds - first[tid]
    per_frame = {name: round(1000 * s / summary.frames, 2) for name, s in spent.items()}
    return dict(sorted(((k, v) for k, v in per_frame.items() if v > 0), key=lambda kv: -kv[1]))


def hot_spots(frames: int, top: int = 12) -> list[dict[str, Any]]:
    pipeline = default_pipeline(DEMO_CLIP, frames)
    profiler = cProfile.Profile()
    profiler.enable()  # the calling thread: decoding boxes, tracking, counting
    pipeline.run()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    out = []
    for (filename, line, name), (_, calls, own, cumulative, _) in rows[:top]:
        where = f"{Path(filename).name}:{line}" if line else filename
        out.append(
            {
                "function": f"{where}({name})",
                "calls": calls,
                "own_seconds": round(own, 3),
                "own_share": round(own / total, 3),
                "cumulative_seconds": round(cumulative, 3),
            }
        )
    return out


def _alternate(a: Callable[[], None], b: Callable[[], None], rounds: int = 5) -> float:
    """Best-of-rounds time of a over b, the two interleaved so they share the noise."""
    times: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(rounds):
        for key, run in (("a", a), ("b", b)):
            began = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - began)
    return min(times["a"]) / min(times["b"])


def preprocessing_ratio(images: list[np.ndarray]) -> float:
    """Old: normalise in HWC then transpose. New: normalise each plane into the NCHW blob."""
    blob = np.empty((1, 3, 416, 416), np.float32)

    def old() -> None:
        for image in images:
            resized = cv2.resize(image, (416, 416)).astype(np.float32)
            np.ascontiguousarray(((resized - MEAN) / STD).transpose(2, 0, 1)[None])

    def new() -> None:
        for image in images:
            resized = cv2.resize(image, (416, 416))
            for channel, plane in enumerate(cv2.split(resized)):
                np.subtract(plane, MEAN[channel], out=blob[0, channel], dtype=np.float32)
                blob[0, channel] *= 1.0 / STD[channel]

    return _alternate(old, new)


def spinning_ratio(images: list[np.ndarray]) -> float:
    """onnxruntime worker threads spinning (its default) over sleeping when idle, with a
    decoder thread competing for the same two cores, as in the pipeline."""
    path = bundled_model_path("nanodet")

    def session(spin: bool) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 0
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    spinning, sleeping = session(True), session(False)
    name = spinning.get_inputs()[0].name
    blob = np.random.default_rng(0).normal(size=(1, 3, 416, 416)).astype(np.float32)
    capture = cv2.VideoCapture(str(DEMO_CLIP))

    def with_decoding(chosen: Any) -> Callable[[], None]:
        def run() -> None:
            for _ in images:
                ok, _frame = capture.read()
                if not ok:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                chosen.run(None, {name: blob})

        return run

    return _alternate(with_decoding(spinning), with_decoding(sleeping))


def letterbox_ratio(images: list[np.ndarray]) -> float:
    """YOLO input, old: resize, pad a copy, `dnn.blobFromImage`, stack. New: resize, then
    each plane scaled straight into the model's input blob (`YoloOnnxDetector.prepare`)."""
    with tempfile.TemporaryDirectory() as tmp:
        detector = YoloOnnxDetector(nanodet_as_yolo(Path(tmp) / "nanodet-yolo-format.onnx"))

    def old() -> None:
        for image in images:
            resized = cv2.resize(image, (416, 312), interpolation=cv2.INTER_LINEAR)
            padded = cv2.copyMakeBorder(
                resized, 52, 52, 0, 0, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
            )
            np.stack([cv2.dnn.blobFromImage(padded, 1 / 255.0, swapRB=True)[0]])

    def new() -> None:
        for image in images:
            detector.prepare([image])

    return _alternate(old, new)


def read_ahead_ratio(frames: int, rounds: int = 4) -> dict[str, Any]:
    """Pipeline FPS on a file, with read-ahead and a lane per core (the default now) over
    a spare lane without read-ahead (the default before), alternated, paired by round."""
    spare, _ = plan_lanes(DetectorConfig(), None)
    ahead, _ = plan_lanes(DetectorConfig(), None, reads_ahead=True)
    fps: dict[str, list[float]] = {"ahead": [], "spare": []}
    for _ in range(rounds):
        for key, lanes, read_ahead in (("ahead", ahead, 1), ("spare", spare, 0)):
            pipeline = default_pipeline(DEMO_CLIP, frames, lanes)
            pipeline.read_ahead = read_ahead
            fps[key].append(pipeline.run().fps)
    pairs = [a / b for a, b in zip(fps["ahead"], fps["spare"], strict=True)]
    return {
        "lanes_with_read_ahead": ahead,
        "lanes_without": spare,
        "fps_with_read_ahead": [round(x, 1) for x in fps["ahead"]],
        "fps_without": [round(x, 1) for x in fps["spare"]],
        "mean_paired_ratio": round(sum(pairs) / len(pairs), 3),
        "rounds_won": sum(ratio > 1 for ratio in pairs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("experiments/bench"))
    parser.add_argument("--quick", action="store_true", help="a smoke run: few frames, 1 round")
    args = parser.parse_args()
    long_run = args.frames if args.quick else max(args.frames, 400)
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    images = [capture.read()[1] for _ in range(50)]
    data = {
        "machine": machine_info(),
        "frames": args.frames,
        "hot_spots": hot_spots(args.frames),
        "cpu_ms_per_frame_by_thread": cpu_by_thread(long_run),
        "fixes": {
            "preprocess_old_over_new": round(preprocessing_ratio(images), 2),
            "ort_spinning_over_sleeping": round(spinning_ratio(images[:30]), 3),
            "yolo_letterbox_old_over_new": round(letterbox_ratio(images), 2),
            "read_ahead": read_ahead_ratio(long_run, rounds=1 if args.quick else 4),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [
        "The counting thread (cProfile sees only the thread it runs in; waiting for the",
        "model lanes shows as `acquire`):",
        "",
        "| function | calls | own s | share |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{r['function']}` | {r['calls']} | {r['own_seconds']} | {r['own_share']:.1%} |"
        for r in data["hot_spots"]
    ]
    threads = data["cpu_ms_per_frame_by_thread"]
    total = sum(threads.values())
    lines += ["", "CPU per frame by thread, default run:", "", "| thread | CPU ms/frame | share |"]
    lines += ["|---|---|---|"]
    lines += [f"| {name} | {ms} | {ms / total:.1%} |" for name, ms in threads.items()]
    fixes = data["fixes"]
    ahead = fixes["read_ahead"]
    lines += [
        "",
        "Fixes, old against new in one run:",
        "",
        f"* preprocessing, old / new time: **{fixes['preprocess_old_over_new']}×**",
        f"* onnxruntime spinning / sleeping workers, beside a decoder: "
        f"**{fixes['ort_spinning_over_sleeping']}×** (> 1 means sleeping is faster)",
        f"* YOLO letterbox, old / new time: **{fixes['yolo_letterbox_old_over_new']}×**",
        f"* files: {ahead['lanes_with_read_ahead']} lanes reading ahead / "
        f"{ahead['lanes_without']} lanes without, pipeline FPS: "
        f"**{ahead['mean_paired_ratio']}×** (paired rounds, won {ahead['rounds_won']} of "
        f"{len(ahead['fps_without'])}; {ahead['fps_with_read_ahead']} "
        f"against {ahead['fps_without']})",
    ]
    (args.out / "profile.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
