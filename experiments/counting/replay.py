"""Replay cached detections through tracker and counters, and score the crossings.

The accuracy benchmark runs the detector on every frame, which takes minutes on two
shared cores; counting rules change only what happens after the tracker. This script
runs the detector once per case (cached under /tmp/counting-cache, keyed by the detector
config and the detector's source), then replays the boxes through `CameraAnalytics` with
any `CountingConfig`, and scores the crossings the way `aistack bench accuracy` does
(count error Σ|counted − true| / Σtrue over lines × directions; caught, missed, spurious
within one second). The truth of a MOT case is counted from its ground-truth tracks with
`--truth-rules` (default: the plain geometry, every rule for imperfect tracks off).

    .venv/bin/python experiments/counting/replay.py --case pets-s2l1 --set duplicates=false
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aistack.analytics.camera import CameraAnalytics
from aistack.analytics.geometry import to_pixels
from aistack.analytics.lines import LineCounter
from aistack.bench.accuracy.cases import AccuracyCase, find_cases, scaled_copy
from aistack.classes import COCO_CLASSES
from aistack.config import AppConfig, CameraConfig, CountingConfig, parse_line
from aistack.evaluation.crossings import Crossing, read_crossings
from aistack.evaluation.matching import crossings_from_events, match_crossings, match_tolerance
from aistack.evaluation.mot import load_ground_truth
from aistack.types import Detections, Event, Frame

CACHE = Path("/tmp/counting-cache")
DATA = Path("../shared/data")
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Cached:
    """Every frame's detections of one case, and what the clip is."""

    detections: list[Detections]
    fps: float
    size: tuple[int, int]


def app_config(
    counting: dict[str, Any] | None = None,
    tracker: dict[str, Any] | None = None,
    detector: dict[str, Any] | None = None,
) -> AppConfig:
    return AppConfig.model_validate(
        {
            "cameras": [{"source": {"uri": "unused"}}],
            "metrics": {"enabled": False},
            "detector": {"classes": ["person"], **(detector or {})},
            "counting": counting or {},
            "tracker": tracker or {},
        }
    )


def detections_of(case: AccuracyCase, config: AppConfig) -> Cached:
    """The detector's boxes on every frame of the case's clip, from the cache when there."""
    # The decoders' source and the bundled models' checksums: a change to either
    # gives other boxes, so it must not reuse boxes cached before it.
    source = b"".join(
        (REPO / f"aistack/{name}").read_bytes()
        for name in ("detect/nanodet.py", "detect/centernet.py", "models/SHA256SUMS")
    )
    key = hashlib.sha1(
        config.detector.model_dump_json().encode() + source + str(case.clip).encode()
    ).hexdigest()[:12]
    path = CACHE / f"{case.name}-{key}.npz"
    if not path.is_file():
        from aistack.detect import load_detector

        detector = load_detector(config.detector)
        capture = cv2.VideoCapture(str(case.clip))
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        rows: list[np.ndarray] = []
        size = (0, 0)
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            size = (image.shape[1], image.shape[0])
            (found,) = detector.detect([image])
            for j in range(len(found)):
                rows.append(
                    np.array([index, *found.xyxy[j], found.confidence[j], found.class_id[j]])
                )
            index += 1
        capture.release()
        CACHE.mkdir(parents=True, exist_ok=True)
        table = np.array(rows).reshape(-1, 7)
        np.savez(path, table=table, frames=index, fps=fps, size=np.array(size))
    data = np.load(path)
    table, frames = data["table"], int(data["frames"])
    bounds = np.searchsorted(table[:, 0], np.arange(frames + 1))
    detections = [
        Detections(
            xyxy=table[a:b, 1:5].astype(np.float32),
            confidence=table[a:b, 5].astype(np.float32),
            class_id=table[a:b, 6].astype(np.int64),
            class_names=COCO_CLASSES,
        )
        for a, b in itertools.pairwise(bounds)
    ]
    return Cached(detections, float(data["fps"]), (int(data["size"][0]), int(data["size"][1])))


def behind_pillar(cached: Cached, x: float, width: float) -> Cached:
    """The detections with those whose box centre is behind a pillar at x taken out."""
    left, right = (x - width / 2) * cached.size[0], (x + width / 2) * cached.size[0]
    kept = []
    for found in cached.detections:
        centre = (found.xyxy[:, 0] + found.xyxy[:, 2]) / 2
        kept.append(found[~((centre > left) & (centre < right))])
    return Cached(kept, cached.fps, cached.size)


def camera_of(case: AccuracyCase) -> CameraConfig:
    lines = [parse_line(line, i) for i, line in enumerate(case.lines)]
    return CameraConfig.model_validate(
        {"name": "eval", "source": {"uri": str(case.clip), "type": "file"}, "lines": lines}
    )


def replay(
    cached: Cached, camera: CameraConfig, config: AppConfig
) -> tuple[list[Event], CameraAnalytics, list[Detections]]:
    analytics = CameraAnalytics(
        camera, config.tracker, config.counting, cached.fps, cached.size, config.pose
    )
    events: list[Event] = []
    tracked: list[Detections] = []
    blank = np.zeros((1, 1, 3), np.uint8)
    for index, found in enumerate(cached.detections):
        frame = Frame("eval", index, index / cached.fps, blank)
        result = analytics.process(frame, found)
        events += result.events
        tracked.append(result.detections)
    return events, analytics, tracked


def truth_of(
    case: AccuracyCase, camera: CameraConfig, cached: Cached, truth_counting: CountingConfig
) -> list[Crossing]:
    if case.truth_kind == "crossings":
        return [c for c in read_crossings(case.truth) if c.class_name == "person"]
    # As evaluation.true_crossings, but with the frames' timestamps in seconds (it passes
    # the frame number), so that rules measured in seconds can be tried on true tracks.
    gt = load_ground_truth(case.truth)
    boxes = gt.boxes[np.isin(gt.boxes.class_id, [COCO_CLASSES.index("person")])]
    frames = len(cached.detections)
    counters = [
        LineCounter(line.name, tuple(to_pixels(list(line.points), *cached.size)),  # type: ignore[arg-type]
                    "truth", truth_counting, forget_after=frames + 1)
        for line in camera.lines
    ]  # fmt: skip
    events = []
    for frame, found in boxes.by_frame(frames):
        detections = Detections(
            xyxy=found.xyxy.astype(np.float32),
            confidence=np.ones(len(found), np.float32),
            class_id=found.class_id,
            tracker_id=found.track_id,
            class_names=COCO_CLASSES,
        )
        for counter in counters:
            events.extend(counter.update(detections, frame, frame / cached.fps))
    return [
        Crossing(c.line, c.frame, c.direction, c.class_name, c.note.replace("track", "gt id"))
        for c in crossings_from_events(events)
    ]


def score(
    case: AccuracyCase, truth: list[Crossing], events: list[Event], fps: float
) -> dict[str, Any]:
    counted = crossings_from_events(events)
    tolerance = match_tolerance(fps)
    lines = [parse_line(line, i)["name"] for i, line in enumerate(case.lines)]
    error = 0
    total = 0
    caught = missed = spurious = 0
    detail = {}
    for line in lines:
        match = match_crossings(line, truth, counted, tolerance)
        caught += match.caught
        missed += len(match.missed)
        spurious += len(match.spurious)
        for d in ("in", "out"):
            t = sum(c.line == line and c.direction == d for c in truth)
            n = sum(c.line == line and c.direction == d for c in counted)
            error += abs(n - t)
            total += t
        detail[line] = {
            "missed": [(c.frame, c.direction, c.note) for c in match.missed],
            "spurious": [(c.frame, c.direction, c.note) for c in match.spurious],
            "matched": [(t.frame, c.frame, c.direction, c.note) for t, c in match.matched],
        }
    return {
        "case": case.name,
        "count_error_pct": round(100 * error / total, 1) if total else None,
        "truth": total,
        "counted": len(counted),
        "caught": caught,
        "missed": missed,
        "spurious": spurious,
        "lines": detail,
    }


def parse_sets(pairs: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        values[key] = json.loads(raw) if raw not in ("", None) else raw
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", required=True)
    parser.add_argument("--set", action="append", default=[], help="counting KEY=JSON")
    parser.add_argument("--truth-set", action="append", default=[], help="truth KEY=JSON")
    parser.add_argument("--tracker", action="append", default=[], help="tracker KEY=JSON")
    parser.add_argument("--detector", action="append", default=[], help="detector KEY=JSON")
    parser.add_argument("--detail", action="store_true")
    parser.add_argument("--matched", action="store_true", help="with --detail: matched too")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--pillar",
        type=float,
        nargs=2,
        metavar=("X", "WIDTH"),
        help="drop every detection whose centre is within WIDTH/2 of x=X (fractions of the "
        "frame width): a pillar in front of a vertical line that hides people crossing it",
    )
    args = parser.parse_args(argv)
    config = app_config(parse_sets(args.set), parse_sets(args.tracker), parse_sets(args.detector))
    truth_counting = CountingConfig.model_validate(truth_rules() | parse_sets(args.truth_set))
    results = []
    for case in find_cases(args.data, names=args.case):
        case = scaled_copy(case)
        cached = detections_of(case, config)
        if args.pillar:
            cached = behind_pillar(cached, *args.pillar)
        camera = camera_of(case)
        events, _, _ = replay(cached, camera, config)
        result = score(case, truth_of(case, camera, cached, truth_counting), events, cached.fps)
        results.append(result)
        brief = {k: v for k, v in result.items() if k != "lines"}
        print(json.dumps(brief))
        if args.detail:
            for line, found in result["lines"].items():
                for kind in ("missed", "spurious", "matched")[: 3 if args.matched else 2]:
                    for crossing in found[kind]:
                        print(f"  {line:8} {kind:8} {crossing}")
    return 0


def truth_rules() -> dict[str, Any]:
    """The counting settings the truth of ground-truth tracks uses: no rule for bad tracks."""
    fields = CountingConfig.model_fields
    return {name: False for name in ("duplicates", "motion_direction", "stitch") if name in fields}


if __name__ == "__main__":
    sys.exit(main())
