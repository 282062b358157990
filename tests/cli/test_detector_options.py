"""The detector options shared by count, eval and annotate: presets from the config, --precision."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aistack.cli.args import config_from_options
from aistack.cli.main import main
from aistack.config import PRESETS
from aistack.data import DEMO_CLIP
from tests.clips import write_clip

COMMANDS = ["count", "eval", "annotate"]


def aistack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aistack", *args],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 20 frames of the bundled clip: enough to run, quick on a busy CPU."""
    path = tmp_path_factory.mktemp("clips") / "vtest20.mp4"
    return write_clip(path, 20)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_every_preset_and_precision(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in [*PRESETS, "--preset", "--precision", "int8", "fp32"]:
        assert word in text, word


def test_precision_reaches_the_config_and_none_leaves_it_to_the_preset() -> None:
    def precision(value: str | None, model: str = "nanodet") -> str:
        config = config_from_options(str(DEMO_CLIP), [], None, model, "cpu", "center",
                                     precision=value)  # fmt: skip
        return config.detector.precision

    assert precision("int8") == "int8" and precision("fp32") == "fp32"
    preset = config_from_options(str(DEMO_CLIP), [], None, "nanodet", "cpu", "center")
    assert precision(None) == preset.detector.precision


def test_count_runs_the_int8_nanodet(clip: Path) -> None:
    result = aistack("count", str(clip), "--line", "0.5,0,0.5,1", "--precision", "int8", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["frames"] == 20 and [line["name"] for line in data["lines"]] == ["line1"]


@pytest.mark.parametrize("command", COMMANDS)
def test_int8_with_another_model_is_one_error_naming_precision(
    command: str, tmp_path: Path
) -> None:
    given = {
        "count": [],
        "eval": ["--gt", str(tmp_path / "gt.txt"), "--classes", "people"],
        "annotate": ["--line", "0.5,0,0.5,1", "--out", str(tmp_path)],
    }[command]
    result = aistack(
        command, str(DEMO_CLIP), *given, "--precision", "int8", "--model", "yolov8n.pt"
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aistack: error: --precision") and "yolov8n.pt" in lines[0]
