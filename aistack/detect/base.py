"""The detector interface and the COCO class names every backend shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aistack.classes import COCO_CLASSES
from aistack.types import Detections, Image

__all__ = ["COCO_CLASSES", "Detector"]


@runtime_checkable
class Detector(Protocol):
    """Turns pictures into boxes. Implementations are chosen by name in config."""

    class_names: tuple[str, ...]
    # Optional `max_batch: int | None`: how many pictures one call can take at once (None:
    # any). The pipeline reads it with getattr, so a detector may leave it out.

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        """Detect objects in a batch of BGR images; one Detections per image."""
        ...
