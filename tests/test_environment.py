"""environment.yml is a valid conda spec whose packages match pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# conda-forge spells some PyPI names differently.
CONDA_NAMES = {"prometheus_client": "prometheus-client", "types-pyyaml": "types-PyYAML"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0]


def _spec(requirement: str) -> str:
    return requirement.strip()[len(_name(requirement)) :].replace(" ", "")


def _environment() -> dict[str, str]:
    data = yaml.safe_load((REPO / "environment.yml").read_text())
    assert data["name"] == "aistack"
    assert "conda-forge" in data["channels"]
    packages: dict[str, str] = {}
    for entry in data["dependencies"]:
        items = entry["pip"] if isinstance(entry, dict) else [entry]
        for item in items:
            if item.startswith("-e"):
                continue
            name = CONDA_NAMES.get(_name(item), _name(item))
            packages[name.lower()] = _spec(item)
    return packages


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {_name(r).lower(): _spec(r) for r in requirements}


def test_environment_lists_every_pyproject_requirement_with_the_same_bounds() -> None:
    environment, pyproject = _environment(), _pyproject()
    missing = sorted(set(pyproject) - set(environment))
    assert not missing, f"environment.yml lacks {missing}"
    differing = {
        n: (pyproject[n], environment[n]) for n in pyproject if pyproject[n] != environment[n]
    }
    assert not differing, f"version bounds differ (pyproject, environment.yml): {differing}"


def test_environment_has_no_packages_pyproject_does_not_know() -> None:
    system = {"python", "pip", "ffmpeg", "gstreamer", "gst-libav"} | {
        f"gst-plugins-{kind}" for kind in ("base", "good", "bad", "ugly")
    }
    extra = sorted(set(_environment()) - set(_pyproject()) - system)
    assert not extra, f"environment.yml has packages missing from pyproject.toml: {extra}"


def test_environment_pins_the_python_pyproject_requires() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "python=3.11" in yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
