"""The bundled NanoDet in 8-bit integers: about twice the frames per second on a CPU.

    python -m aistack.detect.quantize --out aistack/models

reads the bundled size-free `nanodet.onnx` and writes `nanodet-int8.onnx` beside it,
then rewrites SHA256SUMS. onnxruntime's static quantisation does the work (QDQ format,
int8 weights per output channel, uint8 activations): the activations' ranges come from
calibration frames run through the float model with the detector's own preprocessing,
so that calibration sees exactly what inference will. Ranges are min/max, the method
with nothing to tune, so what matters is that the images show objects at every size the
model will meet (`calibration_images`):

* 32 frames of the bundled clip, one every 2.5 s: street scenes, people 40-110 px tall;
* the middle of every 4th of them enlarged 2x and 3x: the same scenes close up;
* ultralytics' sample `zidane.jpg` (two people filling a 1280x720 frame), shipped with
  the ultralytics package: large people seen at close range.

Each is fed at every preset's input height. Calibrated on the clip's frames at one height
only, the int8 graph lost 7 % of the float graph's confident boxes on the street clips; at
the three heights none, but a bus filling the frame fell from 0.77 to 0.32 (clipped
activations of large objects); with the close-ups it scores 0.75. No vehicle and no
dev-set clip is in the calibration set. The same inputs give the same file, byte for byte.

It lives in `detect` rather than `models` because calibration needs the detector's
preprocessing. Why int8 and at which presets: docs/models.md.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from aistack.data import DEMO_CLIP
from aistack.detect.nanodet import NanoDetDetector
from aistack.errors import SourceError
from aistack.models import bundled_model_path
from aistack.models.convert import write_checksums
from aistack.types import FloatArray, Image

INT8_MODEL = "nanodet-int8"
CALIBRATION_FRAMES = 32
CALIBRATION_STEP = 25  # every 2.5 s of the 10 fps clip: 32 frames span all of its 79 s
ZOOMS = (2, 3)  # close-ups: the middle 1/2 and 1/3 of a frame, enlarged to the frame's size
CLOSE_UP_IMAGE = "zidane.jpg"  # in ultralytics/assets
# Input heights from a small-person view to a 540p source at its own resolution; they cover
# every height a preset runs the detector at (tests/detect/test_quantize.py checks it).
# Fixed here, not derived from the presets, so that moving a preset never changes the graph.
CALIBRATION_HEIGHTS = (352, 416, 544)


def calibration_frames(
    clip: Path = DEMO_CLIP, count: int = CALIBRATION_FRAMES, step: int = CALIBRATION_STEP
) -> list[Image]:
    """`count` frames of `clip`, one every `step`, as BGR images."""
    capture = cv2.VideoCapture(str(clip))
    frames: list[Image] = []
    index = 0
    try:
        while len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                frames.append(np.asarray(frame, np.uint8))
            index += 1
    finally:
        capture.release()
    if not frames:
        raise SourceError(f"{clip}: no frames to calibrate with")
    return frames


def close_ups(frames: Sequence[Image], zooms: Sequence[int] = ZOOMS) -> list[Image]:
    """The middle of every 4th frame enlarged by each zoom: the same scenes, close up."""
    enlarged: list[Image] = []
    for frame in frames[::4]:
        height, width = frame.shape[:2]
        for zoom in zooms:
            top, left = (height - height // zoom) // 2, (width - width // zoom) // 2
            middle = frame[top : top + height // zoom, left : left + width // zoom]
            enlarged.append(np.asarray(cv2.resize(middle, (width, height)), np.uint8))
    return enlarged


def close_up_image() -> Image:
    """ultralytics' sample photo of two people filling the frame."""
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    path = Path(spec.origin).parent / "assets" / CLOSE_UP_IMAGE if spec and spec.origin else None
    image = cv2.imread(str(path)) if path is not None and path.is_file() else None
    if image is None:
        raise SourceError(
            f"calibration needs ultralytics' sample image {CLOSE_UP_IMAGE}: "
            "pip install ultralytics (or the dev environment)"
        )
    return np.asarray(image, np.uint8)


def calibration_images() -> list[Image]:
    """Every image the int8 graph is calibrated on (the module's docstring says why)."""
    frames = calibration_frames()
    return [*frames, *close_ups(frames), close_up_image()]


def quantize(source: Path, out: Path, frames: Sequence[Image]) -> Path:
    """Write the int8 version of the NanoDet graph at `source` to `out`; return `out`."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    blobs: list[FloatArray] = []
    for height in CALIBRATION_HEIGHTS:
        detector = NanoDetDetector(model_path=source, input_size=height)
        blobs += [blob for blob, _ in detector.prepare(frames)]
    name = detector.input_name

    class Frames(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime is untyped
        def __init__(self) -> None:
            self._feeds: Iterator[dict[str, FloatArray]] = iter({name: b} for b in blobs)

        def get_next(self) -> dict[str, FloatArray] | None:
            return next(self._feeds, None)

    with tempfile.TemporaryDirectory(prefix="aistack-quantize-") as tmp:
        # Folds constants and fuses what can be fused first, so that fewer tensors get
        # their own quantisation step; symbolic shapes stay (the graph is size-free).
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(out),
            Frames(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aistack.detect.quantize",
        description="Quantise the bundled NanoDet to int8 (onnxruntime static quantisation, "
        "calibrated on the bundled clip, close-ups of it and ultralytics' zidane.jpg) and "
        "rewrite SHA256SUMS.",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for nanodet-int8.onnx")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = quantize(
        bundled_model_path("nanodet"), args.out / f"{INT8_MODEL}.onnx", calibration_images()
    )
    sums = write_checksums(args.out)
    print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB) and {sums}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
