"""The aistack Grafana dashboards, built with grafana-foundation-sdk.

grafana-foundation-sdk is Grafana's own typed builders, the 11.4 build to match the Grafana
image of stack/docker-compose.yml. One module per dashboard (`overview`, `cameras`,
`infrastructure`) on shared parts: `queries` (data sources, PromQL and InfluxQL), `panels`,
`variables` and `board` (panel ids and requirements); `build` turns them into JSON.

Panels whose data only exists on some hosts name it in `requires` ("gpu": a worker with an
NVIDIA GPU, "cadvisor", "dcgm": dcgm-exporter); tests/stack/test_grafana_dashboards.py runs every
other panel's queries against a real Prometheus and InfluxDB and skips these with the reason.
"""

from .board import REQUIREMENT_NOTES, Requirement
from .build import GeneratedDashboard, build_dashboards
from .cameras import LIVE_VIEW_PORT
from .variables import ALL

__all__ = [
    "ALL",
    "LIVE_VIEW_PORT",
    "REQUIREMENT_NOTES",
    "GeneratedDashboard",
    "Requirement",
    "build_dashboards",
]
