"""Short real clips cut from the bundled one, for tests that need a video file quickly."""

from __future__ import annotations

from pathlib import Path

import cv2

from aistack.data import DEMO_CLIP


def write_clip(path: Path, frames: int) -> Path:
    """The first `frames` frames of the bundled clip, at its 10 fps."""
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10, (768, 576))
    for _ in range(frames):
        ok, image = capture.read()
        assert ok
        writer.write(image)
    writer.release()
    capture.release()
    return path
