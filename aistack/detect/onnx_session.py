"""One way to open an ONNX model on onnxruntime for every detector: options, device, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aistack.errors import ModelError
from aistack.models import MODELS_DIR, verify_checksum


def providers(ort: Any, device: str) -> list[Any]:
    """onnxruntime execution providers for `cpu`, `cuda`, `cuda:N` or a bare GPU index."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    # A bare GPU index ("0") means CUDA, as in ultralytics' device strings.
    kind, _, index = ("cuda", "", device) if device.isdigit() else device.partition(":")
    if kind != "cuda" or not (index == "" or index.isdigit()):
        raise ModelError(
            f"device {device!r} is not supported by the onnx backend; use 'cpu' or 'cuda:N'"
        )
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise ModelError(
            f"device {device!r} needs onnxruntime-gpu with CUDA, but this onnxruntime offers "
            f"only {', '.join(available)}; install onnxruntime-gpu or use device='cpu'"
        )
    return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]


def open_session(
    path: Path,
    threads: int | None,
    device: str,
    what: str,
    edit: Callable[[Any], Any] | None = None,
) -> Any:
    """An InferenceSession for `path`; `what` names the model kind in error messages.

    `edit`, when given, takes the loaded `onnx.ModelProto` and returns the graph to run
    (a copy cut to what the caller needs); without the `onnx` package the file runs
    as it is, so `edit` must only ever save work, never change what the kept outputs are.
    """
    import onnxruntime as ort

    if not path.is_file():
        raise ModelError(
            f"{path}: model file not found; pass the path of a {what} .onnx file, "
            "or reinstall aistack to restore the bundled one"
        )
    if path.parent == MODELS_DIR:
        verify_checksum(path)
    chosen = providers(ort, device)  # a device mistake is reported as such, not as a bad file
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or 0  # 0: onnxruntime picks one per core
    options.inter_op_num_threads = 1  # the graphs are one chain; more threads only contend
    # Idle workers sleep instead of spinning: the detector shares the cores with
    # decoding and tracking, and spinning workers were slower when they did.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(_graph(path, edit), options, providers=chosen)
    except Exception as error:  # onnxruntime's and onnx's own errors derive from Exception
        first_line = (str(error).strip() or type(error).__name__).splitlines()[0]
        raise ModelError(
            f"{path}: not a loadable ONNX model ({first_line}); "
            "reconvert it with `python -m aistack.models.convert` or reinstall aistack"
        ) from None


def _graph(path: Path, edit: Callable[[Any], Any] | None) -> str | bytes:
    """The file's path, or the serialized graph that `edit` made of it."""
    if edit is None:
        return str(path)
    try:
        import onnx
    except ImportError:  # the whole graph is correct, only slower
        return str(path)
    return bytes(edit(onnx.load(str(path))).SerializeToString())
