"""The bundled NanoDet in 8-bit integers: about twice the frames per second on a CPU.

    python -m aistack.detect.quantize --out aistack/models

reads the bundled size-free `nanodet.onnx` and writes `nanodet-int8.onnx` beside it,
then rewrites SHA256SUMS. onnxruntime's static quantisation does the work (QDQ format,
int8 weights per output channel, uint8 activations): the activations' ranges come from
calibration frames run through the float model with the detector's own preprocessing,
so that calibration sees exactly what inference will. The frames are every 25th of the
bundled clip, each at every preset's input height (people of three sizes to the model,
as the presets will show it them; calibrated at one height only, the int8 graph lost 7 %
of the float graph's confident boxes on the street clips, at three none); ranges are
min/max, the method with no knob to tune. The same inputs give the same file, byte for
byte.

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

from aistack.config import PRESETS
from aistack.data import DEMO_CLIP
from aistack.detect.nanodet import NanoDetDetector
from aistack.errors import SourceError
from aistack.models import bundled_model_path
from aistack.models.convert import write_checksums
from aistack.types import FloatArray, Image

INT8_MODEL = "nanodet-int8"
CALIBRATION_FRAMES = 32
CALIBRATION_STEP = 25  # one frame a second of the 25 fps clip: varied crowds, no near-repeats
# Every input height a preset runs the detector at (config.PRESETS), smallest first.
CALIBRATION_HEIGHTS = tuple(sorted({int(p["detector"]["nanodet_size"]) for p in PRESETS.values()}))


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
        "calibrated on the bundled clip) and rewrite SHA256SUMS.",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for nanodet-int8.onnx")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = quantize(
        bundled_model_path("nanodet"), args.out / f"{INT8_MODEL}.onnx", calibration_frames()
    )
    sums = write_checksums(args.out)
    print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB) and {sums}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
