"""The fixed counting job in Python, as the reference the C++ and Mojo versions must match.

The job: decode aistack/data/vtest.mp4 → NanoDet (aistack's NanoDetDetector: stretch to
416x416, persons only, score ≥ 0.3, class-agnostic NMS at IoU 0.6) → `IouTracker` below →
aistack's LineCounter on the walkway line. It prints one JSON object:
{"frames", "in", "out", "fps", "cpu_percent", "peak_rss_mb"}.

The tracker is deliberately not ByteTrack: it is small enough to write identically in
Python, C++ and Mojo (experiments/cpp/job.hpp, experiments/mojo/job.mojo), so that a
difference in counts can only come from the detector, never from three tracker ports.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing aistack

from aistack.analytics.lines import LineCounter  # noqa: E402
from aistack.config import CountingConfig  # noqa: E402
from aistack.detect.base import COCO_CLASSES  # noqa: E402
from aistack.detect.nanodet import NanoDetDetector  # noqa: E402
from aistack.types import Detections  # noqa: E402

VIDEO = ROOT / "aistack" / "data" / "vtest.mp4"
MODEL = ROOT / "aistack" / "models" / "nanodet.onnx"
# The walkway line of experiments/walkway.yaml, (0.62, 0.80) → (0.62, 0.30) of 768x576,
# written out in pixels so every implementation starts from the same doubles.
LINE = (476.16, 460.8, 476.16, 172.8)
PERSON = 0
CONFIDENCE = 0.3
NMS_IOU = 0.6
MATCH_IOU = 0.3
MAX_MISSED = 10
# The rules every port implements: side, band, persistence, extent, once per direction. The
# crowd rules (motion direction, duplicates, stitching) are aistack's own and stay off here.
COUNTING = CountingConfig(
    anchor="bottom_center", min_distance=2.0, min_distance_fraction=0.08, min_frames=2,
    motion_direction=False, duplicates=False, stitch=False,
)  # fmt: skip


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two xyxy boxes in doubles, with the operation order the ports copy."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0.0 else 0.0


@dataclass
class _Track:
    track_id: int
    box: tuple[float, ...]
    missed: int = 0


class IouTracker:
    """Greedy IoU tracker: the same rules in all three implementations.

    Each frame, every (track, detection) pair with IoU ≥ `match_iou` against the track's
    last box is a candidate. Candidates are taken highest IoU first (ties: older track,
    then earlier detection), each track and detection at most once. A matched track takes
    the detection's box; an unmatched detection starts a track with the next id (1, 2, ...,
    in detection order); a track is dropped once it has missed `max_missed` frames in a row.
    """

    def __init__(self, match_iou: float = MATCH_IOU, max_missed: int = MAX_MISSED) -> None:
        self.match_iou = match_iou
        self.max_missed = max_missed
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
        """The track id of each detection box, in the boxes' order."""
        boxes = [tuple(float(v) for v in row) for row in xyxy]
        pairs = []
        for t, track in enumerate(self._tracks):
            for d, box in enumerate(boxes):
                iou = box_iou(track.box, box)
                if iou >= self.match_iou:
                    pairs.append((-iou, t, d))
        pairs.sort()
        ids = [0] * len(boxes)
        matched_tracks: set[int] = set()
        for _, t, d in pairs:
            if t in matched_tracks or ids[d]:
                continue
            matched_tracks.add(t)
            track = self._tracks[t]
            track.box, track.missed = boxes[d], 0
            ids[d] = track.track_id
        survivors = []
        for t, track in enumerate(self._tracks):
            if t not in matched_tracks:
                track.missed += 1
                if track.missed >= self.max_missed:
                    continue
            survivors.append(track)
        for d, box in enumerate(boxes):
            if not ids[d]:
                ids[d] = self._next_id
                survivors.append(_Track(self._next_id, box))
                self._next_id += 1
        self._tracks = survivors
        return np.asarray(ids, np.int64)


def write_trace(trace: TextIO, frame_index: int, detections: Detections) -> None:
    """One line per tracked box, the format all three write for diffing."""
    assert detections.tracker_id is not None
    for track_id, box, score in zip(
        detections.tracker_id.tolist(),
        detections.xyxy.tolist(),
        detections.confidence.tolist(),
        strict=True,
    ):
        values = " ".join(f"{v:.9g}" for v in (*box, score))
        print(frame_index, track_id, values, file=trace)


def run(
    video: Path, model: Path, frames: int | None, threads: int, trace: Path | None
) -> dict[str, Any]:
    cv2.setNumThreads(threads)
    detector = NanoDetDetector(
        model_path=model,
        confidence=CONFIDENCE,
        iou=NMS_IOU,
        classes=[PERSON],
        agnostic_nms=True,
        threads=threads,
        input_size=(416, 416),  # every frame stretched, as the C++ and Mojo ports do
    )
    tracker = IouTracker()
    counter = LineCounter("walkway", LINE, settings=COUNTING)
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise SystemExit(f"{video}: cannot open video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    trace_file = trace.open("w") if trace else None

    index = 0
    usage_start, wall_start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    while frames is None or index < frames:
        ok, image = capture.read()
        if not ok:
            break
        found = detector.detect([np.asarray(image, np.uint8)])[0]  # no copy; types it
        tracked = Detections(
            xyxy=found.xyxy,
            confidence=found.confidence,
            class_id=found.class_id,
            tracker_id=tracker.update(found.xyxy),
            class_names=COCO_CLASSES,
        )
        counter.update(tracked, index, index / fps)
        if trace_file:
            write_trace(trace_file, index, tracked)
        index += 1
    wall = time.perf_counter() - wall_start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    capture.release()
    if trace_file:
        trace_file.close()

    cpu = (usage.ru_utime - usage_start.ru_utime) + (usage.ru_stime - usage_start.ru_stime)
    totals = counter.totals()
    return {
        "frames": index,
        "in": totals.total_in,
        "out": totals.total_out,
        "fps": round(index / wall, 2) if wall > 0 else 0.0,
        "cpu_percent": round(100.0 * cpu / wall, 1) if wall > 0 else 0.0,
        "peak_rss_mb": round(usage.ru_maxrss / 1024.0, 1),  # Linux reports KiB
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--frames", type=int, default=None, help="stop after N frames")
    parser.add_argument("--threads", type=int, default=2, help="inference threads")
    parser.add_argument("--trace", type=Path, default=None, help="write tracked boxes here")
    args = parser.parse_args()
    result = run(args.video, args.model, args.frames, args.threads, args.trace)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
