"""Presets: fast, balanced and accurate set the detector input unless a key says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from aistack.cli.args import config_from_options
from aistack.config import DEFAULT_PRESET, PRESETS, AppConfig, load_config
from aistack.errors import ConfigError

CAMERA = {"source": {"uri": "clip.mp4"}}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_preset_sets_the_detector_input(preset: str) -> None:
    config = AppConfig.model_validate({"preset": preset, "cameras": [CAMERA]})
    assert config.preset == preset
    assert config.detector.nanodet_size == PRESETS[preset]["detector"]["nanodet_size"]
    assert config.detector.precision == PRESETS[preset]["detector"]["precision"]


def test_presets_trade_compute_for_accuracy_in_order() -> None:
    # Compute per frame: the input's area, and about 2.3x for the float graph over int8
    # (docs/models.md). Each preset must cost more than the one before it.
    def cost(preset: str) -> float:
        detector = PRESETS[preset]["detector"]
        return float(detector["nanodet_size"]) ** 2 * (
            2.3 if detector["precision"] == "fp32" else 1
        )

    costs = [cost(p) for p in ("fast", "balanced", "accurate")]
    assert costs == sorted(costs) and len(set(costs)) == 3


def test_the_default_is_balanced_and_an_explicit_key_wins() -> None:
    default = AppConfig.model_validate({"cameras": [CAMERA]})
    assert default.preset == DEFAULT_PRESET == "balanced"
    assert default.detector.nanodet_size == PRESETS["balanced"]["detector"]["nanodet_size"]
    mine = AppConfig.model_validate(
        {"preset": "fast", "cameras": [CAMERA], "detector": {"nanodet_size": "416x416"}}
    )
    assert mine.detector.nanodet_size == (416, 416)
    assert mine.detector.model == "nanodet"  # the rest of the section keeps its defaults


def test_the_command_line_preset_reaches_the_config() -> None:
    config = config_from_options(
        "clip.mp4", [], None, "nanodet", "cpu", "bottom_center", preset="accurate"
    )
    assert config.preset == "accurate"
    assert config.detector.nanodet_size == PRESETS["accurate"]["detector"]["nanodet_size"]


def test_an_unknown_preset_in_yaml_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("cameras:\n  - source: {uri: clip.mp4}\npreset: turbo\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:3.*preset.*fast.*balanced.*accurate"):
        load_config(path)
