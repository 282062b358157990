"""One size-free NanoDet graph, or a graph with its size fixed: same outputs, same speed?

    python experiments/detection/graph_speed.py [--repeats 40]

For each input shape three sessions run the same random input on one thread:
`fixed`, a graph whose declared input is that shape (graph_edits.fixed_input_size);
`free`, the bundled size-free graph as it is; `pinned`, the bundled graph with
the size fixed when the session loads (onnxruntime's free-dimension override,
which needs no onnx package at run time). They take turns, in alternating order,
so they share the machine's noise. Needs onnx (the ultralytics extra). Writes
graph_speed.json beside this script and prints a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from aistack.bench.suites import machine_info
from aistack.models import bundled_model_path
from aistack.models.graph_edits import fixed_input_size

SHAPES = ((416, 416), (640, 352), (640, 480), (736, 416))  # (width, height)


def session(model: bytes, **pinned: int) -> Any:
    """A session set up as aistack's lanes set theirs up: one thread, no spinning."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    for name, value in pinned.items():
        options.add_free_dimension_override_by_name(name, value)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def largest_difference(ours: list[Any], theirs: list[Any]) -> float:
    return max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    bundled = onnx.load(str(bundled_model_path("nanodet")))
    free_bytes = bundled.SerializeToString()
    rows = []
    for width, height in SHAPES:
        blob = np.random.default_rng(0).standard_normal((1, 3, height, width), np.float32)
        sessions = {
            "fixed": session(fixed_input_size(bundled, width, height).SerializeToString()),
            "free": session(free_bytes),
            "pinned": session(free_bytes, height=height, width=width),
        }
        outputs = {name: s.run(None, {"input_1:0": blob}) for name, s in sessions.items()}
        seconds: dict[str, list[float]] = {name: [] for name in sessions}
        for repeat in range(args.repeats):
            order = list(sessions) if repeat % 2 == 0 else list(reversed(sessions))
            for name in order:
                began = time.perf_counter()
                sessions[name].run(None, {"input_1:0": blob})
                seconds[name].append(time.perf_counter() - began)

        row = {
            "input": f"{width}x{height}",
            **{f"{name}_ms": round(1000 * statistics.median(s), 2) for name, s in seconds.items()},
            "free_over_fixed": round(
                statistics.median(
                    f / x for f, x in zip(seconds["free"], seconds["fixed"], strict=True)
                ),
                3,
            ),
            "free_max_abs_diff": largest_difference(outputs["free"], outputs["fixed"]),
            "pinned_max_abs_diff": largest_difference(outputs["pinned"], outputs["fixed"]),
        }
        rows.append(row)
        print(row, flush=True)
    result = {"machine": machine_info(), "repeats": args.repeats, "threads": 1, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "graph_speed.json").write_text(json.dumps(result, indent=1) + "\n")
    print("\n| input | fixed ms | free ms | pinned ms | free/fixed | max diff free | pinned |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['input']} | {r['fixed_ms']} | {r['free_ms']} | {r['pinned_ms']} | "
            f"{r['free_over_fixed']} | {r['free_max_abs_diff']:.1e} | {r['pinned_max_abs_diff']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
