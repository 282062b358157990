"""How much the detector's box height for one person changes between two sightings.

The stitch rule (docs/counting.md, *Hidden crossings*) takes a new track for a lost one
only if their box heights agree as well as two boxes of one person do. This measures
that on PETS S2L1 (the bundled clip, 10 fps), where every person has a ground-truth box
in every frame: each detection matched to a ground-truth box (IoU > 0.5) gets its
residual ln(detected height / true height); two sightings of one person `lag` frames
apart differ by the difference of their residuals (the person's own change of size, in
the truth, taken out). The percentiles of |difference| per lag go to a JSON file.

    PYTHONPATH=. .venv/bin/python experiments/counting/height_noise.py \
        --out experiments/counting/height_noise.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aistack.bench.accuracy.cases import find_cases
from experiments.counting.replay import DATA, app_config, detections_of

LAGS = (1, 3, 5, 10, 15)  # frames at 10 fps: 0.1 to 1.5 s (stitch_seconds)
PERCENTILES = (50, 90, 95, 99)


def residuals(case_name: str, data: Path) -> dict[tuple[int, int], float]:
    """(person, frame) -> ln(detected height / true height) for matched detections."""
    (case,) = find_cases(data, names=[case_name])
    cached = detections_of(case, app_config())
    truth = np.loadtxt(case.truth, delimiter=",")
    truth = truth[truth[:, 6] != 0]  # MOT: column 7 is 0 for boxes to ignore
    found: dict[tuple[int, int], float] = {}
    for frame in np.unique(truth[:, 0]).astype(int):
        rows = truth[truth[:, 0] == frame]
        index = frame - 1  # MOT frames count from 1
        if index >= len(cached.detections) or not len(cached.detections[index]):
            continue
        boxes = cached.detections[index].xyxy.astype(np.float64)
        for person, x, y, w, h in rows[:, 1:6]:
            inter_w = np.clip(np.minimum(x + w, boxes[:, 2]) - np.maximum(x, boxes[:, 0]), 0, None)
            inter_h = np.clip(np.minimum(y + h, boxes[:, 3]) - np.maximum(y, boxes[:, 1]), 0, None)
            inter = inter_w * inter_h
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            iou = inter / (w * h + areas - inter)
            best = int(iou.argmax())
            if iou[best] > 0.5:
                height = boxes[best, 3] - boxes[best, 1]
                found[(int(person), int(frame))] = float(np.log(height / h))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="pets-s2l1")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=Path("experiments/counting/height_noise.json"))
    args = parser.parse_args(argv)
    found = residuals(args.case, args.data)
    result: dict[str, object] = {"case": args.case, "matched_boxes": len(found), "lags": {}}
    for lag in LAGS:
        changes = [
            abs(value - found[(person, frame + lag)])
            for (person, frame), value in found.items()
            if (person, frame + lag) in found
        ]
        values = np.percentile(changes, PERCENTILES)
        row = {f"p{p}": round(float(v), 3) for p, v in zip(PERCENTILES, values, strict=True)}
        row["pairs"] = len(changes)
        row["p99_ratio"] = round(float(np.exp(values[-1])), 3)
        result["lags"][str(lag)] = row  # type: ignore[index]
        print(f"lag {lag:2} frames: {row}")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
