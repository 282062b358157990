"""Look at one counted or missed crossing: the tracks near it, their ground-truth ids, frames.

    .venv/bin/python experiments/counting/inspect_crossing.py --case pets-s2l1 --line v50 \
        --frame 618 [--track 45] [--png /tmp/x.png]

Prints every tracked box near the line around the frame (track id, signed distance in box
heights, box height, the ground-truth id it overlaps best and its IoU, and the other tracks
it overlaps), and writes a strip of frames with the tracks, the ground truth and the line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from aistack.analytics.geometry import anchor_points, signed_distance, to_pixels
from aistack.bench.accuracy.cases import find_cases, scaled_copy
from aistack.evaluation.mot import box_iou, load_ground_truth
from experiments.counting.replay import (
    DATA,
    app_config,
    behind_pillar,
    camera_of,
    detections_of,
    parse_sets,
)
from experiments.counting.replay import replay as run_replay


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", required=True)
    parser.add_argument("--line", required=True)
    parser.add_argument("--frame", type=int, required=True)
    parser.add_argument("--track", type=int, action="append", default=[])
    parser.add_argument("--before", type=int, default=12)
    parser.add_argument("--after", type=int, default=6)
    parser.add_argument("--near", type=float, default=1.5, help="box heights from the line")
    parser.add_argument("--png")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--crop", help="x1,y1,x2,y2 of the picture to keep")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--pillar", type=float, nargs=2, metavar=("X", "WIDTH"))
    args = parser.parse_args()
    (case,) = find_cases(DATA, names=[args.case])
    case = scaled_copy(case)
    config = app_config(parse_sets(args.set))
    cached = detections_of(case, config)
    if args.pillar:
        cached = behind_pillar(cached, *args.pillar)
    camera = camera_of(case)
    line_config = next(x for x in camera.lines if x.name == args.line)
    line = tuple(to_pixels(list(line_config.points), *cached.size))
    _, _, tracked = run_replay(cached, camera, config)
    gt = load_ground_truth(case.truth).boxes if case.truth_kind == "mot" else None
    frames = range(max(0, args.frame - args.before), min(len(tracked), args.frame + args.after))
    for f in frames:
        found = tracked[f]
        if found.tracker_id is None or not len(found):
            continue
        keep = found.tracker_id >= 0
        xyxy, ids = found.xyxy[keep].astype(np.float64), found.tracker_id[keep]
        heights = xyxy[:, 3] - xyxy[:, 1]
        dist = signed_distance(anchor_points(xyxy, "bottom_center"), line) / heights
        gt_boxes = gt[gt.frame == f] if gt is not None else None
        overlaps = box_iou(xyxy, xyxy)
        parts = []
        for i, tid in enumerate(ids.tolist()):
            if abs(dist[i]) > args.near and tid not in args.track:
                continue
            centre = (xyxy[i, 0] + xyxy[i, 2]) / 2
            label = f"t{tid}:{dist[i]:+.2f}h(h{heights[i]:.0f},x{centre:.0f})"
            if gt_boxes is not None and len(gt_boxes):
                ious = box_iou(xyxy[i : i + 1], gt_boxes.xyxy)[0]
                j = int(np.argmax(ious))
                label += f"=g{gt_boxes.track_id[j]}/{ious[j]:.2f}"
            near = [f"{ids[k]}@{overlaps[i, k]:.2f}" for k in range(len(ids))
                    if k != i and overlaps[i, k] > 0.2]  # fmt: skip
            if near:
                label += f"[ov {' '.join(near)}]"
            parts.append(label)
        print(f"{f:5d} " + "  ".join(parts))
    if args.png:
        crop = tuple(int(v) for v in args.crop.split(",")) if args.crop else None
        strip(case.clip, tracked, gt, line, list(frames)[:: args.every], Path(args.png), crop)
    return 0


def strip(clip, tracked, gt, line, frames, out: Path, crop=None) -> None:  # type: ignore[no-untyped-def]
    capture = cv2.VideoCapture(str(clip))
    images = []
    index = 0
    wanted = set(frames)
    while index <= max(frames):
        ok, image = capture.read()
        if not ok:
            break
        if index in wanted:
            x1, y1, x2, y2 = (int(v) for v in line)
            cv2.line(image, (x1, y1), (x2, y2), (0, 255, 255), 1)
            if gt is not None:
                for box, tid in zip(gt.xyxy[gt.frame == index], gt.track_id[gt.frame == index],
                                    strict=True):  # fmt: skip
                    a, b, c, d = (int(v) for v in box)
                    cv2.rectangle(image, (a, b), (c, d), (255, 255, 255), 1)
                    cv2.putText(image, f"g{tid}", (a, d + 10), 0, 0.35, (255, 255, 255), 1)
            found = tracked[index]
            if found.tracker_id is not None:
                for box, tid in zip(found.xyxy, found.tracker_id, strict=True):
                    if tid < 0:
                        continue
                    colour = tuple(
                        int(c) for c in np.random.default_rng(int(tid)).integers(60, 255, 3)
                    )
                    a, b, c, d = (int(v) for v in box)
                    cv2.rectangle(image, (a, b), (c, d), colour, 2)
                    cv2.putText(image, str(tid), (a, b - 3), 0, 0.5, colour, 2)
            if crop is not None:
                image = np.ascontiguousarray(image[crop[1] : crop[3], crop[0] : crop[2]])
                image = cv2.resize(image, None, fx=2, fy=2)
            cv2.putText(image, f"f{index}", (5, 20), 0, 0.7, (0, 0, 255), 2)
            images.append(image)
        index += 1
    capture.release()
    columns = 3
    while len(images) % columns:
        images.append(np.zeros_like(images[0]))
    rows = [np.hstack(images[i : i + columns]) for i in range(0, len(images), columns)]
    grid = np.vstack(rows)
    scale = min(1.0, 1800 / grid.shape[1])
    grid = cv2.resize(grid, None, fx=scale, fy=scale)
    cv2.imwrite(str(out), grid)


if __name__ == "__main__":
    sys.exit(main())
