"""The panel kinds of these dashboards: time series graphs, single stats and tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from .queries import Target, numbered, single_datasource

PanelBuilder = TypeVar("PanelBuilder", timeseries.Panel, stat.Panel, table.Panel)


def _titled(
    panel: PanelBuilder,
    title: str,
    unit: str,
    targets: Sequence[Target],
    description: str,
    width: int,
    height: int,
) -> PanelBuilder:
    """What every panel kind sets alike: title, description, unit, queries and size."""
    return (
        panel.title(title)
        .description(description)
        .unit(unit)
        .datasource(single_datasource(targets))
        .targets(numbered(targets))
        .span(width)
        .height(height)
    )


def graph(
    title: str,
    unit: str,
    targets: Sequence[Target],
    description: str,
    *,
    width: int = 12,
    height: int = 8,
    bars: bool = False,
    max_value: float | None = None,
    thresholds: Sequence[tuple[float, str]] = (),
) -> timeseries.Panel:
    """A time series graph: lines, or `bars`, with optional range and dashed thresholds."""
    panel = (
        _titled(timeseries.Panel(), title, unit, targets, description, width, height)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
    )
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    if max_value is not None:
        panel = panel.min(0).max(max_value)
    if thresholds:
        panel = panel.thresholds(_thresholds(thresholds)).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
    return panel


def single(
    title: str,
    unit: str,
    targets: Sequence[Target],
    description: str,
    *,
    width: int = 6,
    height: int = 4,
    mappings: Sequence[model.ValueMapping] = (),
    thresholds: Sequence[tuple[float, str]] = (),
) -> stat.Panel:
    """A single stat of the last value, with optional value mappings and coloured thresholds."""
    panel = (
        _titled(stat.Panel(), title, unit, targets, description, width, height)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if mappings:
        panel = panel.mappings(list(mappings))
    if thresholds:
        panel = panel.thresholds(_thresholds(thresholds)).color_mode(
            common.BigValueColorMode.BACKGROUND
        )
    return panel


def grid(
    title: str, unit: str, targets: Sequence[Target], description: str, *, width: int = 8
) -> table.Panel:
    """A table of the targets' results."""
    return _titled(table.Panel(), title, unit, targets, description, width, 8)


def _thresholds(steps: Sequence[tuple[float, str]]) -> dash.ThresholdsConfig:
    """Absolute thresholds: green below the first, then each (value, colour) step."""
    # The first step has no value: it is the colour below the first threshold.
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [model.Threshold(value=None, color="green")]
            + [model.Threshold(value=value, color=color) for value, color in steps]
        )
    )
