"""Rewrite nanodet.onnx so that OpenCV 4.6's ONNX importer reads it: each Split becomes Slices.

The bundled graph is opset 13, where Split takes its part sizes as a second input. OpenCV
4.6 ignores that input and splits the 124 head channels into two equal halves, so the
following Reshape to [1, 80, -1] fails ("Can't infer a dim denoted by -1"). One Slice per
part computes exactly the same tensors (onnxruntime gives bit-identical outputs for both
files; experiments/compare.py checks that on every run) and every OpenCV reads it.

Only the standard library is used (a minimal protobuf reader and writer for the handful of
ONNX fields touched), so the C++ build needs no `onnx` package:
    python3 experiments/cpp/opencv_model.py IN.onnx OUT.onnx
"""

from __future__ import annotations

import struct
import sys
from itertools import accumulate
from pathlib import Path

# Protobuf field numbers from onnx.proto.
MODEL_GRAPH = 7
GRAPH_NODE, GRAPH_INITIALIZER = 1, 5
NODE_INPUT, NODE_OUTPUT, NODE_NAME, NODE_OP_TYPE, NODE_ATTRIBUTE = 1, 2, 3, 4, 5
ATTRIBUTE_NAME, ATTRIBUTE_I = 1, 3
TENSOR_DIMS, TENSOR_DATA_TYPE, TENSOR_INT64_DATA, TENSOR_NAME, TENSOR_RAW_DATA = 1, 2, 7, 8, 9
INT64 = 7  # TensorProto.DataType.INT64
VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5

Field = tuple[int, int, int | bytes]  # (number, wire type, varint value or payload)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if byte < 0x80:
            return value, at


def parse(data: bytes) -> list[Field]:
    """A message's fields in file order; unknown and repeated fields are kept as they are."""
    fields: list[Field] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, at = _varint(data, at)
            fields.append((number, wire, value))
        elif wire == BYTES:
            size, at = _varint(data, at)
            fields.append((number, wire, data[at : at + size]))
            at += size
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            fields.append((number, wire, data[at : at + size]))
            at += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return fields


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values are ten-byte two's complement varints
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def serialize(fields: list[Field]) -> bytes:
    out = bytearray()
    for number, wire, value in fields:
        out += _encode_varint(number << 3 | wire)
        if wire == VARINT:
            assert isinstance(value, int)
            out += _encode_varint(value)
        elif wire == BYTES:
            assert isinstance(value, bytes)
            out += _encode_varint(len(value)) + value
        else:
            assert isinstance(value, bytes)
            out += value
    return bytes(out)


def _strings(fields: list[Field], number: int) -> list[str]:
    return [v.decode() for n, w, v in fields if n == number and isinstance(v, bytes)]


def _int64s(tensor: list[Field]) -> list[int]:
    """The values of an INT64 tensor, stored either as raw_data or as int64_data."""
    for number, _, value in tensor:
        if number == TENSOR_RAW_DATA and isinstance(value, bytes):
            return list(struct.unpack(f"<{len(value) // 8}q", value))
    values: list[int] = []
    for number, wire, value in tensor:
        if number != TENSOR_INT64_DATA:
            continue
        if wire == VARINT and isinstance(value, int):
            values.append(value)
        elif isinstance(value, bytes):  # packed
            at = 0
            while at < len(value):
                item, at = _varint(value, at)
                values.append(item)
    return [v - (1 << 64) if v >= 1 << 63 else v for v in values]


def _int64_tensor(name: str, values: list[int]) -> bytes:
    return serialize(
        [
            (TENSOR_DIMS, VARINT, len(values)),
            (TENSOR_DATA_TYPE, VARINT, INT64),
            (TENSOR_NAME, BYTES, name.encode()),
            (TENSOR_RAW_DATA, BYTES, struct.pack(f"<{len(values)}q", *values)),
        ]
    )


def _node(name: str, op_type: str, inputs: list[str], outputs: list[str]) -> bytes:
    fields: list[Field] = [(NODE_INPUT, BYTES, i.encode()) for i in inputs]
    fields += [(NODE_OUTPUT, BYTES, o.encode()) for o in outputs]
    fields += [(NODE_NAME, BYTES, name.encode()), (NODE_OP_TYPE, BYTES, op_type.encode())]
    return serialize(fields)


def _split_axis(node: list[Field]) -> int:
    for number, _, value in node:
        if number == NODE_ATTRIBUTE and isinstance(value, bytes):
            attribute = parse(value)
            if _strings(attribute, ATTRIBUTE_NAME) == ["axis"]:
                return next(int(v) for n, _, v in attribute if n == ATTRIBUTE_I)
    return 0  # ONNX's default


def rewrite(model: bytes) -> tuple[bytes, int]:
    """The model with every two-input Split replaced by Slices, and how many Slices it has."""
    top = parse(model)
    (graph_at,) = [i for i, (n, _, _) in enumerate(top) if n == MODEL_GRAPH]
    graph_bytes = top[graph_at][2]
    assert isinstance(graph_bytes, bytes)
    graph = parse(graph_bytes)
    initializers = {
        _strings(parse(v), TENSOR_NAME)[0]: parse(v)
        for n, _, v in graph
        if n == GRAPH_INITIALIZER and isinstance(v, bytes)
    }

    rewritten: list[Field] = []
    added: list[bytes] = []
    replaced_sizes: set[str] = set()
    slices = 0
    for number, wire, value in graph:
        node = parse(value) if number == GRAPH_NODE and isinstance(value, bytes) else []
        inputs = _strings(node, NODE_INPUT)
        if not node or _strings(node, NODE_OP_TYPE) != ["Split"] or len(inputs) != 2:
            rewritten.append((number, wire, value))
            continue
        (name,) = _strings(node, NODE_NAME)
        source, sizes_name = inputs
        sizes = _int64s(initializers[sizes_name])
        ends = list(accumulate(sizes))
        starts = [0, *ends[:-1]]
        for part, output in enumerate(_strings(node, NODE_OUTPUT)):
            names = [f"{name}/{role}{part}" for role in ("starts", "ends", "axes")]
            values = ([starts[part]], [ends[part]], [_split_axis(node)])
            added += [_int64_tensor(n, v) for n, v in zip(names, values, strict=True)]
            slice_node = _node(f"{name}/slice{part}", "Slice", [source, *names], [output])
            rewritten.append((GRAPH_NODE, BYTES, slice_node))
            slices += 1
        replaced_sizes.add(sizes_name)

    still_used = {
        i
        for n, _, v in rewritten
        if n == GRAPH_NODE and isinstance(v, bytes)
        for i in _strings(parse(v), NODE_INPUT)
    }
    unused = replaced_sizes - still_used  # drop them, or onnxruntime warns on load
    rewritten = [
        (n, w, v)
        for n, w, v in rewritten
        if not (
            n == GRAPH_INITIALIZER
            and isinstance(v, bytes)
            and _strings(parse(v), TENSOR_NAME)[0] in unused
        )
    ]
    rewritten += [(GRAPH_INITIALIZER, BYTES, tensor) for tensor in added]
    top[graph_at] = (MODEL_GRAPH, BYTES, serialize(rewritten))
    return serialize(top), slices


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {sys.argv[0]} IN.onnx OUT.onnx")
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    model, slices = rewrite(source.read_bytes())
    if not slices:
        raise SystemExit(f"{source}: no opset-13 Split found; is this the bundled nanodet.onnx?")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(model)
    print(f"{target}: {slices} Slice nodes in place of Split")


if __name__ == "__main__":
    main()
