"""Files as an earlier commit had them, for tests that rebuild today's files from them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def committed_file(commit: str, path: str) -> bytes:
    """The bytes of `path` at `commit`; the test is skipped when this checkout lacks it."""
    shown = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, check=False
    )
    if shown.returncode != 0:
        pytest.skip(f"{path} of commit {commit} is not in this checkout")
    return shown.stdout
