"""Compare trackers and their thresholds on the accuracy dev set (issue #16 item 2).

Runs `aistack bench accuracy`'s cases with the default detector and counting rules, changing
only the tracker, and writes the bench's JSON, markdown and plot to experiments/tracking/.

    python experiments/tracking/compare_trackers.py [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aistack.bench.accuracy.runner import run_accuracy

ROOT = Path(__file__).resolve().parents[2]
TRACKERS = {
    "bytetrack-0.4": {"tracker": {"type": "bytetrack"}},  # the default until now
    "bytetrack-0.3": {
        "tracker": {"track_activation_threshold": 0.3, "high_conf_det_threshold": 0.3}
    },
    "bytetrack-0.5": {
        "tracker": {"track_activation_threshold": 0.5, "high_conf_det_threshold": 0.5}
    },
    "ocsort": {"tracker": {"type": "ocsort"}},
    "sort": {"tracker": {"type": "sort"}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments" / "tracking")
    args = parser.parse_args()
    result = run_accuracy(args.out, args.data, quick=args.quick, custom=TRACKERS)
    print(result.markdown)


if __name__ == "__main__":
    main()
