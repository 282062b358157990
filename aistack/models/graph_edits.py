"""Edits of converted ONNX graphs: sizes set free or fixed, heads cut, activations restored.

Each takes an `onnx.ModelProto` and returns an edited copy that passes ONNX's checker;
`aistack.models.convert` applies them in its pipeline, and `yolo_format` and the tests
use them on the bundled files. Only `onnx` is needed, imported inside each function so
that `import aistack.models` never needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "CENTERNET_HEAT",
    "centernet_classes",
    "centernet_heads",
    "exact_hard_swish",
    "fixed_input_size",
    "free_input_size",
]

# The converted CenterNet's outputs: a heat map per COCO class, and each point's box sides.
CENTERNET_HEAT, CENTERNET_SIDES = "tower_0/keypoints", "tower_0/wh"


def free_input_size(model: Any) -> Any:
    """A copy of a fixed-size NanoDet graph that runs at any input height and width.

    The graph depends on its input size only through declared shapes: its
    Reshapes use -1 and its Resizes scale by factors, so the same nodes and
    weights run at any H and W that are multiples of 32 (the coarsest stride),
    and give the same outputs at the old size (tests/detect/test_nanodet_size.py).
    The input's H and W become the symbols `height` and `width`; each output's
    point count becomes `points_s<stride>`, shared by the stride's score and box
    outputs, so the declared shapes still say which outputs pair up. Shapes
    recorded inside the graph are dropped and inferred again (strictly), and the
    checker must pass.
    """
    import onnx

    free = type(model)()
    free.CopyFrom(model)
    graph = free.graph
    if len(graph.input) != 1 or len(graph.output) != 6:
        raise SystemExit("not a NanoDet graph: expected one input and six outputs")
    dims = graph.input[0].type.tensor_type.shape.dim
    height, width = (dims[2].dim_value, dims[3].dim_value) if len(dims) == 4 else (0, 0)
    if not height or not width:
        raise SystemExit("NanoDet's input is not a fixed [1, 3, H, W]: nothing to free")
    for dim, symbol in zip(dims[2:], ("height", "width"), strict=True):
        dim.Clear()
        dim.dim_param = symbol
    for output in graph.output:
        points = output.type.tensor_type.shape.dim[1]
        stride = round((height * width / points.dim_value) ** 0.5)
        points.Clear()
        points.dim_param = f"points_s{stride}"
    del graph.value_info[:]
    free = onnx.shape_inference.infer_shapes(free, check_type=True, strict_mode=True)
    onnx.checker.check_model(free, full_check=True)
    return free


def fixed_input_size(model: Any, width: int, height: int) -> Any:
    """A copy of the size-free NanoDet graph with its input fixed at `width` x `height`.

    The inverse of `free_input_size`, for runners that need declared shapes (the
    YOLO-format wrapper, OpenCV's importer): `free_input_size` of the result at
    416x416 is byte for byte the bundled graph again.
    """
    import onnx

    if width % 32 or height % 32 or width < 32 or height < 32:
        raise ValueError(f"NanoDet's input sides must be multiples of 32; got {width}x{height}")
    fixed = type(model)()
    fixed.CopyFrom(model)
    graph = fixed.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    for dim, value in zip(dims[2:], (height, width), strict=True):
        dim.Clear()
        dim.dim_value = value
    for output in graph.output:
        points = output.type.tensor_type.shape.dim[1]
        symbol = points.dim_param
        if not symbol.startswith("points_s"):
            raise SystemExit(f"{output.name}: not a size-free NanoDet output ({symbol!r})")
        stride = int(symbol.removeprefix("points_s"))
        points.Clear()
        points.dim_value = (height // stride) * (width // stride)
    del graph.value_info[:]
    fixed = onnx.shape_inference.infer_shapes(fixed, check_type=True, strict_mode=True)
    onnx.checker.check_model(fixed, full_check=True)
    return fixed


def centernet_heads(model: Any) -> Any:
    """A copy of the converted CenterNet graph that ends at its heat map and box outputs.

    The TF.js graph decodes its own boxes: a 3x3 max-pool for peaks, a top-100 over a
    128x128 grid, gathers. Those steps fix the input at 512x512 and cap a frame at 100
    objects (a crowd has more), so they are cut off and done by the detector instead
    (`aistack.detect.centernet`). What is left, convolutions and 2x upsampling, runs
    at any input height and width that are multiples of 32; the input becomes
    [1, height, width, 3] and both outputs [1, height_s4, width_s4, C] (stride 4).
    """
    import onnx

    heads = (CENTERNET_HEAT, CENTERNET_SIDES)
    graph = model.graph
    producer = {name: node for node in graph.node for name in node.output}
    needed: set[str] = set()
    pending = list(heads)
    while pending:
        node = producer.get(pending.pop())
        if node is not None and node.name not in needed:
            needed.add(node.name)
            pending.extend(node.input)
    cut = type(model)()
    cut.CopyFrom(model)
    graph = cut.graph
    nodes = [node for node in graph.node if node.name in needed]
    used = {name for node in nodes for name in node.input}
    initializers = [tensor for tensor in graph.initializer if tensor.name in used]
    outputs = [output for output in graph.output if output.name in heads]
    if len(outputs) != len(heads) or len(graph.input) != 1:
        raise SystemExit(f"not the CenterNet graph: expected one input and outputs {heads}")
    _set_all(graph.node, nodes)
    _set_all(graph.initializer, initializers)
    _set_all(graph.output, outputs)
    dims = graph.input[0].type.tensor_type.shape.dim
    for dim, symbol in zip(dims[1:3], ("height", "width"), strict=True):
        dim.Clear()
        dim.dim_param = symbol
    for output in graph.output:
        out_dims = output.type.tensor_type.shape.dim
        for dim, symbol in zip(out_dims[1:3], ("height_s4", "width_s4"), strict=True):
            dim.Clear()
            dim.dim_param = symbol
    del graph.value_info[:]
    cut = onnx.shape_inference.infer_shapes(cut, check_type=True, strict_mode=True)
    onnx.checker.check_model(cut, full_check=True)
    return cut


def centernet_classes(model: Any, channels: Sequence[int]) -> Any:
    """A copy of the CenterNet graph whose heat map has only the classes `channels` (COCO
    ids, in that order).

    The heat map is one 1x1 convolution (128 features to 80 classes, at stride 4, the
    largest grid of the graph), then a sigmoid and a transpose. Keeping only the
    filters of the classes counted makes that convolution and the output smaller: the
    six traffic and people classes at 544x960 on one core take 81 ms a frame instead
    of 95 (docs/models.md, *CenterNet*). The kept maps are the same numbers. Raises
    ValueError on a graph that does not end that way.
    """
    import onnx
    from onnx import numpy_helper

    cut = type(model)()
    cut.CopyFrom(model)
    graph = cut.graph
    producer = {name: node for node in graph.node for name in node.output}
    node = producer.get(CENTERNET_HEAT)
    while node is not None and node.op_type in ("Sigmoid", "Transpose"):
        node = producer.get(node.input[0])
    outputs = [output for output in graph.output if output.name == CENTERNET_HEAT]
    if node is None or node.op_type != "Conv" or len(outputs) != 1:
        raise ValueError(f"not the converted CenterNet: no convolution ends {CENTERNET_HEAT!r}")
    weights = {tensor.name: tensor for tensor in graph.initializer}
    shared = {name for other in graph.node if other is not node for name in other.input}
    for name in node.input[1:]:  # the filters, then the biases: one row per class
        tensor = weights.get(name)
        if tensor is None or name in shared:
            raise ValueError(f"CenterNet's heat convolution has no own weights {name!r}")
        kept = numpy_helper.to_array(tensor)[list(channels)]
        tensor.CopyFrom(numpy_helper.from_array(kept, name))
    dims = outputs[0].type.tensor_type.shape.dim
    dims[len(dims) - 1].dim_value = len(channels)
    del graph.value_info[:]
    onnx.checker.check_model(cut)
    return cut


def exact_hard_swish(model: Any) -> Any:
    """A copy of a MobileNetV3 graph whose hard-swish and hard-sigmoid use exactly 1/6.

    MobileNetV3 defines hard-swish as x * ReLU6(x + 3) / 6 and its squeeze-excite gate
    as ReLU6(x + 3) / 6. The TF.js export stored every weight, the constant 1/6 too, as
    float16 (0.16662598), so the converted CenterNet computes them with four and three
    elementwise nodes and a constant 0.02 % off. This edit writes each as onnxruntime's
    HardSigmoid(x; alpha=1/6, beta=0.5), times x for hard-swish: the activation the
    weights were trained with, and one onnxruntime fuses into the convolution before it
    (CenterNet at 448x800 on one core: 44 ms a frame instead of 56; docs/models.md).
    A graph without the patterns is returned unchanged, so the edit is idempotent.
    """
    import onnx
    from onnx import helper, numpy_helper

    edited = type(model)()
    edited.CopyFrom(model)
    graph = edited.graph
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    producer = {name: node for node in graph.node for name in node.output}
    users: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)

    def constant(name: str, value: float, tolerance: float = 0.0) -> bool:
        array = constants.get(name)
        if array is None or array.size != 1:
            return False
        return abs(float(array.flat[0]) - value) <= tolerance

    def sixth(name: str) -> bool:  # 1/6, in float32 or float16
        return constant(name, 1 / 6, tolerance=1e-3)

    def sole_user(name: str, op_type: str) -> Any:
        found = users.get(name, [])
        return found[0] if len(found) == 1 and found[0].op_type == op_type else None

    replaced: dict[int, list[Any]] = {}  # id of the last node of a pattern -> its new nodes
    removed: set[int] = set()
    for clip in graph.node:
        if clip.op_type != "Clip" or len(clip.input) != 3:
            continue
        add = producer.get(clip.input[0])
        mul = sole_user(clip.output[0], "Mul")
        if add is None or add.op_type != "Add" or mul is None:
            continue
        if sole_user(add.output[0], "Clip") is None:
            continue
        if not (constant(clip.input[1], 0.0) and constant(clip.input[2], 6.0)):
            continue
        inputs = [name for name in add.input if not constant(name, 3.0)]
        if len(inputs) != 1:
            continue
        (x,) = inputs
        (factor,) = [name for name in mul.input if name != clip.output[0]] or [""]
        gate = f"{mul.output[0]}_hard_sigmoid"
        if sixth(factor):  # ReLU6(x + 3) * (1/6): the squeeze-excite gate
            new = [helper.make_node("HardSigmoid", [x], [mul.output[0]], alpha=1 / 6, beta=0.5)]
            removed |= {id(add), id(clip)}
        else:  # (x * (1/6)) * ReLU6(x + 3): hard-swish
            scaled = producer.get(factor)
            if scaled is None or scaled.op_type != "Mul" or len(users[factor]) != 1:
                continue
            if sorted(scaled.input, key=lambda name: name != x)[0] != x:
                continue
            if not any(sixth(name) for name in scaled.input if name != x):
                continue
            new = [
                helper.make_node("HardSigmoid", [x], [gate], alpha=1 / 6, beta=0.5),
                helper.make_node("Mul", [x, gate], [mul.output[0]]),
            ]
            removed |= {id(add), id(clip), id(scaled)}
        replaced[id(mul)] = new
    if not replaced:
        return edited
    nodes: list[Any] = []
    for node in graph.node:
        if id(node) in replaced:
            nodes.extend(replaced[id(node)])
        elif id(node) not in removed:
            nodes.append(node)
    _set_all(graph.node, nodes)
    used = {name for node in graph.node for name in node.input}
    _set_all(graph.initializer, [tensor for tensor in graph.initializer if tensor.name in used])
    del graph.value_info[:]
    edited = onnx.shape_inference.infer_shapes(edited, check_type=True, strict_mode=True)
    onnx.checker.check_model(edited, full_check=True)
    return edited


def _set_all(group: Any, items: list[Any]) -> None:
    """Make a repeated protobuf field hold copies of `items` (which may be its own)."""
    copies = [type(item)() for item in items]
    for copy, item in zip(copies, items, strict=True):
        copy.CopyFrom(item)
    del group[:]
    group.extend(copies)
