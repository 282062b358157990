"""NanoDet's input size and score threshold, measured on the dev set (docs/models.md).

    python experiments/detection/measure.py [--step 5] [--out experiments/detection]

Box-level quality on PETS09-S2L1 (the bundled vtest.mp4, with MOTChallenge ground
truth) at full size and scaled to 0.5 and 0.35 (frames and boxes resized here, so
people are as small as on a wide street camera); person boxes per frame on the two
960x540 street clips, which have no ground truth; time per frame on one thread.
Every input size runs on the same frame before the next frame is read, so they
share the machine's noise. Writes results.json and results.md under --out.

Needs ../shared/data (CC BY-NC-SA: read from there, never copied into the repo).
Decoded frames are cached under --cache so that reruns skip decoding.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from aistack.bench.suites import machine_info
from aistack.classes import COCO_CLASSES
from aistack.config import DetectorConfig
from aistack.data import DEMO_CLIP
from aistack.detect.nanodet import InputSize, NanoDetDetector
from aistack.detect.quantize import calibration_frames

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
GT = DATA / "PETS09-S2L1" / "gt.txt"
STREETS = ("MOT1601raw.mp4", "MOT1608raw.mp4")
SIZES: tuple[InputSize, ...] = ((416, 416), 288, 352, 384, 416, 480, 544, 640)
SCALES = (1.0, 0.5, 0.35)
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
FLOOR = 0.1  # detections are kept down to this score; AP is over what passes it
IOU = 0.5
HEIGHT_BINS = (0, 16, 24, 32, 48, 64, 96, 128, 192, 10_000)  # person height in input pixels
PERSON = COCO_CLASSES.index("person")

FloatArray = npt.NDArray[np.float64]


def label(size: InputSize) -> str:
    return f"{size[0]}x{size[1]} stretch" if isinstance(size, tuple) else f"height {size}"


def frames_of(video: Path, step: int, cache: Path) -> list[npt.NDArray[np.uint8]]:
    """Every `step`-th frame of `video` (index 0 first), decoded once and cached."""
    cached = cache / f"{video.stem}-step{step}.npy"
    if cached.is_file():
        return [np.asarray(image, np.uint8) for image in np.load(cached)]
    frames = calibration_frames(video, count=sys.maxsize, step=step)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(cached, np.stack(frames))
    return frames


def ground_truth(step: int, frames: int) -> dict[int, tuple[FloatArray, FloatArray]]:
    """Per cached frame: (xyxy of counted people, xyxy of conf-0 rows to ignore)."""
    rows = np.loadtxt(GT, delimiter=",")
    truth = {}
    for k in range(frames):
        of_frame = rows[rows[:, 0] == k * step + 1]  # gt frames are 1-based
        xyxy = of_frame[:, 2:6].copy()
        xyxy[:, 2:] += xyxy[:, :2]
        xyxy = np.clip(xyxy, 0, [768, 576, 768, 576])
        counted = of_frame[:, 6] != 0
        truth[k] = (xyxy[counted], xyxy[~counted])
    return truth


def iou(a: FloatArray, b: FloatArray) -> FloatArray:
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    return np.asarray(inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9))


@dataclass
class Tally:
    """One (scale, size) run: every person detection's score and verdict, every truth's best."""

    scores: list[float] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    truths: int = 0
    # Per counted truth: its height in model-input pixels, and the best score among
    # person boxes with IoU >= 0.5 (0 if none): recall by height at any threshold.
    heights: list[float] = field(default_factory=list)
    best: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, found: FloatArray, scores: FloatArray, truth: FloatArray, ignore: FloatArray,
            input_scale: float) -> None:  # fmt: skip
        """Greedy matching by score, as in VOC: a truth takes its first detection only."""
        self.truths += len(truth)
        overlap = iou(found, truth) if len(truth) else np.zeros((len(found), 0))
        self.heights += list((truth[:, 3] - truth[:, 1]) * input_scale)
        self.best += list(
            np.where(overlap >= IOU, scores[:, None], 0).max(axis=0, initial=0.0)
        )  # fmt: skip
        on_ignored: npt.NDArray[np.bool_] = np.zeros(len(found), bool)
        if len(ignore):
            on_ignored = np.asarray((iou(found, ignore) >= IOU).any(axis=1))
        taken = np.zeros(len(truth), bool)
        for d in np.argsort(-scores):
            candidates = np.where(taken, -1.0, overlap[d]) if len(truth) else np.array([])
            if len(candidates) and candidates.max() >= IOU:
                taken[candidates.argmax()] = True
                self.scores.append(float(scores[d]))
                self.correct.append(True)
            elif not on_ignored[d]:
                self.scores.append(float(scores[d]))
                self.correct.append(False)

    def summary(self) -> dict[str, Any]:
        order = np.argsort(-np.asarray(self.scores))
        scores = np.asarray(self.scores)[order]
        correct = np.asarray(self.correct)[order]
        hits = np.cumsum(correct)
        precision = hits / np.arange(1, len(hits) + 1)
        recall = hits / max(1, self.truths)
        # All-point interpolated AP: precision made monotone from the right.
        envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
        steps = np.diff(np.concatenate([[0.0], recall]))
        at: dict[str, dict[str, float]] = {}
        for threshold in THRESHOLDS:
            kept = scores >= threshold
            tp, fp = int(correct[kept].sum()), int((~correct[kept]).sum())
            p, r = tp / max(1, tp + fp), tp / max(1, self.truths)
            at[f"{threshold:.2f}"] = {
                "precision": round(p, 4), "recall": round(r, 4),
                "f1": round(2 * p * r / max(1e-9, p + r), 4), "tp": tp, "fp": fp,
            }  # fmt: skip
        return {
            "ap50": round(float((steps * envelope).sum()), 4),
            "truths": self.truths,
            "at": at,
            "ms_per_frame": round(1000 * statistics.median(self.seconds), 2),
        }


def detectors(threads: int) -> dict[str, NanoDetDetector]:
    # The app's classes (people and traffic) with agnostic NMS: a car box may
    # suppress a person box there too, so the measurement sees what the app sees.
    classes = [COCO_CLASSES.index(name) for name in DetectorConfig().classes]
    return {
        label(size): NanoDetDetector(
            confidence=FLOOR, classes=classes, threads=threads, input_size=size
        )
        for size in SIZES
    }


def timed(detector: NanoDetDetector, image: npt.NDArray[np.uint8]) -> tuple[Any, float]:
    began = time.perf_counter()
    found = detector.detect([image])[0]
    return found, time.perf_counter() - began


def pets(step: int, cache: Path, threads: int) -> dict[str, Any]:
    frames = frames_of(DEMO_CLIP, step, cache)
    truth = ground_truth(step, len(frames))
    models = detectors(threads)
    tallies = {(scale, name): Tally() for scale in SCALES for name in models}
    for k, full in enumerate(frames):
        for scale in SCALES:
            width, height = round(768 * scale), round(576 * scale)
            image = (
                full
                if scale == 1.0
                else cv2.resize(full, (width, height), interpolation=cv2.INTER_AREA)
            )
            factor = np.array([width / 768, height / 576] * 2)
            counted, ignore = truth[k][0] * factor, truth[k][1] * factor
            for name, detector in models.items():
                found, seconds = timed(detector, np.ascontiguousarray(image))
                people = found[found.class_id == PERSON]
                tally = tallies[(scale, name)]
                tally.seconds.append(seconds)
                input_scale = detector.input_shape(width, height)[1] / height
                tally.add(people.xyxy.astype(np.float64), people.confidence.astype(np.float64),
                          counted, ignore, input_scale)  # fmt: skip
        print(f"pets frame {k + 1}/{len(frames)}", end="\r", flush=True)
    print()
    results = {
        f"{scale}": {
            name: {
                "source": f"{round(768 * scale)}x{round(576 * scale)}",
                "input": "x".join(
                    map(str, models[name].input_shape(round(768 * scale), round(576 * scale)))
                ),
                **tallies[(scale, name)].summary(),
            }
            for name in models
        }
        for scale in SCALES
    }
    heights = np.concatenate([tally.heights for tally in tallies.values()])
    best = np.concatenate([tally.best for tally in tallies.values()])
    by_height = []
    for low, high in itertools.pairwise(HEIGHT_BINS):
        inside = (heights >= low) & (heights < high)
        if inside.any():
            row: dict[str, Any] = {"from_px": low, "to_px": high, "truths": int(inside.sum())}
            for threshold in THRESHOLDS:
                row[f"recall@{threshold:.2f}"] = round(float((best[inside] >= threshold).mean()), 4)
            by_height.append(row)
    return {
        "frames": len(frames),
        "step": step,
        "by_scale": results,
        "recall_by_input_height": by_height,
    }


def streets(step: int, cache: Path, threads: int) -> dict[str, Any]:
    models = detectors(threads)
    results: dict[str, Any] = {}
    for clip in STREETS:
        frames = frames_of(DATA / clip, step, cache)
        counts: dict[str, dict[float, list[int]]] = {n: {t: [] for t in THRESHOLDS} for n in models}
        seconds: dict[str, list[float]] = {name: [] for name in models}
        for k, image in enumerate(frames):
            for name, detector in models.items():
                found, took = timed(detector, image)
                seconds[name].append(took)
                people = found.confidence[found.class_id == PERSON]
                for t in THRESHOLDS:
                    counts[name][t].append(int((people >= t).sum()))
            print(f"{clip} frame {k + 1}/{len(frames)}", end="\r", flush=True)
        print()
        height, width = frames[0].shape[:2]
        results[clip] = {
            name: {
                "input": "x".join(map(str, models[name].input_shape(width, height))),
                "people_per_frame": {
                    f"{t:.2f}": round(float(np.mean(c)), 2) for t, c in counts[name].items()
                },
                "ms_per_frame": round(1000 * statistics.median(seconds[name]), 2),
            }
            for name in models
        }
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# NanoDet input size and threshold on the dev set",
        "",
        f"Written by `experiments/detection/measure.py` on {results['machine'].get('cpu', '?')}; "
        f"every {results['pets']['step']}th frame, one onnxruntime thread, "
        "time = median `detect()` per frame (resize, model, decode, NMS).",
        "",
        "## PETS09-S2L1 (vtest.mp4), persons, IoU 0.5",
        "",
        "| scale (source) | input | model input | AP50 | P@0.3 | R@0.3 | F1@0.3 | best F1 (thr) "
        "| ms/frame |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scale, runs in results["pets"]["by_scale"].items():
        for name, run in runs.items():
            best = max(run["at"].items(), key=lambda item: item[1]["f1"])
            at = run["at"]["0.30"]
            lines.append(
                f"| {scale} ({run['source']}) | {name} | {run['input']} | {run['ap50']:.3f} | "
                f"{at['precision']:.3f} | {at['recall']:.3f} | {at['f1']:.3f} | "
                f"{best[1]['f1']:.3f} ({best[0]}) | {run['ms_per_frame']:.1f} |"
            )
    lines += ["", "## F1 by threshold (PETS, every scale and input)", ""]
    header = " | ".join(f"{t:.2f}" for t in THRESHOLDS)
    lines += [f"| scale | input | {header} |", "|---|---|" + "---|" * len(THRESHOLDS)]
    for scale, runs in results["pets"]["by_scale"].items():
        for name, run in runs.items():
            cells = " | ".join(f"{run['at'][f'{t:.2f}']['f1']:.3f}" for t in THRESHOLDS)
            lines.append(f"| {scale} | {name} | {cells} |")
    lines += [
        "",
        "## Recall by a person's height in model-input pixels (PETS, all runs pooled)",
        "",
    ]
    lines += [f"| height px | truths | {header} |", "|---|---|" + "---|" * len(THRESHOLDS)]
    for row in results["pets"]["recall_by_input_height"]:
        cells = " | ".join(f"{row[f'recall@{t:.2f}']:.2f}" for t in THRESHOLDS)
        lines.append(f"| {row['from_px']}-{row['to_px']} | {row['truths']} | {cells} |")
    lines += ["", "## Street clips (960x540, no ground truth): person boxes per frame", ""]
    lines += [
        f"| clip | input | model input | {header} | ms/frame |",
        "|---|---|---|" + "---|" * (len(THRESHOLDS) + 1),
    ]
    for clip, runs in results["streets"].items():
        for name, run in runs.items():
            cells = " | ".join(f"{run['people_per_frame'][f'{t:.2f}']:.1f}" for t in THRESHOLDS)
            lines.append(
                f"| {clip} | {name} | {run['input']} | {cells} | {run['ms_per_frame']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=5, help="every STEP-th frame (default 5)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/det/cache"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--skip-streets", action="store_true")
    args = parser.parse_args()
    if not GT.is_file():
        raise SystemExit(f"{GT}: the dev set is not there (../shared/data)")
    cv2.setNumThreads(1)
    results: dict[str, Any] = {"machine": machine_info(), "threads": args.threads}
    results["pets"] = pets(args.step, args.cache, args.threads)
    results["streets"] = {} if args.skip_streets else streets(args.step, args.cache, args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "results.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
