"""Where a pipeline frame's time goes, and what the fixes bought (before/after, same run).

    python experiments/profile_pipeline.py [--frames 200] [--out experiments/bench]

Writes `profile.json` and `profile.md` under --out: the top functions by own time
(cProfile) of an end-to-end run on the bundled clip, and A/B ratios for the changes
made after profiling, each measured by alternating both variants in one run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from aistack.bench import _pipeline, machine_info
from aistack.config import DetectorConfig
from aistack.demo import DEMO_CLIP
from aistack.detect import load_detector
from aistack.models import bundled_model_path

MEAN = np.array([103.53, 116.28, 123.675], np.float32)
STD = np.array([57.375, 57.12, 58.395], np.float32)


def hot_spots(frames: int, top: int = 12) -> list[dict[str, Any]]:
    detector = load_detector(DetectorConfig())
    profiler = cProfile.Profile()
    profiler.enable()
    _pipeline(DEMO_CLIP, detector, frames)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("experiments/bench"))
    args = parser.parse_args()
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    images = [capture.read()[1] for _ in range(50)]
    data = {
        "machine": machine_info(),
        "frames": args.frames,
        "hot_spots": hot_spots(args.frames),
        "fixes": {
            "preprocess_old_over_new": round(preprocessing_ratio(images), 2),
            "ort_spinning_over_sleeping": round(spinning_ratio(images[:30]), 3),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = ["| function | calls | own s | share |", "|---|---|---|---|"]
    lines += [
        f"| `{r['function']}` | {r['calls']} | {r['own_seconds']} | {r['own_share']:.1%} |"
        for r in data["hot_spots"]
    ]
    fixes = data["fixes"]
    lines += [
        "",
        f"* preprocessing, old / new time: **{fixes['preprocess_old_over_new']}×**",
        f"* onnxruntime spinning / sleeping workers, beside a decoder: "
        f"**{fixes['ort_spinning_over_sleeping']}×** (> 1 means sleeping is faster)",
    ]
    (args.out / "profile.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
