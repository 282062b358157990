"""Each counting rule on its own and all together, on every case: a markdown table.

    PYTHONPATH=. .venv/bin/python experiments/counting/ablation.py > /tmp/ablation.md

Uses replay.py (cached detections, the same tracker and counters as the pipeline), so only
the counting differs between rows. The truth of the MOT cases is counted from ground-truth
tracks with every rule for imperfect tracks off, at the clip's real timestamps.
"""

from __future__ import annotations

import sys
from typing import Any

from aistack.bench.accuracy.cases import find_cases, scaled_copy
from aistack.config import CountingConfig
from experiments.counting.replay import (
    DATA,
    app_config,
    camera_of,
    detections_of,
    replay,
    score,
    truth_of,
    truth_rules,
)

CASES = ("pets-s2l1", "pets-s2l1-x0.5", "pets-s2l1-x0.35", "MOT1601raw", "MOT1608raw")
OFF = {"motion_direction": False, "duplicates": False, "stitch": False}
ROWS: dict[str, dict[str, Any]] = {
    "no rule (before)": OFF,
    "motion only": {**OFF, "motion_direction": True},
    "duplicates only": {**OFF, "duplicates": True},
    "stitch only": {**OFF, "stitch": True},
    "all rules (after)": {},
}


def main() -> int:
    print("| case | rules | count error | true / counted | caught / missed / spurious |")
    print("|---|---|---|---|---|")
    truth_counting = CountingConfig.model_validate(truth_rules())
    for case in find_cases(DATA, names=list(CASES)):
        if case.missing:
            continue
        case = scaled_copy(case)
        camera = camera_of(case)
        cached = detections_of(case, app_config())
        truth = truth_of(case, camera, cached, truth_counting)
        for label, counting in ROWS.items():
            events, _, _ = replay(cached, camera, app_config(counting))
            r = score(case, truth, events, cached.fps)
            print(
                f"| {case.name} | {label} | {r['count_error_pct']} % | {r['truth']} / "
                f"{r['counted']} | {r['caught']} / {r['missed']} / {r['spurious']} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
