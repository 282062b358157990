"""How closely an int8 NanoDet graph finds what the float one finds, box for box.

    python experiments/int8/agreement.py [GRAPH.onnx ...]

The dev set's count errors move by several points when only a few boxes change (57
street crossings), so quantisation is judged first on boxes: 40 frames of the two street
clips and the bundled clip, people at score ≥ 0.25, the float graph's boxes as the
reference. `recall` is the share of the float graph's confident boxes (score ≥ 0.4, what
the tracker starts tracks from) that the int8 graph finds at IoU ≥ 0.5; `boxes` the
number of boxes each finds; `score_shift` the mean score change on matched boxes.
Without arguments it scores the bundled nanodet-int8.onnx. Writes agreement.json here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from aistack.detect.nanodet import NanoDetDetector
from aistack.detect.quantize import calibration_frames
from aistack.models import bundled_model_path
from aistack.types import Detections

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data"
CLIPS = (  # clip, frames, every Nth frame
    (DATA / "MOT1601raw.mp4", 15, 30),
    (DATA / "MOT1608raw.mp4", 15, 40),
    (HERE.parents[1] / "aistack" / "data" / "vtest.mp4", 10, 70),
)
CONFIDENT = 0.4


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a, area_b = (a[:, 2:] - a[:, :2]).prod(axis=1), (b[:, 2:] - b[:, :2]).prod(axis=1)
    return np.asarray(inter / (area_a[:, None] + area_b[None, :] - inter))


def agreement(reference: list[Detections], found: list[Detections]) -> dict[str, Any]:
    hits: list[bool] = []
    shifts: list[float] = []
    for ref, new in zip(reference, found, strict=True):
        confident = ref.confidence >= CONFIDENT
        if not len(new):
            hits += [False] * int(confident.sum())
            continue
        overlap = iou(ref.xyxy, new.xyxy) if len(ref) else np.zeros((0, len(new)))
        best = overlap.max(axis=1) if len(ref) else np.zeros(0)
        hits += list(best[confident] >= 0.5)
        matched = best >= 0.5
        shifts += list(new.confidence[overlap.argmax(axis=1)[matched]] - ref.confidence[matched])
    return {
        "confident_reference_boxes": len(hits),
        "recall": round(float(np.mean(hits)), 3) if hits else None,
        "boxes": [sum(len(r) for r in reference), sum(len(f) for f in found)],
        "score_shift": round(float(np.mean(shifts)), 4) if shifts else None,
    }


def main(argv: list[str]) -> int:
    graphs = [Path(a) for a in argv] or [bundled_model_path("nanodet-int8")]
    images = [
        image for clip, count, step in CLIPS for image in calibration_frames(clip, count, step)
    ]
    results: dict[str, Any] = {}
    for height in (352, 416, 544):
        ref_detector = NanoDetDetector(confidence=0.25, classes=[0], input_size=height)
        reference = [ref_detector.detect([image])[0] for image in images]
        for graph in graphs:
            detector = NanoDetDetector(
                model_path=graph, confidence=0.25, classes=[0], input_size=height
            )
            row = agreement(reference, [detector.detect([image])[0] for image in images])
            results[f"{graph.name} @ {height}"] = row
            print(f"{graph.name} @ {height}: {row}")
    (HERE / "agreement.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
