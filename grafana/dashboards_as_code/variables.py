"""Template variables: multi-value Prometheus label values, with All meaning any value."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from .queries import PROMETHEUS

# "All" means every value: a regex for Prometheus (=~) and InfluxQL (=~ /^...$/) alike.
ALL = ".*"
# The label matcher that filters a PromQL selector by `$camera`.
CAMERA = 'camera=~"$camera"'
REFRESH_ON_TIME_RANGE = model.VariableRefresh.ON_TIME_RANGE_CHANGED


def label_variable(name: str, label: str, query: str, description: str) -> dash.QueryVariable:
    """A multi-value variable of one Prometheus label's values, with All meaning any value."""
    return (
        dash.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(PROMETHEUS)
        .query(query)
        .refresh(REFRESH_ON_TIME_RANGE)
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(True)
        .include_all(True)
        .all_value(ALL)
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


def camera_variable() -> dash.QueryVariable:
    """`$camera`: the cameras aistack has counted frames for."""
    return label_variable(
        "camera",
        "Camera",
        "label_values(aistack_frames_total, camera)",
        "Cameras that aistack workers have counted frames for.",
    )
