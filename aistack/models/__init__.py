"""Bundled model files: where they live and whether they are intact."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aistack.errors import ModelError

__all__ = ["MODELS_DIR", "bundled_model_path", "verify_checksum"]

MODELS_DIR = Path(__file__).resolve().parent
_SUMS_FILE = MODELS_DIR / "SHA256SUMS"


def bundled_model_path(name: str) -> Path:
    """Path of a bundled model by name, e.g. "nanodet" or "nanodet.onnx"."""
    file_name = name if name.endswith(".onnx") else f"{name}.onnx"
    known = _known_checksums()
    if file_name not in known:
        raise ModelError(
            f"unknown bundled model {name!r}; bundled models are: "
            f"{', '.join(sorted(n.removesuffix('.onnx') for n in known))}"
        )
    return MODELS_DIR / file_name


def verify_checksum(path: Path | str) -> None:
    """Raise ModelError unless `path` matches its SHA-256 in the bundled SHA256SUMS."""
    path = Path(path)
    expected = _known_checksums().get(path.name)
    if expected is None:
        raise ModelError(f"{path}: no checksum recorded in {_SUMS_FILE}")
    if not path.is_file():
        raise ModelError(f"{path}: model file is missing; reinstall aistack to restore it")
    actual = _sha256(path)
    if actual != expected:
        raise ModelError(
            f"{path}: checksum mismatch (sha256 {actual[:12]}..., expected {expected[:12]}...); "
            "the file is corrupt or was replaced, reinstall aistack to restore it"
        )


def _known_checksums() -> dict[str, str]:
    # Read on each call: the file is tiny and this keeps no module state to go stale.
    try:
        text = _SUMS_FILE.read_text(encoding="ascii")
    except OSError as error:
        raise ModelError(f"{_SUMS_FILE}: cannot read ({error}); reinstall aistack") from error
    sums: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if digest and name:
            sums[name.strip()] = digest.strip()
    return sums


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
