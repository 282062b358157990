"""The bundled NanoDet re-wrapped to look like a YOLOv8 ONNX export, for like-for-like benchmarks.

Ultralytics runs only YOLO-format ONNX files: one RGB 0..1 input, one
[1, 4 + classes, N] output of centre boxes and class scores. Wrapping NanoDet in
that interface (its normalisation in front, its box decoding behind) lets
`YOLO(...).track()` + `solutions.ObjectCounter` and aistack run the very same
real detector on the same clip, offline, with real boxes to track and count.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from aistack.classes import COCO_CLASSES
from aistack.models import bundled_model_path

_MEAN = (103.53, 116.28, 123.675)  # NanoDet's BGR normalisation (see detect/nanodet.py)
_STD = (57.375, 57.12, 58.395)
_BINS = 11


def nanodet_as_yolo(
    target: Path, source: Path | None = None, size: tuple[int, int] = (416, 416)
) -> Path:
    """Write NanoDet as a YOLOv8-style detect ONNX model at `target`; returns `target`.

    A size-free graph (the bundled one) is fixed at `size` (width, height) first:
    the wrapper's box decoding is laid out for one grid. 416x416 is the size the
    model was trained at, and what the Ultralytics comparison has always run.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from aistack.models.graph_edits import fixed_input_size

    model = onnx.load(str(source or bundled_model_path("nanodet")))
    if any(d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim):
        model = fixed_input_size(model, *size)
    graph = model.graph
    (original,) = graph.input
    dims = [d.dim_value for d in original.type.tensor_type.shape.dim]
    height, width = dims[2], dims[3]
    levels = _levels(graph, height, width)

    constants: dict[str, np.ndarray] = {
        "rgb_to_bgr": np.array([2, 1, 0], np.int64),
        "pixel_scale": np.array(255.0, np.float32),
        "mean": np.array(_MEAN, np.float32).reshape(1, 3, 1, 1),
        "std": np.array(_STD, np.float32).reshape(1, 3, 1, 1),
        "bin_values": np.arange(_BINS, dtype=np.float32).reshape(_BINS, 1),
        "bins_shape": np.array([1, -1, 4, _BINS], np.int64),
        "sides_shape": np.array([1, -1, 4], np.int64),
        "strides": np.concatenate([np.full((n, 1), s, np.float32) for n, s, _, _ in levels])[None],
        "centres": np.concatenate([_centres(n, s, width) for n, s, _, _ in levels])[None],
        "half": np.array(0.5, np.float32),
        "split_2_2": np.array([2, 2], np.int64),
    }
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    node = helper.make_node
    front = [
        node("Mul", ["images", "pixel_scale"], ["pixels"]),
        node("Gather", ["pixels", "rgb_to_bgr"], ["bgr"], axis=1),
        node("Sub", ["bgr", "mean"], ["centred"]),
        node("Div", ["centred", "std"], [original.name]),
    ]
    back = [
        node("Concat", [scores for _, _, scores, _ in levels], ["scores"], axis=1),
        node("Concat", [boxes for _, _, _, boxes in levels], ["bins"], axis=1),
        node("Reshape", ["bins", "bins_shape"], ["bin_logits"]),
        node("Softmax", ["bin_logits"], ["bin_weights"], axis=-1),
        node("MatMul", ["bin_weights", "bin_values"], ["sides_in_strides"]),
        node("Reshape", ["sides_in_strides", "sides_shape"], ["sides_scaled"]),
        node("Mul", ["sides_scaled", "strides"], ["sides"]),  # left, top, right, bottom
        node("Split", ["sides", "split_2_2"], ["near", "far"], axis=2),
        node("Sub", ["centres", "near"], ["top_left"]),
        node("Add", ["centres", "far"], ["bottom_right"]),
        node("Add", ["top_left", "bottom_right"], ["doubled_centre"]),
        node("Mul", ["doubled_centre", "half"], ["centre"]),
        node("Sub", ["bottom_right", "top_left"], ["size"]),
        node("Concat", ["centre", "size", "scores"], ["rows"], axis=2),
        node("Transpose", ["rows"], ["output0"], perm=[0, 2, 1]),
    ]
    nodes = [*front, *graph.node, *back]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    graph.input.append(
        helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])
    )
    points = sum(n for n, _, _, _ in levels)
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(
            "output0", TensorProto.FLOAT, [1, 4 + len(COCO_CLASSES), points]
        )
    )
    names = {i: name for i, name in enumerate(COCO_CLASSES)}
    metadata = {
        "description": "NanoDet-m (bundled with aistack) in YOLOv8 detect format",
        "task": "detect",
        "stride": "32",
        "batch": "1",
        "imgsz": str([height, width]),
        "names": str(names),
    }
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return target


def _levels(graph: object, height: int, width: int) -> list[tuple[int, int, str, str]]:
    """(points, stride, score output, box output) per stride, finest first."""
    by_points: dict[int, dict[int, str]] = {}
    for output in graph.output:  # type: ignore[attr-defined]
        dims = [d.dim_value for d in output.type.tensor_type.shape.dim]
        by_points.setdefault(dims[1], {})[dims[2]] = output.name
    levels = []
    for points, roles in sorted(by_points.items(), reverse=True):
        stride = round(math.sqrt(height * width / points))
        levels.append((points, stride, roles[len(COCO_CLASSES)], roles[4 * _BINS]))
    return levels


def _centres(points: int, stride: int, width: int) -> np.ndarray:
    columns = width // stride
    row, col = np.divmod(np.arange(points, dtype=np.float32), columns)
    return np.stack([(col + 0.5) * stride, (row + 0.5) * stride], axis=1).astype(np.float32)
