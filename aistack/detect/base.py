"""The detector interface and the COCO class names every backend shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from aistack.classes import COCO_CLASSES
from aistack.types import Detections, Image

__all__ = ["COCO_CLASSES", "Detector", "StagedDetector"]


@runtime_checkable
class Detector(Protocol):
    """Turns pictures into boxes. Implementations are chosen by name in config."""

    class_names: tuple[str, ...]
    # Optional `max_batch: int | None`: how many pictures one call can take at once (None:
    # any). The pipeline reads it with getattr, so a detector may leave it out.

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        """Detect objects in a batch of BGR images; one Detections per image."""
        ...


@runtime_checkable
class StagedDetector(Detector, Protocol):
    """A detector whose work splits into three steps the pipeline runs on different threads.

    `detect(images)` is `finish(infer(prepare(images)))`. Splitting it lets the
    pipeline resize the next batch and decode the last one while the model runs
    on this one, the way DeepStream overlaps pre-processing with inference. Each
    step must be safe to run while another call's other steps run.
    """

    def prepare(self, images: Sequence[Image]) -> Any:
        """Resize and normalise the pictures into model input (CPU, no model call)."""
        ...

    def infer(self, prepared: Any) -> Any:
        """Run the model on prepared input; returns its raw outputs."""
        ...

    def finish(self, raw: Any) -> list[Detections]:
        """Decode raw outputs into boxes in each picture's own pixels, one per picture."""
        ...
