"""Tracker adapters over the `trackers` package (ByteTrack by default), chosen by name."""

from __future__ import annotations

import warnings
from typing import Any, Protocol

from aistack.config import TrackerConfig
from aistack.types import Detections


class Tracker(Protocol):
    def update(self, detections: Detections) -> Detections:
        """Assign track ids; unconfirmed detections get track id -1."""
        ...


class LibraryTracker:
    """Wraps a `trackers` tracker so it speaks aistack's Detections."""

    def __init__(self, config: TrackerConfig, fps: float) -> None:
        import trackers

        lost_buffer = max(
            1, round(config.lost_track_seconds * 30)
        )  # the library counts 30 fps frames
        common: dict[str, Any] = {"lost_track_buffer": lost_buffer, "frame_rate": fps}
        if config.type == "bytetrack":
            self._tracker: Any = trackers.ByteTrackTracker(
                **common,
                track_activation_threshold=config.track_activation_threshold,
                high_conf_det_threshold=config.high_conf_det_threshold,
                minimum_iou_threshold=config.minimum_iou_threshold,
                minimum_consecutive_frames=config.minimum_consecutive_frames,
            )
        elif config.type == "ocsort":
            self._tracker = trackers.OCSORTTracker(
                **common,
                high_conf_det_threshold=config.high_conf_det_threshold,
                minimum_consecutive_frames=config.minimum_consecutive_frames,
                minimum_iou_threshold=config.minimum_iou_threshold,
            )
        else:
            self._tracker = trackers.SORTTracker(
                **common,
                track_activation_threshold=config.track_activation_threshold,
                minimum_consecutive_frames=config.minimum_consecutive_frames,
                minimum_iou_threshold=config.minimum_iou_threshold,
            )

    def update(self, detections: Detections) -> Detections:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            tracked = self._tracker.update(detections.to_supervision())
        return Detections.from_supervision(tracked, detections.class_names)


def make_tracker(config: TrackerConfig, fps: float) -> Tracker:
    return LibraryTracker(config, fps)
