"""On the street clips (no ground truth): are low-score boxes people? Checked against a larger view.

    python experiments/detection/street_bands.py [--step 5]

The reference is NanoDet at the source's own resolution (960x544 for 960x540),
keeping only boxes scored 0.5 or more: few of those are false on PETS09, where the
truth is known (measure.py). For each input size, every person box is put in a
score band, and a band's agreement is the share of its boxes that overlap a
reference box with IoU >= 0.5. Agreement is a lower bound on precision (the
reference misses people too), good enough to tell a band of people from a band
of clutter. Also: the share of reference boxes each size finds at each threshold.
Writes street_bands.json beside this script and prints a table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from measure import DATA, STREETS, frames_of, iou

from aistack.classes import COCO_CLASSES
from aistack.config import DetectorConfig
from aistack.detect.nanodet import InputSize, NanoDetDetector

SIZES: tuple[InputSize, ...] = ((416, 416), 352, 416, 480)
REFERENCE: InputSize = 544
REFERENCE_SCORE = 0.5
EDGES = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 1.01)
PERSON = COCO_CLASSES.index("person")


def people(detector: NanoDetDetector, image: Any) -> tuple[Any, Any]:
    found = detector.detect([image])[0]
    found = found[found.class_id == PERSON]
    return found.xyxy.astype(np.float64), found.confidence


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/det/cache"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    classes = [COCO_CLASSES.index(name) for name in DetectorConfig().classes]

    def make(size: InputSize, floor: float) -> NanoDetDetector:
        return NanoDetDetector(confidence=floor, classes=classes, threads=1, input_size=size)

    reference = make(REFERENCE, REFERENCE_SCORE)
    models = {str(size): make(size, EDGES[0]) for size in SIZES}
    result: dict[str, Any] = {}
    for clip in STREETS:
        bands = {name: np.zeros((len(EDGES) - 1, 2), int) for name in models}  # boxes, agreeing
        found_reference = {name: np.zeros(len(EDGES) - 1, int) for name in models}
        references = 0
        for image in frames_of(DATA / clip, args.step, args.cache):
            truth, _ = people(reference, image)
            references += len(truth)
            for name, detector in models.items():
                xyxy, scores = people(detector, image)
                band = np.digitize(scores, EDGES) - 1
                overlap = iou(xyxy, truth) if len(truth) and len(xyxy) else None
                agrees = (
                    (overlap >= 0.5).any(axis=1)
                    if overlap is not None
                    else np.zeros(len(xyxy), bool)
                )
                np.add.at(bands[name][:, 0], band, 1)
                np.add.at(bands[name][:, 1], band, agrees.astype(int))
                if overlap is not None:
                    # Each reference box's best score among the boxes that overlap it.
                    best = np.where(overlap >= 0.5, scores[:, None], 0).max(axis=0)
                    for k, edge in enumerate(EDGES[:-1]):
                        found_reference[name][k] += int((best >= edge).sum())
        result[clip] = {
            "reference_boxes": references,
            "sizes": {
                name: {
                    "bands": [
                        {
                            "from": EDGES[k],
                            "to": min(EDGES[k + 1], 1.0),
                            "boxes": int(bands[name][k, 0]),
                            "agreeing": int(bands[name][k, 1]),
                        }
                        for k in range(len(EDGES) - 1)
                    ],
                    "reference_found_at": {
                        f"{EDGES[k]:.2f}": round(found_reference[name][k] / max(1, references), 3)
                        for k in range(len(EDGES) - 1)
                    },
                }
                for name in models
            },
        }
        print(f"{clip}: {references} reference boxes", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "street_bands.json").write_text(json.dumps(result, indent=1) + "\n")
    header = " | ".join(
        f"{EDGES[k]:.2f}-{min(EDGES[k + 1], 1.0):.2f}" for k in range(len(EDGES) - 1)
    )
    print(f"\n| clip | input | boxes (agreeing %) by score band: {header} |")
    for clip, runs in result.items():
        for name, run in runs["sizes"].items():
            cells = " | ".join(
                f"{b['boxes']} ({100 * b['agreeing'] / max(1, b['boxes']):.0f} %)"
                for b in run["bands"]
            )
            print(f"| {clip} | {name} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
