"""Before and after a change: pipeline FPS of two checkouts, alternated in one run.

    git worktree add /tmp/before <commit>
    python experiments/ab_checkouts.py /tmp/before . [--rounds 5] [--frames 600]

Each round runs one stream of the bundled clip through each checkout's `aistack`
in a fresh process (PYTHONPATH puts that checkout first), the two checkouts taking
turns so that they share the machine's noise; the ratio is taken per round. The
model is the bundled NanoDet wrapped as a YOLOv8-format ONNX file, as in the
Ultralytics comparison. Writes `ab.json` and `ab.md` under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from aistack.bench.suites import machine_info
from aistack.data import DEMO_CLIP
from aistack.models.yolo_format import nanodet_as_yolo

# Runs inside each checkout: only public API that both sides have (the package was laid out
# in folders after 2026-11; first_frame lives where each side keeps it).
_ONE_RUN = """
import json, sys, time
from pathlib import Path
try:
    from aistack.sources.video import first_frame
except ImportError:
    from aistack.bench import first_frame
from aistack import AppConfig, Pipeline
from aistack.classes import COCO_CLASSES
clip, model, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = AppConfig.model_validate({
    "cameras": [{"name": "ab", "source": {"uri": clip, "loop": True},
                 "lines": [{"name": "middle", "points": [0.5, 0, 0.5, 1]}]}],
    "detector": {"type": "onnx", "model": model, "imgsz": 640,
                 "classes": list(COCO_CLASSES), "iou": 0.7, "confidence": 0.25},
    "metrics": {"enabled": False},
})
pipeline = Pipeline(config, pace="unpaced", max_frames=frames)
pipeline.warm_up(first_frame(Path(clip)))
began = time.perf_counter()
summary = pipeline.run()
print(json.dumps(summary.frames / (time.perf_counter() - began)))
"""


def _fps(checkout: Path, model: Path, frames: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve()))
    done = subprocess.run(
        [sys.executable, "-c", _ONE_RUN, str(DEMO_CLIP), str(model), str(frames)],
        env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="the checkout before the change")
    parser.add_argument("after", type=Path, help="the checkout after it")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--out", type=Path, default=Path("experiments/bench"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = nanodet_as_yolo(Path(tmp) / "nanodet-yolo-format.onnx")
        before, after = [], []
        for _ in range(args.rounds):
            before.append(_fps(args.before, model, args.frames))
            after.append(_fps(args.after, model, args.frames))
    ratios = [a / b for a, b in zip(after, before, strict=True)]
    data = {
        "machine": machine_info(),
        "frames": args.frames,
        "before_fps": [round(x, 2) for x in before],
        "after_fps": [round(x, 2) for x in after],
        "paired_ratios": [round(x, 3) for x in ratios],
        "median_ratio": round(statistics.median(ratios), 3),
        "rounds_won": sum(r > 1 for r in ratios),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ab.json").write_text(json.dumps(data, indent=2) + "\n")
    text = (
        f"after / before, pipeline FPS (1 stream, {args.frames} frames, paired rounds): "
        f"median **{data['median_ratio']}×**, after won {data['rounds_won']} of {args.rounds}; "
        f"before {data['before_fps']}, after {data['after_fps']}"
    )
    (args.out / "ab.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
