"""CenterNet's hard-swish with exactly 1/6: the graph edit, and the bundled file it made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from aistack.models import bundled_model_path

onnx = pytest.importorskip("onnx", reason="onnx (the ultralytics extra) is not installed")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from aistack.models.convert import write_exact_hard_swish  # noqa: E402
from aistack.models.graph_edits import exact_hard_swish  # noqa: E402
from tests.history import committed_file  # noqa: E402

# The last commit whose centernet.onnx still had the float16 1/6 constants.
FLOAT16_SIXTH_COMMIT = "9cd3ef9"
SIXTH_AS_FLOAT16 = float(np.float16(1 / 6))  # 0.16662598, what the TF.js export stored


def mobilenet_activations() -> Any:
    """A tiny graph with both patterns as the export wrote them: a hard-swish after a
    convolution, then a squeeze-excite gate (hard-sigmoid) multiplying the features."""
    constants = {
        "weight": np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32),
        "sixth": np.array(SIXTH_AS_FLOAT16, np.float32),
        "three": np.full((1, 1, 1, 1), 3.0, np.float32),
        "zero": np.array(0.0, np.float32),
        "six": np.array(6.0, np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["image", "weight"], ["x"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["sixth", "x"], ["x_sixth"]),
        helper.make_node("Add", ["x", "three"], ["x_3"]),
        helper.make_node("Clip", ["x_3", "zero", "six"], ["relu6"]),
        helper.make_node("Mul", ["x_sixth", "relu6"], ["swish"]),
        helper.make_node("GlobalAveragePool", ["swish"], ["pooled"]),
        helper.make_node("Add", ["pooled", "three"], ["pooled_3"]),
        helper.make_node("Clip", ["pooled_3", "zero", "six"], ["pooled_relu6"]),
        helper.make_node("Mul", ["sixth", "pooled_relu6"], ["gate"]),
        helper.make_node("Mul", ["gate", "swish"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "activations",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4, 8, 8])],
        [numpy_helper.from_array(value, name) for name, value in constants.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def run(model: Any, image: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"image": image})[0])


def test_both_patterns_become_hard_sigmoid_with_exactly_a_sixth() -> None:
    model = mobilenet_activations()
    edited = exact_hard_swish(model)
    ops = [node.op_type for node in edited.graph.node]
    assert ops.count("HardSigmoid") == 2 and "Clip" not in ops and "Add" not in ops
    for node in edited.graph.node:
        if node.op_type == "HardSigmoid":
            attrs = {a.name: a.f for a in node.attribute}
            assert attrs == {"alpha": np.float32(1 / 6), "beta": 0.5}  # float32 attributes

    image = np.random.default_rng(1).normal(scale=3.0, size=(1, 3, 8, 8)).astype(np.float32)
    x = run(helper.make_model(helper.make_graph(
        [model.graph.node[0]], "conv", list(model.graph.input),
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [t for t in model.graph.initializer if t.name == "weight"],
    ), opset_imports=[helper.make_opsetid("", 13)]), image)  # fmt: skip
    swish = x * np.clip(x + 3, 0, 6) / 6
    gate = np.clip(swish.mean(axis=(2, 3), keepdims=True) + 3, 0, 6) / 6
    exact = gate * swish
    assert np.abs(x).max() > 3, "the test input must reach the saturated part of ReLU6"
    np.testing.assert_allclose(run(edited, image), exact, rtol=1e-5, atol=1e-5)
    # The float16 constant is what the edit removes: the original graph is measurably off.
    assert np.abs(run(model, image) - exact).max() > 1e-4


def test_a_graph_without_the_patterns_is_returned_unchanged() -> None:
    edited = exact_hard_swish(mobilenet_activations())
    assert exact_hard_swish(edited).SerializeToString() == edited.SerializeToString()


def test_the_bundled_centernet_has_every_activation_exact() -> None:
    model = onnx.load(str(bundled_model_path("centernet")))
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("HardSigmoid") == 28 and "Clip" not in ops
    assert exact_hard_swish(model).graph.node == model.graph.node


def test_the_bundled_centernet_is_the_float16_graph_edited(tmp_path: Path) -> None:
    """convert's last CenterNet step, on the graph bundled before it, gives today's file."""
    path = tmp_path / "centernet.onnx"
    path.write_bytes(committed_file(FLOAT16_SIXTH_COMMIT, "aistack/models/centernet.onnx"))
    write_exact_hard_swish(path)
    assert path.read_bytes() == bundled_model_path("centernet").read_bytes()
