"""How often the bundled detectors' person boxes are people, by score band, on PETS S2L1.

The tracker's score threshold (`tracker.high_conf_det_threshold`) decides which boxes
OC-SORT uses at all; this shows where each detector's boxes (NanoDet per preset, and
CenterNet) turn from mostly false to mostly right. Each frame's boxes, highest score
first, are matched one to one to ground-truth boxes at IoU >= 0.5; per score band the
share matched (precision) is reported, and for each threshold the precision and recall
of every box at or above it.

    PYTHONPATH=. .venv/bin/python experiments/tracking/score_precision.py \
        --out experiments/tracking/score_precision.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aistack.bench.accuracy.cases import find_cases, scaled_copy
from aistack.evaluation.mot import load_ground_truth
from aistack.evaluation.truth import mot_truth
from experiments.counting.replay import DATA, app_config, detections_of

DETECTORS = {  # the presets' detectors
    "fast (416, int8)": {"model": "nanodet", "nanodet_size": 416, "precision": "int8"},
    "nanodet 544 int8": {"model": "nanodet", "nanodet_size": 544, "precision": "int8"},
    "nanodet 544 fp32": {"model": "nanodet", "nanodet_size": 544, "precision": "fp32"},
    "accurate (centernet 544, fp32)": {"model": "centernet", "nanodet_size": 544},
    "centernet 416 fp32": {"model": "centernet", "nanodet_size": 416},
}
BANDS = np.round(np.arange(0.25, 0.80, 0.05), 2)  # NanoDet's boxes start at 0.25


def matched(case_name: str, detector: dict[str, object], data: Path) -> tuple[np.ndarray, ...]:
    """Every box's score, whether it matched a ground-truth box, and the number of those."""
    case = scaled_copy(find_cases(data, names=[case_name])[0])
    cached = detections_of(case, app_config(detector=detector))
    truth = mot_truth(load_ground_truth(case.truth)).of_classes(("person",))
    scores: list[float] = []
    hits: list[bool] = []
    for index, found in enumerate(cached.detections):
        people = truth.boxes.xyxy[truth.boxes.frame == index]
        free = np.ones(len(people), bool)
        for j in np.argsort(-found.confidence):
            box = found.xyxy[j]
            hit = False
            if free.any():
                inter = np.clip(
                    np.minimum(box[2], people[:, 2]) - np.maximum(box[0], people[:, 0]), 0, None
                ) * np.clip(
                    np.minimum(box[3], people[:, 3]) - np.maximum(box[1], people[:, 1]), 0, None
                )
                areas = (people[:, 2] - people[:, 0]) * (people[:, 3] - people[:, 1])
                iou = np.where(
                    free, inter / ((box[2] - box[0]) * (box[3] - box[1]) + areas - inter), 0
                )
                best = int(iou.argmax())
                hit = bool(iou[best] >= 0.5)
                free[best] &= not hit
            scores.append(float(found.confidence[j]))
            hits.append(hit)
    return np.array(scores), np.array(hits), np.array(len(truth.boxes.xyxy))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", default=[])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--out", type=Path, default=Path("experiments/tracking/score_precision.json")
    )
    args = parser.parse_args(argv)
    result: dict[str, dict[str, object]] = {}
    for name in args.case or ["pets-s2l1", "pets-s2l1-x0.35"]:
        for label, detector in DETECTORS.items():
            scores, hits, people = matched(name, detector, args.data)
            rows = []
            for low in BANDS:
                band = (scores >= low) & (scores < low + 0.05)
                above = scores >= low
                rows.append(
                    {
                        "band": f"{low:.2f}-{low + 0.05:.2f}",
                        "boxes": int(band.sum()),
                        "precision": round(float(hits[band].mean()), 3) if band.any() else None,
                        "precision_at_or_above": round(float(hits[above].mean()), 3),
                        "recall_at_or_above": round(float(hits[above].sum() / people), 3),
                    }
                )
            result[f"{name} / {label}"] = {"people": int(people), "bands": rows}
            print(name, label)
            for row in rows:
                print("  ", row)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
