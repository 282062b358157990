"""Immutable values that pass between pipeline stages: Frame, Detections, Event."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import supervision as sv

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
Image = npt.NDArray[np.uint8]

Direction = Literal["in", "out"]
EventKind = Literal["crossing", "enter", "exit", "fall", "posture"]


@dataclass(frozen=True)
class Frame:
    """One decoded picture from one camera.

    `timestamp` is the capture time in seconds since the epoch. For file sources
    it is the stream start time plus the frame's position in the video, so that
    events from an unpaced run keep the video's own timeline.
    """

    camera: str
    index: int
    timestamp: float
    image: Image

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def _readonly(array: npt.NDArray[np.generic]) -> None:
    array.setflags(write=False)


@dataclass(frozen=True)
class Detections:
    """Parallel arrays of boxes, validated at construction.

    `xyxy` is (N, 4) float32 pixels; `confidence` (N,) float32; `class_id` (N,)
    int64 COCO ids; `tracker_id` (N,) int64 or None before tracking; `keypoints`
    (N, K, 3) float32 as (x, y, score) or None.
    """

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    tracker_id: IntArray | None = None
    keypoints: FloatArray | None = None
    class_names: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        class_id = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        if len(confidence) != n or len(class_id) != n:
            raise ValueError(
                f"Detections arrays disagree: {n} boxes, {len(confidence)} scores, "
                f"{len(class_id)} classes"
            )
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "class_id", class_id)
        if self.tracker_id is not None:
            tracker_id = np.asarray(self.tracker_id, dtype=np.int64).reshape(-1)
            if len(tracker_id) != n:
                raise ValueError(f"Detections: {n} boxes but {len(tracker_id)} track ids")
            object.__setattr__(self, "tracker_id", tracker_id)
        if self.keypoints is not None:
            keypoints = np.asarray(self.keypoints, dtype=np.float32)
            if keypoints.ndim != 3 or keypoints.shape[0] != n or keypoints.shape[2] != 3:
                raise ValueError(
                    f"Detections: keypoints must be (N, K, 3) with N={n}, got {keypoints.shape}"
                )
            object.__setattr__(self, "keypoints", keypoints)
        for array in (self.xyxy, self.confidence, self.class_id, self.tracker_id, self.keypoints):
            if array is not None:
                _readonly(array)

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls, class_names: tuple[str, ...] = ()) -> Detections:
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            class_id=np.zeros(0, np.int64),
            class_names=class_names,
        )

    def __getitem__(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Detections:
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
            keypoints=None if self.keypoints is None else self.keypoints[index],
            class_names=self.class_names,
        )

    def class_name(self, class_id: int) -> str:
        if 0 <= class_id < len(self.class_names):
            return self.class_names[class_id]
        return str(class_id)

    def to_supervision(self) -> sv.Detections:
        import supervision as sv

        data: dict[str, npt.NDArray[Any] | list[Any]] = {}
        if self.keypoints is not None:
            data["keypoints"] = self.keypoints.copy()
        return sv.Detections(
            xyxy=self.xyxy.copy(),
            confidence=self.confidence.copy(),
            class_id=self.class_id.copy(),
            tracker_id=None if self.tracker_id is None else self.tracker_id.copy(),
            data=data,
        )

    @classmethod
    def from_supervision(
        cls, detections: sv.Detections, class_names: tuple[str, ...] = ()
    ) -> Detections:
        n = len(detections)
        confidence = (
            detections.confidence if detections.confidence is not None else np.ones(n, np.float32)
        )
        class_id = detections.class_id if detections.class_id is not None else np.zeros(n, np.int64)
        keypoints = detections.data.get("keypoints") if detections.data else None
        tracker_id = detections.tracker_id
        return cls(
            xyxy=np.asarray(detections.xyxy, dtype=np.float32),
            confidence=np.asarray(confidence, dtype=np.float32),
            class_id=np.asarray(class_id, dtype=np.int64),
            tracker_id=None if tracker_id is None else np.asarray(tracker_id, dtype=np.int64),
            keypoints=None if keypoints is None else np.asarray(keypoints),
            class_names=class_names,
        )


@dataclass(frozen=True)
class Event:
    """A counted happening: a line crossing, a zone entry or exit, a fall or a posture change."""

    timestamp: float
    camera: str
    counter: str  # the line's or zone's name
    kind: EventKind
    class_name: str
    direction: str  # "in"/"out" for crossings and zones; "down" for falls; the new posture
    track_id: int
    frame_index: int = -1
    snapshot: str | None = None  # path of the JPEG saved for this event, if any


class Closing:
    """What every sink and store shares: `with it:` closes it at the end, error or not."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
