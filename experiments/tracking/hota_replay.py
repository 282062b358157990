"""Tracking scores (HOTA, IDF1, MOTA) of any tracker setting, from cached detections.

The detector runs once per case and detector setting (cached by
experiments/counting/replay.py); the tracker is replayed on its boxes and scored with
TrackEval against the case's ground truth, as `aistack bench accuracy` scores it.

    PYTHONPATH=. .venv/bin/python experiments/tracking/hota_replay.py --case pets-s2l1 \
        --detector nanodet_size=544 --tracker high_conf_det_threshold=0.5
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aistack.analytics.tracking import make_tracker
from aistack.bench.accuracy.cases import find_cases, scaled_copy
from aistack.evaluation.boxes import TrackBoxes
from aistack.evaluation.mot import load_ground_truth, tracking_metrics
from aistack.evaluation.truth import mot_truth
from experiments.counting.replay import DATA, app_config, detections_of, parse_sets

SHOWN = ("HOTA", "DetA", "AssA", "IDF1", "MOTA", "IDSW", "FP", "FN")


def scores(case_name: str, detector: dict[str, object], tracker: dict[str, object],
           data: Path) -> dict[str, float]:  # fmt: skip
    case = scaled_copy(find_cases(data, names=[case_name])[0])
    config = app_config(tracker=tracker, detector=detector)
    cached = detections_of(case, config)
    truth = mot_truth(load_ground_truth(case.truth)).of_classes(("person",))
    tracking = make_tracker(config.tracker, cached.fps)
    parts = []
    for index, found in enumerate(cached.detections):
        tracked = tracking.update(found)
        ids = tracked.tracker_id
        if ids is not None and len(tracked):
            confirmed = ids >= 0
            parts.append(
                TrackBoxes(
                    np.full(int(confirmed.sum()), index),
                    ids[confirmed],
                    tracked.xyxy[confirmed].astype(np.float64),
                    tracked.class_id[confirmed],
                )
            )
    metrics = tracking_metrics(truth.boxes, TrackBoxes.concat(parts), truth.ignored).to_dict()
    return {k: round(metrics[k], 3) if isinstance(metrics[k], float) else metrics[k]
            for k in SHOWN}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", required=True)
    parser.add_argument("--detector", action="append", default=[], help="detector KEY=JSON")
    parser.add_argument("--tracker", action="append", default=[], help="tracker KEY=JSON")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    for name in args.case:
        found = scores(name, parse_sets(args.detector), parse_sets(args.tracker), args.data)
        print(json.dumps({"case": name} | found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
