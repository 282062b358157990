"""MOTChallenge ground truth and tracking metrics: read gt.txt, score tracks with TrackEval.

Scores are TrackEval's own HOTA, CLEAR (MOTA) and Identity (IDF1) code, fed with
boxes matched by IoU, so the numbers mean what they mean on the MOTChallenge
leaderboards. TrackEval 1.3 works with numpy 2 as it is; no shim is needed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aistack.classes import ALIASES, COCO_CLASSES
from aistack.errors import ConfigError

log = logging.getLogger("aistack.mot")

IntArray = npt.NDArray[np.int64]
BoxArray = npt.NDArray[np.float64]

IGNORE = "ignore"
# MOT16/17 labels (Milan et al. 2016). Predictions on the TrackEval "distractor" classes
# (person on vehicle, static person, distractor, reflection) count neither way, as in the
# official kit; occluders and non-motorised vehicles are not evaluated at all.
MOT_CLASSES: dict[int, str] = {
    1: "person",
    2: IGNORE,
    3: "car",
    4: "bicycle",
    5: "motorcycle",
    7: IGNORE,
    8: IGNORE,
    12: IGNORE,
}
# aistack's own files (tests/golden) write COCO id + 1, so that 0 never means a class.
COCO_PLUS_ONE: dict[int, str] = {i + 1: name for i, name in enumerate(COCO_CLASSES)}
GT_CLASS_MAPS: dict[str, dict[int, str]] = {"coco+1": COCO_PLUS_ONE, "mot": MOT_CLASSES}
_IGNORED_ID = -1


@dataclass(frozen=True)
class TrackBoxes:
    """Tracked boxes over a clip as parallel arrays, one row per object per frame.

    `frame` is the 0-based frame index, `xyxy` pixels, `class_id` a COCO id.
    """

    frame: IntArray
    track_id: IntArray
    xyxy: BoxArray
    class_id: IntArray

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        columns = [
            np.asarray(a, dtype=np.int64).reshape(-1)
            for a in (self.frame, self.track_id, self.class_id)
        ]
        if any(len(c) != len(xyxy) for c in columns):
            raise ValueError(
                f"TrackBoxes arrays disagree: {len(xyxy)} boxes, "
                f"{[len(c) for c in columns]} frames/ids/classes"
            )
        order = np.argsort(columns[0], kind="stable")  # by frame, so frames are slices
        frame, track_id, class_id = columns
        arrays = {"frame": frame, "track_id": track_id, "xyxy": xyxy, "class_id": class_id}
        for name, array in arrays.items():
            sorted_array = array[order]
            sorted_array.setflags(write=False)
            object.__setattr__(self, name, sorted_array)

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> TrackBoxes:
        none = np.zeros(0, np.int64)
        return cls(none, none, np.zeros((0, 4)), none)

    @classmethod
    def concat(cls, parts: Sequence[TrackBoxes]) -> TrackBoxes:
        if not parts:
            return cls.empty()
        return cls(
            *(
                np.concatenate([getattr(p, name) for p in parts])
                for name in ("frame", "track_id", "xyxy", "class_id")
            )
        )

    def __getitem__(self, index: npt.NDArray[np.bool_] | slice) -> TrackBoxes:
        return TrackBoxes(
            self.frame[index], self.track_id[index], self.xyxy[index], self.class_id[index]
        )

    def by_frame(self, frames: int) -> Iterator[tuple[int, TrackBoxes]]:
        """(frame, that frame's boxes) for every frame in 0..frames-1, empty ones included."""
        bounds = np.searchsorted(self.frame, np.arange(frames + 1))
        for frame in range(frames):
            yield frame, self[bounds[frame] : bounds[frame + 1]]

    def class_names(self) -> list[str]:
        return [COCO_CLASSES[i] for i in sorted(set(self.class_id.tolist()))]


@dataclass(frozen=True)
class GroundTruth:
    """A gt.txt file: the boxes to evaluate, and regions whose predictions count neither way."""

    path: Path
    boxes: TrackBoxes
    ignored: TrackBoxes
    last_frame: int  # highest 1-based frame in the file, any row
    last_frame_line: int  # its line number, for error messages


def parse_gt_classes(text: str | None) -> dict[int, str]:
    """`coco+1` (default), `mot`, or `ID=NAME,...` where NAME is a COCO class or `ignore`."""
    key = (text or "coco+1").strip().lower()
    if key in GT_CLASS_MAPS:
        return GT_CLASS_MAPS[key]
    mapping: dict[int, str] = {}
    for item in key.split(","):
        number, _, name = item.partition("=")
        name = ALIASES.get(name.strip(), name.strip())
        if not number.strip().isdigit() or (name not in COCO_CLASSES and name != IGNORE):
            raise ConfigError(
                f"--gt-classes {text!r}: expected coco+1, mot, or ID=NAME pairs such as "
                f"'1=person,3=car,7=ignore' (NAME a COCO class or 'ignore'); bad item {item!r}"
            )
        mapping[int(number)] = name
    return mapping


_SPLIT = re.compile(r"\s*,\s*|\s+")


def load_ground_truth(path: Path | str, gt_classes: Mapping[int, str] | None = None) -> GroundTruth:
    """Read MOTChallenge `frame,id,x,y,w,h[,conf,class,visibility,...]` rows (6-10 columns).

    Frames are 1-based. Rows with conf 0 are not evaluated, as in MOTChallenge.
    Rows without a class (6-7 columns, or class <= 0 as in MOT15) are persons.
    Classes the mapping does not name are not evaluated; `ignore` classes become
    regions where predictions count neither as right nor wrong.
    """
    path = Path(path)
    mapping = COCO_PLUS_ONE if gt_classes is None else gt_classes
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"--gt {path}: no such ground-truth file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"--gt {path}: cannot read it: {error}") from None
    rows: list[tuple[int, int, float, float, float, float, float, int]] = []
    numbers: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            rows.append(_parse_row(line, f"{path}:{number}"))
            numbers.append(number)
    if not rows:
        raise ConfigError(f"{path}: the ground-truth file has no rows")
    table = np.array(rows, dtype=np.float64)
    lines = np.array(numbers)
    _check_unique(table, lines, path)
    order = np.argsort(table[:, 0], kind="stable")  # TrackBoxes keeps rows sorted by frame
    table, lines = table[order], lines[order]
    frame, track, conf, raw_class = (table[:, i].astype(np.int64) for i in (0, 1, 6, 7))
    x, y, w, h = (table[:, i] for i in (2, 3, 4, 5))
    names = [
        _class_name(int(k), mapping, path, int(n)) for k, n in zip(raw_class, lines, strict=True)
    ]
    class_id = np.array(
        [COCO_CLASSES.index(n) if n in COCO_CLASSES else _IGNORED_ID for n in names], dtype=np.int64
    ).reshape(-1)
    ignored = np.array([n == IGNORE for n in names], dtype=bool)
    evaluated = (class_id != _IGNORED_ID) & (conf != 0)
    everything = TrackBoxes(frame - 1, track, np.stack([x, y, x + w, y + h], axis=1), class_id)
    return GroundTruth(
        path, everything[evaluated], everything[ignored], int(frame[-1]), int(lines[-1])
    )


def _parse_row(line: str, where: str) -> tuple[int, int, float, float, float, float, float, int]:
    parts = _SPLIT.split(line.strip())
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if not 6 <= len(values) <= 10 or not all(np.isfinite(values)):
        raise ConfigError(
            f"{where}: expected 6 to 10 comma-separated numbers "
            f"frame,id,x,y,w,h[,conf,class,visibility], got {line.strip()[:80]!r}"
        )
    frame, track, x, y, w, h = values[:6]
    if frame != int(frame) or frame < 1 or track != int(track):
        raise ConfigError(f"{where}: frame must be an integer >= 1 (1-based) and id an integer")
    if w < 0 or h < 0:
        raise ConfigError(f"{where}: box width and height must not be negative")
    conf = values[6] if len(values) > 6 else 1.0
    class_value = values[7] if len(values) > 7 else 1.0
    return int(frame), int(track), x, y, w, h, conf, max(int(class_value), 1)


def _check_unique(table: npt.NDArray[np.float64], lines: npt.NDArray[np.int_], path: Path) -> None:
    keys = table[:, :2].astype(np.int64)
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        frame, track = keys[first[np.argmax(counts > 1)]]
        repeated = lines[(keys[:, 0] == frame) & (keys[:, 1] == track)]
        raise ConfigError(
            f"{path}:{repeated[1]}: id {track} appears twice in frame {frame} "
            f"(also on line {repeated[0]})"
        )


def _class_name(raw: int, mapping: Mapping[int, str], path: Path, line: int) -> str | None:
    name = mapping.get(raw)
    if name is None and mapping is COCO_PLUS_ONE:
        raise ConfigError(
            f"{path}:{line}: class {raw} is not a COCO id + 1 (1-80); for "
            "MOTChallenge files pass --gt-classes mot"
        )
    return name


# ---------------------------------------------------------------- metrics
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


def box_iou(a: BoxArray, b: BoxArray) -> BoxArray:
    """(len(a), len(b)) IoU of xyxy boxes."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


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
