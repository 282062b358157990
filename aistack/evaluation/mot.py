"""Tracking metrics of tracks against ground truth: TrackEval's HOTA, CLEAR and Identity.

Scores are TrackEval's own HOTA, CLEAR (MOTA) and Identity (IDF1) code, fed with
boxes matched by IoU, so the numbers mean what they mean on the MOTChallenge
leaderboards. TrackEval 1.3 works with numpy 2 as it is; no shim is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from aistack.classes import COCO_CLASSES
from aistack.errors import ConfigError
from aistack.evaluation.boxes import TrackBoxes, box_iou
from aistack.evaluation.ground_truth import (
    MOT_CLASSES,
    GroundTruth,
    load_ground_truth,
    parse_gt_classes,
)

# The ground truth's names stay importable from here, where they were first documented.
__all__ = [
    "MOT_CLASSES",
    "GroundTruth",
    "TrackBoxes",
    "TrackingMetrics",
    "box_iou",
    "load_ground_truth",
    "parse_gt_classes",
    "tracking_metrics",
]


@dataclass(frozen=True)
class TrackingMetrics:
    """MOT accuracy of tracks against ground truth, all classes together (detection-averaged).

    Scores lie in [0, 1] except MOTA, which is <= 1 and negative when the
    tracker makes more errors than there are true boxes.
    """

    hota: float
    deta: float
    assa: float
    loca: float
    idf1: float
    idp: float
    idr: float
    mota: float
    motp: float
    idsw: int
    true_positives: int
    false_positives: int
    false_negatives: int
    by_class: dict[str, TrackingMetrics] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "HOTA": self.hota,
            "DetA": self.deta,
            "AssA": self.assa,
            "LocA": self.loca,
            "IDF1": self.idf1,
            "IDP": self.idp,
            "IDR": self.idr,
            "MOTA": self.mota,
            "MOTP": self.motp,
            "IDSW": self.idsw,
            "TP": self.true_positives,
            "FP": self.false_positives,
            "FN": self.false_negatives,
        }
        result = {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}
        if self.by_class:
            result["by_class"] = {k: v.to_dict() for k, v in self.by_class.items()}
        return result


def tracking_metrics(
    truth: TrackBoxes, predicted: TrackBoxes, ignored: TrackBoxes | None = None
) -> TrackingMetrics:
    """HOTA, CLEAR and Identity metrics of `predicted` tracks against `truth`.

    Boxes match by IoU (0.5 for CLEAR and Identity; HOTA averages over
    thresholds 0.05-0.95), only within a class; classes are then combined by
    summing their matches, as TrackEval does for multi-class benchmarks.
    Predictions matching an `ignored` box count neither way.
    """
    metrics = _trackeval_metrics()
    if ignored is not None and len(ignored) and len(predicted):
        predicted = predicted[~_on_ignored(truth, predicted, ignored)]
    frames = _frames(truth, predicted)
    per_class: dict[str, list[dict[str, Any]]] = {}
    for class_id in sorted(set(truth.class_id.tolist()) | set(predicted.class_id.tolist())):
        data = _sequence(
            truth[truth.class_id == class_id], predicted[predicted.class_id == class_id], frames
        )
        per_class[COCO_CLASSES[class_id]] = [m.eval_sequence(data) for m in metrics]
    if per_class:
        combined = [
            metric.combine_classes_det_averaged({name: res[i] for name, res in per_class.items()})
            for i, metric in enumerate(metrics)
        ]
    else:  # nothing true and nothing predicted: TrackEval's own empty-sequence scores
        combined = [m.eval_sequence(_sequence(truth, predicted, frames)) for m in metrics]
    by_class = {name: _summary(res) for name, res in per_class.items()}
    return _summary(combined, by_class if len(by_class) > 1 else {})


def _trackeval_metrics() -> list[Any]:
    try:
        from trackeval.metrics import CLEAR, HOTA, Identity
    except ImportError:
        raise ConfigError(
            "tracking metrics need TrackEval: pip install 'aistack[eval]' (or trackeval)"
        ) from None
    quiet = {"PRINT_CONFIG": False}  # TrackEval prints its config to stdout otherwise
    return [HOTA(), CLEAR(dict(quiet)), Identity(dict(quiet))]


def _summary(
    res: list[dict[str, Any]], by_class: dict[str, TrackingMetrics] | None = None
) -> TrackingMetrics:
    hota, clear, identity = res
    return TrackingMetrics(
        hota=float(np.mean(hota["HOTA"])),
        deta=float(np.mean(hota["DetA"])),
        assa=float(np.mean(hota["AssA"])),
        loca=float(np.mean(hota["LocA"])),
        idf1=float(identity["IDF1"]),
        idp=float(identity["IDP"]),
        idr=float(identity["IDR"]),
        mota=float(clear["MOTA"]),
        motp=float(clear["MOTP"]),
        idsw=int(clear["IDSW"]),
        true_positives=int(clear["CLR_TP"]),
        false_positives=int(clear["CLR_FP"]),
        false_negatives=int(clear["CLR_FN"]),
        by_class=by_class or {},
    )


def _frames(*boxes: TrackBoxes) -> int:
    return int(max(b.frame.max(initial=-1) for b in boxes)) + 1


def _sequence(truth: TrackBoxes, predicted: TrackBoxes, frames: int) -> dict[str, Any]:
    """One class of one clip in TrackEval's input form: ids 0..n-1, IoU per frame."""
    gt_ids, gt_index = np.unique(truth.track_id, return_inverse=True)
    tracker_ids, tracker_index = np.unique(predicted.track_id, return_inverse=True)
    truth = TrackBoxes(truth.frame, gt_index.reshape(-1), truth.xyxy, truth.class_id)
    predicted = TrackBoxes(predicted.frame, tracker_index.reshape(-1), predicted.xyxy,
                           predicted.class_id)  # fmt: skip
    data: dict[str, Any] = {"gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    for (_, g), (_, p) in zip(truth.by_frame(frames), predicted.by_frame(frames), strict=True):
        data["gt_ids"].append(g.track_id)
        data["tracker_ids"].append(p.track_id)
        data["similarity_scores"].append(box_iou(g.xyxy, p.xyxy))
    data.update(num_timesteps=frames, num_gt_dets=len(truth), num_tracker_dets=len(predicted),
                num_gt_ids=len(gt_ids), num_tracker_ids=len(tracker_ids))  # fmt: skip
    return data


def _on_ignored(
    truth: TrackBoxes, predicted: TrackBoxes, ignored: TrackBoxes
) -> npt.NDArray[np.bool_]:
    """Predictions whose best one-to-one match (IoU >= 0.5) is an ignored box, frame by frame.

    Matching against true and ignored boxes together, as TrackEval's MOTChallenge
    preprocessing does, so a prediction on a real object beside a distractor still counts.
    """
    from scipy.optimize import linear_sum_assignment

    frames = _frames(truth, predicted, ignored)
    drop = np.zeros(len(predicted), dtype=bool)
    start = 0  # predictions are sorted by frame, so each frame's rows follow the last
    for (_, t), (_, p), (_, i) in zip(
        truth.by_frame(frames), predicted.by_frame(frames), ignored.by_frame(frames), strict=True
    ):
        if len(p) and len(i):
            iou = box_iou(np.concatenate([t.xyxy, i.xyxy]), p.xyxy)
            iou[iou < 0.5 - np.finfo(float).eps] = 0.0
            rows, cols = linear_sum_assignment(-iou)
            on_ignored = (iou[rows, cols] > 0) & (rows >= len(t))
            drop[start + cols[on_ignored]] = True
        start += len(p)
    return drop
