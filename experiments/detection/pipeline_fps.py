"""Whole-pipeline frames per second at each NanoDet input size, one camera, on this machine.

    python experiments/detection/pipeline_fps.py [--frames 300] [--rounds 2] [--int8]

aistack's default pipeline (a line and a zone, its own model lanes) reads one clip
as fast as it can; only `detector.nanodet_size` changes between runs. Sizes take
turns within each round so that they share the machine's noise, and the median
over rounds is reported. On a machine shared with other jobs wall-clock fps says
more about the neighbours than about aistack, so the process's CPU time per frame
is recorded too: `cpu_fps` = cores / CPU seconds per frame is the rate the run
would reach with the cores to itself and no idle gaps (an upper bound). The
real-time budget (docs/models.md): the default size must keep a 960x540 camera at
30 fps or more on 2 cores, a slower `accurate` size at 15. `--int8` adds the int8 graph
(`detector.precision: int8`) at each size-by-height, in the same rounds. Writes
pipeline_fps.json (pipeline_fps_int8.json with --int8) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
from pathlib import Path
from typing import Any

from aistack.bench.suites import machine_info
from aistack.config import AppConfig
from aistack.data import DEMO_CLIP
from aistack.pipeline.wiring import Pipeline
from aistack.sources.video import first_frame

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CLIPS = (DATA / "MOT1601raw.mp4", DEMO_CLIP)
SIZES: tuple[Any, ...] = ("416x416", 352, 416, 480, 544)
INT8_SIZES = (352, 416, 480, 544)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def fps(clip: Path, size: Any, frames: int, precision: str = "fp32") -> tuple[float, float]:
    """(wall-clock fps, cores / CPU seconds per frame) of one run."""
    config = AppConfig.model_validate(
        {
            "cameras": [
                {
                    "name": "bench",
                    "source": {"uri": str(clip), "loop": True},
                    "lines": [{"name": "middle", "points": [0.5, 0.0, 0.5, 1.0]}],
                    "zones": [{"name": "left", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
                }
            ],
            "metrics": {"enabled": False},
            "detector": {"model": "nanodet", "nanodet_size": size, "precision": precision},
        }
    )
    pipeline = Pipeline(config, pace="unpaced", max_frames=frames)
    pipeline.warm_up(first_frame(clip))
    began = cpu_seconds()
    summary = pipeline.run()
    per_frame = (cpu_seconds() - began) / max(1, summary.frames)
    return summary.fps, (os.cpu_count() or 1) / per_frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--int8", action="store_true", help="the int8 graph beside the float one")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    variants = [(size, "fp32") for size in SIZES]
    if args.int8:
        variants += [(size, "int8") for size in INT8_SIZES]
    names = {v: str(v[0]) if v[1] == "fp32" else f"{v[0]} int8" for v in variants}
    runs: dict[str, dict[str, list[float]]] = {
        c.name: {n: [] for n in names.values()} for c in CLIPS
    }
    cpu: dict[str, dict[str, list[float]]] = {
        c.name: {n: [] for n in names.values()} for c in CLIPS
    }
    for round_ in range(args.rounds):
        for clip in CLIPS:
            for variant in variants if round_ % 2 == 0 else reversed(variants):
                wall, cpu_bound = fps(clip, variant[0], args.frames, variant[1])
                runs[clip.name][names[variant]].append(round(wall, 1))
                cpu[clip.name][names[variant]].append(round(cpu_bound, 1))
                label = f"{round_ + 1} {clip.name} {names[variant]}"
                print(f"{label}: {wall:.1f} fps, cpu {cpu_bound:.1f}")
    result = {"machine": machine_info(), "frames": args.frames, "fps": runs, "cpu_fps": cpu}
    args.out.mkdir(parents=True, exist_ok=True)
    name = "pipeline_fps_int8.json" if args.int8 else "pipeline_fps.json"
    (args.out / name).write_text(json.dumps(result, indent=1) + "\n")
    print("\n| clip | nanodet_size | fps (median) | runs | cpu_fps (median) |")
    print("|---|---|---|---|---|")
    for clip_name, by_size in runs.items():
        for size, values in by_size.items():
            wall, bound = statistics.median(values), statistics.median(cpu[clip_name][size])
            print(f"| {clip_name} | {size} | {wall:.1f} | {values} | {bound:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
