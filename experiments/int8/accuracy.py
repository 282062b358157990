"""Dev-set counts with the int8 NanoDet beside the float one, at each preset's input height.

    python experiments/int8/accuracy.py [--data ../shared/data] [--quick]

Runs `aistack bench accuracy`'s cases with six settings (float32 and int8 at 352, 416
and 544 px high; everything else the defaults) in one run and writes accuracy-<time>.json,
accuracy-latest.md and .png here. The int8 graph is aistack/models/nanodet-int8.onnx
(`python -m aistack.detect.quantize`). The question it answers: does int8 move the
dev-set count error by less than a point, as issue #16 asks before paying for a larger
input with the time int8 saves?
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aistack.bench.accuracy.runner import run_accuracy
from aistack.models import bundled_model_path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data"
SIZES = (352, 416, 544)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    int8 = str(bundled_model_path("nanodet-int8"))
    custom = {}
    for size in SIZES:
        custom[f"fp32-{size}"] = {"detector": {"model": "nanodet", "nanodet_size": size}}
        custom[f"int8-{size}"] = {"detector": {"nanodet_size": size, "model": int8}}
    result = run_accuracy(args.out, args.data, quick=args.quick, custom=custom)
    print(result.markdown)
    print(f"results: {result.json_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
