"""`aistack bench accuracy` with the counting rules for imperfect tracks off and on.

    .venv/bin/python experiments/counting/bench_rules.py OUT_DIR [CASE ...]

The benchmark's own code and files (JSON, markdown, plot), with one more setting,
`rules-off`: motion_direction, duplicates and stitch off, as before issue #16 item 3.
`default` is what a plain run does now (every rule on). The evaluation counts the truth
of ground-truth tracks with the setting's counting config, so `rules-off` also gives the
truth as it was before.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aistack.bench.accuracy import runner

RULES_OFF = {"counting": {"motion_direction": False, "duplicates": False, "stitch": False}}


def main(argv: list[str]) -> int:
    out, cases = Path(argv[0]), argv[1:] or None
    runner.SETTINGS["rules-off"] = RULES_OFF
    result = runner.run_accuracy(
        out, Path("../shared/data"), cases=cases, settings=["rules-off", "default"]
    )
    print(result.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
