"""A short real clip and one `aistack annotate` run on it, shared by the audit tests."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clips import write_clip

WALKWAY = "walkway=0.62,0.8,0.62,0.3"  # people cross it left and right in the bundled clip
FRAMES = 80  # aistack counts three crossings of the walkway in these


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clips") / "vtest80.mp4", FRAMES)


@dataclass(frozen=True)
class AnnotateRun:
    clip: Path
    out: Path
    stdout: str
    stderr: str

    @property
    def page(self) -> Path:
        return self.out / "annotate.html"


@pytest.fixture(scope="session")
def annotate_run(short_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> AnnotateRun:
    """`aistack annotate` on the short clip, in-process, as a user types it."""
    from aistack.cli.main import main

    out = tmp_path_factory.mktemp("audit") / "walkway-audit"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["annotate", str(short_clip), "--line", WALKWAY, "--out", str(out)])
    assert code == 0, stderr.getvalue()
    return AnnotateRun(short_clip, out, stdout.getvalue(), stderr.getvalue())
