"""A dashboard under construction: its panels' ids, rows, variables and requirements."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

Requirement = Literal["gpu", "cadvisor", "dcgm"]
REQUIREMENT_NOTES: dict[Requirement, str] = {
    "gpu": "Needs a worker with an NVIDIA GPU (aistack_gpu_* from NVML); empty on CPU hosts.",
    "cadvisor": "Needs cAdvisor (the compose stack runs it); empty without it.",
    "dcgm": "Needs NVIDIA dcgm-exporter on GPU hosts (stack/prometheus/targets/dcgm/).",
}

# Only interval variables use these; the SDK writes them on every variable, and Grafana's
# TypeScript schema (grafana/schema/dashboard.schema.json) does not allow them elsewhere.
_INTERVAL_ONLY_KEYS = ("auto", "auto_count", "auto_min")


class _Placed(cogbuilder.Builder[model.Panel]):
    """A panel builder with the dashboard's next panel id, and its requirement noted."""

    def __init__(
        self, inner: cogbuilder.Builder[model.Panel], panel_id: int, requires: Requirement | None
    ) -> None:
        self.inner = inner
        self.panel_id = panel_id
        self.requires = requires

    def build(self) -> model.Panel:
        built = self.inner.build()
        built.id_val = self.panel_id
        if self.requires is not None:
            note = REQUIREMENT_NOTES[self.requires]
            built.description = f"{built.description} {note}" if built.description else note
        return built


@dataclass
class Board:
    """One dashboard: the SDK builder plus the ids and requirements of its panels."""

    uid: str
    title: str
    description: str
    builder: dash.Dashboard = field(init=False)
    requires: dict[int, Requirement] = field(default_factory=dict)
    _next_id: int = 1

    def __post_init__(self) -> None:
        self.builder = (
            dash.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(["aistack"])
            .editable()
            .time("now-1h", "now")
            .refresh("30s")
            .timezone("browser")
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .link(
                dash.DashboardLink("aistack")
                .type(model.DashboardLinkType.DASHBOARDS)
                .tags(["aistack"])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def row(self, title: str) -> None:
        """Start a row: the panels added next go under it."""
        self.builder.with_row(dash.Row(title).id(self._id()))

    def add(
        self, panel: cogbuilder.Builder[model.Panel], requires: Requirement | None = None
    ) -> None:
        """Add a panel with the next id; `requires` names the exporter its data needs."""
        panel_id = self._id()
        if requires is not None:
            self.requires[panel_id] = requires
        self.builder.with_panel(_Placed(panel, panel_id, requires))

    def variable(self, variable: cogbuilder.Builder[model.VariableModel]) -> None:
        """Add a template variable."""
        self.builder.with_variable(variable)

    def to_json(self) -> dict[str, Any]:
        """The dashboard's JSON model, as Grafana's schema accepts it."""
        encoded: dict[str, Any] = json.loads(json.dumps(self.builder.build(), cls=JSONEncoder))
        for variable in encoded.get("templating", {}).get("list", []):
            if variable.get("type") != "interval":
                for key in _INTERVAL_ONLY_KEYS:
                    variable.pop(key, None)
        return encoded
