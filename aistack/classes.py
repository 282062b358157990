"""Class names users may write in configs and on the command line, and the presets."""

from __future__ import annotations

from collections.abc import Iterable

COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

PRESETS: dict[str, tuple[str, ...]] = {
    "traffic": ("car", "bus", "truck", "motorcycle", "bicycle"),
    "people": ("person",),
}

# Words people use for COCO classes; the COCO name is what gets stored.
ALIASES: dict[str, str] = {
    "motorbike": "motorcycle",
    "pedestrian": "person",
    "people": "person",
    "bike": "bicycle",
}


class UnknownClassError(ValueError):
    """A class name that is neither a COCO class, an alias nor a preset."""


def resolve_classes(names: Iterable[str]) -> list[str]:
    """Expand presets and aliases into COCO class names, keeping order and dropping repeats."""
    resolved: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        if name in PRESETS:
            expanded: tuple[str, ...] = PRESETS[name]
        elif name in ALIASES:
            expanded = (ALIASES[name],)
        elif name in COCO_CLASSES:
            expanded = (name,)
        else:
            raise UnknownClassError(
                f"unknown class {raw!r}; use a COCO class name (e.g. person, car, bus, truck, "
                f"motorcycle, bicycle) or a preset ({', '.join(sorted(PRESETS))})"
            )
        resolved.extend(c for c in expanded if c not in resolved)
    if not resolved:
        raise UnknownClassError("no classes given")
    return resolved


def class_ids(names: Iterable[str]) -> list[int]:
    """COCO ids of already-resolved class names."""
    return [COCO_CLASSES.index(name) for name in names]
