"""OC-SORT's own options that aistack does not expose, replayed on the dev set's cached boxes.

`trackers`' OCSORTTracker also takes an IoU variant for association (`iou=`: GIoU, DIoU,
CIoU, BIoU), a Kalman state (`state_estimator_class=`), `delta_t` and
`direction_consistency_weight`. This script swaps them in for one run, then prints each
case's count error (experiments/counting/replay.py) and, on the PETS cases, HOTA, AssA,
DetA and ID switches (hota_replay.py), on one line:

    PYTHONPATH=. .venv/bin/python experiments/tracking/ocsort_variants.py --iou biou \
        --biou-buffer 0.1 [--ocsort delta_t=5] [--tracker minimum_iou_threshold=0.2]

Results for CenterNet 448 (the default): results/centernet448-variants.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import sys
from collections.abc import Sequence
from typing import Any

import trackers
from trackers.utils import iou as ious
from trackers.utils import state_representations as states

from experiments.counting import replay
from experiments.counting.replay import parse_sets
from experiments.tracking import hota_replay

CASES = ("pets-s2l1", "pets-s2l1-x0.5", "pets-s2l1-x0.35", "MOT1601raw", "MOT1608raw")
IOUS = {"giou": ious.GIoU, "diou": ious.DIoU, "ciou": ious.CIoU}
ESTIMATORS = {"xcycsr": states.XCYCSRStateEstimator, "xcycwh": states.XCYCWHStateEstimator}


def ocsort_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = parse_sets(args.ocsort)
    if args.iou == "biou":
        options["iou"] = ious.BIoU(buffer_ratio=args.biou_buffer)
    elif args.iou in IOUS:
        options["iou"] = IOUS[args.iou]()
    if args.estimator:
        options["state_estimator_class"] = ESTIMATORS[args.estimator]
    return options


def quietly(run: Any, argv: list[str]) -> list[dict[str, Any]]:
    """Run a replay script's main and return the JSON lines it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run(argv)
    return [json.loads(line) for line in printed.getvalue().splitlines() if line.startswith("{")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iou", choices=["iou", "giou", "diou", "ciou", "biou"], default="iou")
    parser.add_argument("--biou-buffer", type=float, default=0.1)
    parser.add_argument("--estimator", choices=sorted(ESTIMATORS))
    parser.add_argument("--ocsort", action="append", default=[], help="OCSORTTracker KEY=JSON")
    parser.add_argument("--tracker", action="append", default=[], help="tracker KEY=JSON")
    parser.add_argument("--detector", action="append", default=[], help="detector KEY=JSON")
    args = parser.parse_args(argv)
    # The adapter builds trackers.OCSORTTracker by name, so the options go in there.
    trackers.OCSORTTracker = functools.partial(trackers.OCSORTTracker, **ocsort_options(args))
    settings = [f"--tracker={s}" for s in args.tracker] + [f"--detector={s}" for s in args.detector]
    found = {}
    for row in quietly(replay.main, [f"--case={c}" for c in CASES] + settings):
        found[row["case"]] = (
            f"{row['count_error_pct']}({row['caught']}/{row['missed']}/{row['spurious']})"
        )
    for case in CASES[:3]:
        (scores,) = quietly(hota_replay.main, [f"--case={case}", *settings])
        found[case] += f" H{scores['HOTA']} A{scores['AssA']} D{scores['DetA']} sw{scores['IDSW']}"
    print(json.dumps({"options": sys.argv[1:] if argv is None else list(argv)} | found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
