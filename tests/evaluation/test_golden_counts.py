"""Golden videos: the real detector, tracker and counter must give the exact true counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from aistack.config import AppConfig
from aistack.pipeline.wiring import Pipeline
from tests.golden.generate import SCENARIOS, GoldenClip, generate
from tests.golden.sprites import SpriteUnavailableError


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("golden")


def _clip(name: str, out_dir: Path) -> GoldenClip:
    try:
        return generate(SCENARIOS[name], out_dir)
    except SpriteUnavailableError as error:
        pytest.skip(str(error))


# CenterNet at 544 (`accurate`) scores a person cut by the frame edge lower than NanoDet
# (0.26 where NanoDet gives 0.57 at 23 px visible), so in `edge_enter_exit` the man
# entering at the left edge just above the line is tracked only from inside the band,
# already crossing, and is not counted (docs/models.md, *CenterNet*).
# Strict: it fails loudly once it counts.
EDGE_ENTRY_MISSED = pytest.mark.xfail(
    strict=True, reason="accurate (CenterNet) starts the edge-entering track too late"
)


# Every preset's detector must keep the golden counts exact: `balanced` is the default
# (NanoDet 544 int8), `fast` NanoDet 416 int8, `accurate` CenterNet 544.
@pytest.mark.parametrize(
    ("name", "preset"),
    [(name, preset) for preset in ("fast", "balanced") for name in sorted(SCENARIOS)]
    + [
        pytest.param(name, "accurate", marks=EDGE_ENTRY_MISSED)
        if name == "edge_enter_exit"
        else (name, "accurate")
        for name in sorted(SCENARIOS)
    ],
)
def test_counts_equal_the_truth(name: str, preset: str, golden_dir: Path) -> None:
    clip = _clip(name, golden_dir)
    scenario = clip.scenario
    classes = sorted({obj.class_name for obj in scenario.objects})
    config = AppConfig.model_validate(
        {
            "preset": preset,
            "cameras": [
                {
                    "name": name,
                    "source": {"uri": str(clip.video)},
                    "lines": [{"name": "line", "points": list(scenario.line)}],
                }
            ],
            "detector": {"classes": ["people", "traffic"]},
            "metrics": {"enabled": False},
        }
    )
    summary = Pipeline(config, pace="unpaced").run()
    (line,) = summary.cameras[0].lines
    assert (line.total_in, line.total_out) == (scenario.expected_in, scenario.expected_out), (
        f"{name}: counted in={line.total_in} out={line.total_out}, truth in="
        f"{scenario.expected_in} out={scenario.expected_out}; by class {line.by_class()}"
    )
    assert set(line.by_class()) <= set(classes), line.by_class()
