"""Tracking and counts on PETS09-S2L1 at each NanoDet input size and score threshold.

    python experiments/detection/tracking.py [--scales 1.0 0.5 0.35]

Box-level precision and recall (measure.py) do not say what a score threshold
does to tracks: ByteTrack keeps a track alive on boxes below its own thresholds,
so boxes that are false on their own may still help. This runs the real pipeline
(`aistack.evaluation.evaluate`, the engine of `aistack eval`) on the bundled clip
with its MOTChallenge ground truth, at full size and scaled down (clip and boxes
resized into --work, never into the repo), for each size and threshold, and
records HOTA, MOTA, IDF1 and the true and counted crossings of three lines.
Writes tracking.json beside this script and prints a table.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.evaluation.evaluate import evaluate

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
GT = DATA / "PETS09-S2L1" / "gt.txt"
SIZES: tuple[Any, ...] = ("416x416", 384, 416, 480, 544)
CONFIDENCES = (0.25, 0.3, 0.4)
# The walkway line of experiments/walkway.yaml, and the frame's middle both ways.
LINES = ("walkway=0.62,0.80,0.62,0.30", "across=0.0,0.5,1.0,0.5", "down=0.5,0.0,0.5,1.0")


def scaled(scale: float, work: Path) -> tuple[Path, Path]:
    """The clip and its ground truth resized by `scale` (the originals for 1.0)."""
    if scale == 1.0:
        return DEMO_CLIP, GT
    clip, truth = work / f"vtest-{scale}.mp4", work / f"gt-{scale}.txt"
    if clip.is_file() and truth.is_file():
        return clip, truth
    work.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    size = (round(768 * scale), round(576 * scale))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    while True:
        ok, image = capture.read()
        if not ok:
            break
        writer.write(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    writer.release()
    capture.release()
    rows = np.loadtxt(GT, delimiter=",")
    rows[:, 2:6] *= [size[0] / 768, size[1] / 576, size[0] / 768, size[1] / 576]
    np.savetxt(truth, rows, delimiter=",", fmt="%.3f")
    return clip, truth


def config(size: Any, confidence: float) -> AppConfig:
    return AppConfig.model_validate(
        {
            "cameras": [{"source": {"uri": "unused"}}],  # evaluate() puts the clip there
            "detector": {
                "model": "nanodet",
                "classes": ["person"],
                "nanodet_size": size,
                "confidence": confidence,
            },
            "metrics": {"enabled": False},
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.5, 0.35])
    parser.add_argument("--sizes", nargs="+", default=[str(s) for s in SIZES])
    parser.add_argument("--work", type=Path, default=Path("/tmp/det/tracking"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    rows = []
    sizes = [int(s) if s.isdigit() else s for s in args.sizes]
    for scale, size, confidence in itertools.product(args.scales, sizes, CONFIDENCES):
        clip, truth = scaled(scale, args.work)
        result = evaluate(clip, truth, LINES, config(size, confidence)).to_dict()
        tracking = result.get("tracking") or {}
        lines = result.get("lines", [])
        row = {
            "scale": scale,
            "nanodet_size": str(size),
            "confidence": confidence,
            **{
                k: tracking.get(k)
                for k in ("HOTA", "DetA", "AssA", "IDF1", "MOTA", "IDSW", "FP", "FN")
            },
            "weighted_count_error": result.get("weighted_count_error"),
            "lines": lines,
            "fps": result.get("fps"),
        }
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "lines"}), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tracking.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    print("\n| scale | nanodet_size | confidence | HOTA | MOTA | IDF1 | IDSW | count error |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['scale']} | {r['nanodet_size']} | {r['confidence']} | {r['HOTA']} | "
            f"{r['MOTA']} | {r['IDF1']} | {r['IDSW']} | {r['weighted_count_error']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
