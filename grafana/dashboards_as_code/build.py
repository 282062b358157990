"""Every dashboard, built: its file name, its JSON text and its optional panels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .board import Requirement
from .cameras import cameras
from .infrastructure import infrastructure
from .overview import overview


@dataclass(frozen=True)
class GeneratedDashboard:
    """One dashboard's file name, its JSON and the panels that need optional exporters."""

    filename: str
    content: dict[str, Any]
    requires: dict[int, Requirement]

    def text(self) -> str:
        """The file's content: sorted keys, two-space indent, a final newline."""
        return json.dumps(self.content, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_dashboards() -> list[GeneratedDashboard]:
    """Every dashboard, named after its uid without the `aistack-` prefix."""
    boards = [overview(), cameras(), infrastructure()]
    return [
        GeneratedDashboard(f"{b.uid.removeprefix('aistack-')}.json", b.to_json(), b.requires)
        for b in boards
    ]
