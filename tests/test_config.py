"""Strict YAML config: every mistake names its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from aistack.classes import resolve_classes
from aistack.config import AppConfig, load_config, parse_config, source_kind
from aistack.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
cameras:
  - name: lobby
    source:
      uri: clip.mp4
    lines:
      - name: door
        points: [0, 0.5, 1, 0.5]
detector:
  classes: [traffic]
"""


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "exp.yaml")
    return str(caught.value)


def test_a_good_config_loads_with_defaults() -> None:
    config = parse_config(GOOD, "exp.yaml")
    assert config.cameras[0].lines[0].points == (0, 0.5, 1, 0.5)
    assert config.detector.classes == ["car", "bus", "truck", "motorcycle", "bicycle"]
    assert config.detector.type == "onnx" and config.tracker.type == "ocsort"


def test_unknown_key_names_file_line_and_allowed_keys() -> None:
    message = _error(GOOD.replace("    lines:", "    linez:"))
    assert message.startswith("exp.yaml:5: cameras[0].linez: unknown key 'linez'")
    assert "allowed: classes, lines, name, source, zones" in message


def test_wrong_type_names_the_line_of_the_value() -> None:
    message = _error(GOOD + "  confidence: lots\n")
    assert message.startswith("exp.yaml:10: detector.confidence:")


def test_out_of_range_value() -> None:
    assert "detector.confidence: Input should be less than 1" in _error(GOOD + "  confidence: 2\n")


def test_unknown_class_is_explained() -> None:
    message = _error(GOOD.replace("[traffic]", "[traffik]"))
    assert message.startswith("exp.yaml:9: detector.classes:")
    assert "unknown class 'traffik'" in message and "people" in message


def test_malformed_line_points() -> None:
    message = _error(GOOD.replace("[0, 0.5, 1, 0.5]", "[0, 0.5, 1]"))
    assert message.startswith("exp.yaml:7: cameras[0].lines[0].points")


def test_degenerate_line_and_duplicate_names() -> None:
    assert "two different points" in _error(GOOD.replace("[0, 0.5, 1, 0.5]", "[1, 1, 1, 1]"))
    twice = GOOD.replace("detector:", "      - name: door\n        points: [0, 0, 1, 1]\ndetector:")
    assert "repeated: ['door']" in _error(twice)


def test_broken_yaml_gives_its_line() -> None:
    assert _error("cameras:\n  - name: [unclosed\n").startswith("exp.yaml:3: not valid YAML")


def test_empty_and_missing_files(tmp_path: Path) -> None:
    assert "empty" in _error("")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_example_configs_in_experiments_are_valid() -> None:
    configs = sorted((REPO / "experiments").glob("*.yaml"))
    assert configs, "experiments/ should hold example configs"
    for path in configs:
        assert isinstance(load_config(path), AppConfig)


def test_presets_and_aliases() -> None:
    assert resolve_classes(["people", "motorbike", "car", "person"]) == [
        "person", "motorcycle", "car",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("uri", "kind"),
    [("rtsp://h/x", "rtsp"), ("https://h/x.mjpg", "http"), ("0", "webcam"), ("a.mp4", "file")],
)
def test_source_kind(uri: str, kind: str) -> None:
    assert source_kind(uri) == kind
