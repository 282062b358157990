"""Which detector runs, on what input, and what it keeps."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from aistack.classes import resolve_classes
from aistack.config.base import Strict


class DetectorConfig(Strict):
    type: Literal["onnx", "ultralytics", "movenet"] = "onnx"
    model: str = Field(
        default="nanodet",
        description="'nanodet' or 'centernet' (bundled, offline; the preset picks one when "
        "unset) or a path to an .onnx file for `onnx`; "
        "'movenet' (bundled) or a MoveNet MultiPose .onnx path for `movenet`; "
        "a YOLO weights name or path (.pt, .onnx, .engine, .yaml) for `ultralytics`.",
    )
    device: str = "cpu"
    confidence: float = Field(default=0.25, gt=0, lt=1)
    iou: float = Field(default=0.6, gt=0, lt=1)
    classes: list[str] = Field(default_factory=lambda: resolve_classes(["people", "traffic"]))
    imgsz: int = Field(default=640, ge=32, description="ultralytics input size")
    input_size: int = Field(
        default=512, ge=64, multiple_of=32, description="movenet: the longer input side"
    )
    nanodet_size: int | tuple[int, int] | None = Field(
        default=None,
        description="The bundled NanoDet's or CenterNet's input, in pixels, multiples of 32. "
        "N: every frame is resized "
        "to N pixels high, keeping its aspect ratio (the width to the nearest multiple of "
        "32): 960x540 at 416 runs at 736x416, 768x576 at 544x416. A person is then N/10 "
        "pixels tall to the model when a tenth of the frame's height, whatever the camera. "
        "'WxH': every frame is stretched to exactly that (416x416: the size the model was "
        "trained at, and aistack's only input before this key). Unset: 416, or the graph's "
        "own size for a NanoDet .onnx with a fixed input. A larger N finds smaller people, "
        "misses more large ones, and costs time in proportion to the input's area "
        "(docs/models.md).",
    )
    precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="the bundled NanoDet's numbers: fp32, or int8 (nanodet-int8.onnx, "
        "quantised with calibration frames: about twice the frames per second on a CPU, "
        "dev-set counts within a point; docs/models.md). The presets choose int8 for the "
        "bundled NanoDet and leave other models as they are.",
    )
    threads: int | None = Field(default=None, ge=1)
    slices: tuple[int, int] | None = Field(
        default=None,
        description="sliced inference for sources whose objects are small against the "
        "frame (4K, wide panoramas): 'CxR' runs the detector on the whole frame and on C "
        "columns x R rows of tiles that overlap by a fifth, and merges the boxes; each "
        "frame then costs 1 + C x R model calls. Unset: the whole frame only "
        "(docs/models.md, *Sliced inference*).",
    )

    @field_validator("slices", mode="before")
    @classmethod
    def _slices(cls, slices: object) -> object:
        # YAML and the command line give "2x2"; Python may give (2, 2).
        if isinstance(slices, str):
            columns, x, rows = slices.strip().lower().partition("x")
            if not x or not columns.isdigit() or not rows.isdigit():
                raise ValueError(f"slices must be CxR, e.g. 2x2 or 3x1; got {slices!r}")
            return (int(columns), int(rows))
        return slices

    @field_validator("slices")
    @classmethod
    def _two_tiles_or_more(cls, slices: tuple[int, int] | None) -> tuple[int, int] | None:
        if slices is not None and (min(slices) < 1 or slices == (1, 1)):
            raise ValueError(f"slices needs at least 2 tiles, e.g. 2x1; got {slices!r}")
        return slices

    @field_validator("precision")
    @classmethod
    def _int8_is_bundled(cls, precision: str, info: ValidationInfo) -> str:
        # On the field (type and model come before it), so the error names detector.precision.
        kind, model = info.data.get("type"), info.data.get("model")
        if precision == "int8" and model is not None and (kind, model) != ("onnx", "nanodet"):
            raise ValueError(
                f"precision int8 runs the bundled nanodet's int8 graph (nanodet-int8.onnx) and "
                f"cannot apply to model {model}; use precision fp32 with it"
            )
        return precision

    @model_validator(mode="before")
    @classmethod
    def _movenet_model(cls, data: object) -> object:
        # `model` defaults to nanodet; for `type: movenet` the bundled MoveNet is meant.
        if isinstance(data, dict) and data.get("type") == "movenet" and "model" not in data:
            return {**data, "model": "movenet"}
        return data

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, classes: list[str]) -> list[str]:
        return resolve_classes(classes)

    @field_validator("nanodet_size", mode="before")
    @classmethod
    def _nanodet_size(cls, size: object) -> object:
        # YAML gives 640 as a number and 416x416 as a string.
        if isinstance(size, str) and size.strip().isdigit():
            size = int(size)
        elif isinstance(size, str):
            width, x, height = size.strip().lower().partition("x")
            if not x or not width.isdigit() or not height.isdigit():
                raise ValueError(
                    f"nanodet_size must be N or WxH, e.g. 640 or 416x416; got {size!r}"
                )
            size = (int(width), int(height))
        sides = size if isinstance(size, (tuple, list)) else [size]
        if size is not None and not all(
            isinstance(side, int) and side >= 32 and side % 32 == 0 for side in sides
        ):
            raise ValueError(f"nanodet_size sides must be multiples of 32; got {size!r}")
        return size

    @field_validator("device")
    @classmethod
    def _valid_device(cls, device: str) -> str:
        if not re.match(r"^(cpu|mps|cuda(:\d+)?|\d+)$", device):
            raise ValueError("device must be cpu, mps, cuda or cuda:N")
        return device

    @model_validator(mode="after")
    def _slices_keep_boxes_only(self) -> DetectorConfig:
        # InferenceSlicer moves each tile's boxes back into the frame, not keypoints.
        if self.slices is not None and self.type == "movenet":
            raise ValueError(
                "slices: sliced inference is for boxes; pose keypoints cannot be sliced"
            )
        return self

    @field_validator("classes")
    @classmethod
    def _pose_classes(cls, classes: list[str], info: ValidationInfo) -> list[str]:
        # MoveNet finds people only; asking it for cars would silently count nothing.
        others = [c for c in classes if c != "person"]
        if info.data.get("type") == "movenet" and others:
            raise ValueError(
                f"pose models detect people only; {', '.join(others)} cannot be counted with "
                "movenet (use people, or a detector such as nanodet)"
            )
        return classes
