"""Grafana dashboards as code: `python grafana/generate.py` writes grafana/dashboards/*.json.

The dashboards themselves are in the `dashboards_as_code` package next to this file.
`python grafana/generate.py --check` exits 1 when the committed JSON differs from what that
package builds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dashboards_as_code import build_dashboards

OUT_DIR = Path(__file__).resolve().parent / "dashboards"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the dashboards' JSON, or with --check only report stale files; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the JSON files")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is out of date"
    )
    args = parser.parse_args(argv)
    stale = []
    for generated in build_dashboards():
        path: Path = args.out / generated.filename
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != generated.text():
                stale.append(path)
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(generated.text(), encoding="utf-8")
        print(f"wrote {path}")
    for path in stale:
        print(f"{path} is out of date: run python grafana/generate.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
