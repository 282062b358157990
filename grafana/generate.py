"""Grafana dashboards as code: `python grafana/generate.py` writes grafana/dashboards/*.json.

Built with grafana-foundation-sdk (Grafana's own typed builders, the 11.4 build to match the
Grafana image of stack/docker-compose.yml). The SDK has no InfluxDB query type, so
`InfluxQL` below adds one. `python grafana/generate.py --check` exits 1 when the committed
JSON differs from what this file builds.

Panels whose data only exists on some hosts name it in `requires` ("gpu": a worker with an
NVIDIA GPU, "cadvisor", "dcgm": dcgm-exporter); tests/test_grafana_dashboards.py runs every
other panel's queries against a real Prometheus and InfluxDB and skips these with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, text, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.text import TextMode

OUT_DIR = Path(__file__).resolve().parent / "dashboards"

Requirement = Literal["gpu", "cadvisor", "dcgm"]
REQUIREMENT_NOTES: dict[Requirement, str] = {
    "gpu": "Needs a worker with an NVIDIA GPU (aistack_gpu_* from NVML); empty on CPU hosts.",
    "cadvisor": "Needs cAdvisor (the compose stack runs it); empty without it.",
    "dcgm": "Needs NVIDIA dcgm-exporter on GPU hosts (stack/prometheus/targets/dcgm/).",
}

PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid="prometheus")
INFLUXDB = model.DataSourceRef(type_val="influxdb", uid="influxdb")
LIVE_VIEW_PORT = 8090  # LiveView's default port, published by the compose stack

# "All" means every value: a regex for Prometheus (=~) and InfluxQL (=~ /^...$/) alike.
ALL = ".*"
CAMERA = 'camera=~"$camera"'
REFRESH_ON_TIME_RANGE = model.VariableRefresh.ON_TIME_RANGE_CHANGED
# Only interval variables use these; the SDK writes them on every variable, and Grafana's
# TypeScript schema (grafana/schema/dashboard.schema.json) does not allow them elsewhere.
_INTERVAL_ONLY_KEYS = ("auto", "auto_count", "auto_min")


@dataclass
class InfluxQLQuery(cogvariants.Dataquery):
    """One raw InfluxQL query of Grafana's InfluxDB data source."""

    ref_id: str = ""
    query: str = ""
    alias: str | None = None
    result_format: Literal["time_series", "table"] = "time_series"
    datasource: model.DataSourceRef = field(default_factory=lambda: INFLUXDB)

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": self.datasource,
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        return payload


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Builder for `InfluxQLQuery`, in the style of the SDK's `prometheus.Dataquery`."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(query=query)

    def build(self) -> InfluxQLQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self

    def table(self) -> Self:
        self._internal.result_format = "table"
        return self


Target = prometheus.Dataquery | InfluxQL


def promql(expr: str, legend: str | None = None, *, instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(PROMETHEUS)
    if legend is not None:
        query = query.legend_format(legend)
    return query.instant() if instant else query.range()


def influxql(query: str, alias: str | None = None, *, as_table: bool = False) -> InfluxQL:
    built = InfluxQL(" ".join(query.split()))
    if alias is not None:
        built = built.alias(alias)
    return built.table() if as_table else built


def _numbered(targets: Sequence[Target]) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    """Targets with refIds A, B, ... (the SDK leaves them empty)."""
    numbered: list[cogbuilder.Builder[cogvariants.Dataquery]] = []
    for index, target in enumerate(targets):
        numbered.append(target.ref_id(chr(ord("A") + index)))
    return numbered


def _datasource(targets: Sequence[Target]) -> model.DataSourceRef:
    """The one data source of a panel's targets; Grafana's panel-level datasource."""
    sources = [target.build().datasource for target in targets]
    first = sources[0]
    if first is None or any(s is None or s.uid != first.uid for s in sources):
        raise ValueError("a panel's targets must all name one data source")
    return first


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
        self.builder.with_row(dash.Row(title).id(self._id()))

    def add(
        self, panel: cogbuilder.Builder[model.Panel], requires: Requirement | None = None
    ) -> None:
        panel_id = self._id()
        if requires is not None:
            self.requires[panel_id] = requires
        self.builder.with_panel(_Placed(panel, panel_id, requires))

    def variable(self, variable: cogbuilder.Builder[model.VariableModel]) -> None:
        self.builder.with_variable(variable)

    def to_json(self) -> dict[str, Any]:
        encoded: dict[str, Any] = json.loads(json.dumps(self.builder.build(), cls=JSONEncoder))
        for variable in encoded.get("templating", {}).get("list", []):
            if variable.get("type") != "interval":
                for key in _INTERVAL_ONLY_KEYS:
                    variable.pop(key, None)
        return encoded


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
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(_datasource(targets))
        .targets(_numbered(targets))
        .span(width)
        .height(height)
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
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(_datasource(targets))
        .targets(_numbered(targets))
        .span(width)
        .height(height)
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
    return (
        table.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(_datasource(targets))
        .targets(_numbered(targets))
        .span(width)
        .height(8)
    )


def _thresholds(steps: Sequence[tuple[float, str]]) -> dash.ThresholdsConfig:
    # The first step has no value: it is the colour below the first threshold.
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [model.Threshold(value=None, color="green")]
            + [model.Threshold(value=value, color=color) for value, color in steps]
        )
    )


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
    return label_variable(
        "camera",
        "Camera",
        "label_values(aistack_frames_total, camera)",
        "Cameras that aistack workers have counted frames for.",
    )


# --- Overview -----------------------------------------------------------------------------

INFLUX_CROSSINGS = """
SELECT count("track_id") FROM "aistack_events"
WHERE "kind" = 'crossing' AND "camera" =~ /^$camera$/ AND "line" =~ /^$line$/ AND $timeFilter
"""


def overview() -> Board:
    board = Board(
        "aistack-overview",
        "aistack / Overview",
        "Counts per line, class and direction from InfluxDB events and from Prometheus "
        "metrics, and how the pipeline keeps up.",
    )
    board.variable(camera_variable())
    board.variable(
        label_variable(
            "line",
            "Line",
            'label_values(aistack_objects_crossed_total{camera=~"$camera"}, line)',
            "Counting lines of the selected cameras that have counted a crossing.",
        )
    )
    line = f'{CAMERA}, line=~"$line"'

    board.row("At a glance")
    board.add(
        single(
            "Cameras up",
            "none",
            [promql(f"sum(aistack_camera_up{{{CAMERA}}})", instant=True)],
            "Cameras that deliver frames now (aistack_camera_up).",
        )
    )
    board.add(
        single(
            "Crossings per minute",
            "cpm",
            [promql(f"sum(line:aistack_objects_crossed:per_minute5m{{{line}}})")],
            "All selected lines, classes and directions; 5-minute rate.",
        )
    )
    board.add(
        single(
            "Crossings in range (InfluxDB)",
            "short",
            [influxql(INFLUX_CROSSINGS)],
            "Crossing events stored in InfluxDB in the dashboard's time range.",
        )
    )
    board.add(
        single(
            "Inference p95",
            "s",
            [promql("max(model:aistack_inference_seconds:p95_5m)")],
            "Slowest worker's 95th percentile of detector time per batch, 5-minute window.",
            thresholds=[(0.25, "orange"), (0.5, "red")],
        )
    )

    board.row("Counts from events (InfluxDB)")
    board.add(
        graph(
            "Crossings per line, class and direction (InfluxDB)",
            "short",
            [
                influxql(
                    INFLUX_CROSSINGS
                    + 'GROUP BY time($__interval), "camera", "line", "class", "direction" fill(0)',
                    "$tag_camera / $tag_line: $tag_class $tag_direction",
                )
            ],
            "Crossing events per interval, counted from the aistack_events measurement.",
            width=16,
            bars=True,
        )
    )
    board.add(
        grid(
            "Crossings in range by line (InfluxDB)",
            "short",
            [
                influxql(
                    INFLUX_CROSSINGS + 'GROUP BY "camera", "line", "class", "direction"',
                    as_table=True,
                )
            ],
            "Totals over the dashboard's time range.",
        )
    )
    board.add(
        graph(
            "Zone entries and exits (InfluxDB)",
            "short",
            [
                influxql(
                    """
                    SELECT count("track_id") FROM "aistack_events"
                    WHERE "kind" =~ /^(enter|exit)$/ AND "camera" =~ /^$camera$/ AND $timeFilter
                    GROUP BY time($__interval), "camera", "line", "class", "kind" fill(0)
                    """,
                    "$tag_camera / $tag_line: $tag_class $tag_kind",
                )
            ],
            "Zone events per interval; the line tag holds the zone's name.",
            width=24,
            bars=True,
        )
    )

    board.row("Counts from metrics (Prometheus)")
    board.add(
        graph(
            "Crossings per line, class and direction (Prometheus)",
            "short",
            [
                promql(
                    "sum by (camera, line, class, direction) "
                    f"(increase(aistack_objects_crossed_total{{{line}}}[$__rate_interval]))",
                    "{{camera}} / {{line}}: {{class}} {{direction}}",
                )
            ],
            "Increase of aistack_objects_crossed_total over each rate interval.",
            bars=True,
        )
    )
    board.add(
        graph(
            "Crossings per minute",
            "cpm",
            [
                promql(
                    "sum by (camera, line, direction) "
                    f"(line:aistack_objects_crossed:per_minute5m{{{line}}})",
                    "{{camera}} / {{line}} {{direction}}",
                )
            ],
            "Recording rule line:aistack_objects_crossed:per_minute5m, all classes.",
        )
    )
    board.add(
        graph(
            "Zone occupancy",
            "short",
            [
                promql(
                    f"sum by (camera, zone, class) (aistack_zone_occupancy{{{CAMERA}}})",
                    "{{camera}} / {{zone}}: {{class}}",
                )
            ],
            "Objects inside each zone now.",
        )
    )
    board.add(
        graph(
            "Zone entries per minute",
            "cpm",
            [
                promql(
                    "sum by (camera, zone, class) "
                    f"(zone:aistack_zone_entries:per_minute5m{{{CAMERA}}})",
                    "{{camera}} / {{zone}}: {{class}}",
                )
            ],
            "Recording rule zone:aistack_zone_entries:per_minute5m.",
        )
    )

    board.row("Pipeline")
    board.add(
        graph(
            "Frames per second per camera",
            "fps",
            [
                promql(
                    f"sum by (camera) (camera:aistack_frames:rate1m{{{CAMERA}}})",
                    "{{camera}}",
                )
            ],
            "Frames counted per second: the fps counting really gets (LowFPS fires under 5).",
            thresholds=[(5, "transparent")],
        )
    )
    board.add(
        graph(
            "Inference latency p95",
            "s",
            [
                promql(
                    "max by (instance, model) (model:aistack_inference_seconds:p95_5m)",
                    "{{instance}} {{model}}",
                )
            ],
            "95th percentile of detector time per batch (HighInferenceLatency fires over 0.5 s).",
            thresholds=[(0.5, "red")],
        )
    )
    return board


# --- Cameras ------------------------------------------------------------------------------

LIVE_VIEW_HTML = (
    '<img src="http://${live_view_host}:'
    + str(LIVE_VIEW_PORT)
    + '/cameras/${camera:percentencode}.mjpg"'
    ' alt="live view of ${camera}" style="width:100%;height:100%;object-fit:contain">'
)


def cameras() -> Board:
    board = Board(
        "aistack-cameras",
        "aistack / Cameras",
        "Per-camera health and the live annotated view of each camera.",
    )
    board.variable(camera_variable())
    board.variable(
        dash.TextBoxVariable("live_view_host")
        .label("Live view host")
        .description(
            "Host name of the aistack worker's live view as your browser reaches it "
            f"(port {LIVE_VIEW_PORT}); the images load in the browser, not in Grafana."
        )
        .default_value("localhost")
    )
    up = [
        model.ValueMap(
            options={
                "0": model.ValueMappingResult(text="Down", color="red", index=0),
                "1": model.ValueMappingResult(text="Up", color="green", index=1),
            }
        )
    ]

    board.row("Health")
    board.add(
        single(
            "Camera up",
            "none",
            [
                promql(
                    f"max by (camera) (aistack_camera_up{{{CAMERA}}})", "{{camera}}", instant=True
                )
            ],
            "1 while the camera delivers frames; aistack reconnects with backoff while it is down.",
            width=8,
            height=8,
            mappings=up,
            thresholds=[(1, "green")],
        )
    )
    board.add(
        graph(
            "Last frame age",
            "s",
            [promql(f"max by (camera) (aistack_last_frame_age_seconds{{{CAMERA}}})", "{{camera}}")],
            "How far counting lags the camera (StaleFrames fires over 2 s).",
            width=8,
            thresholds=[(2, "red")],
        )
    )
    board.add(
        graph(
            "Frames per second",
            "fps",
            [promql(f"sum by (camera) (camera:aistack_frames:rate1m{{{CAMERA}}})", "{{camera}}")],
            "Frames counted per second (LowFPS fires under 5).",
            width=8,
        )
    )
    board.add(
        graph(
            "Dropped frames",
            "fps",
            [
                promql(
                    # A camera that never dropped a frame has no dropped counter yet: show 0.
                    "sum by (camera) "
                    f"(rate(aistack_frames_dropped_total{{{CAMERA}}}[$__rate_interval]))"
                    " or sum by (camera) "
                    f"(0 * rate(aistack_frames_total{{{CAMERA}}}[$__rate_interval]))",
                    "{{camera}}",
                )
            ],
            "Frames read but skipped per second to stay real time: the worker cannot keep up.",
            width=8,
        )
    )
    board.add(
        graph(
            "Reconnects",
            "short",
            [
                promql(
                    "sum by (camera) "
                    f"(increase(aistack_reconnects_total{{{CAMERA}}}[$__rate_interval]))",
                    "{{camera}}",
                )
            ],
            "Reconnect attempts after the stream failed.",
            width=8,
            bars=True,
        )
    )
    board.add(
        graph(
            "Decode errors",
            "short",
            [
                promql(
                    "sum by (camera) "
                    f"(increase(aistack_decode_errors_total{{{CAMERA}}}[$__rate_interval]))",
                    "{{camera}}",
                )
            ],
            "Reads that failed to decode; each one is followed by a reconnect.",
            width=8,
            bars=True,
        )
    )
    board.add(
        graph(
            "End-to-end latency p95",
            "s",
            [
                promql(
                    "max by (camera) "
                    f"(camera:aistack_end_to_end_latency_seconds:p95_5m{{{CAMERA}}})",
                    "{{camera}}",
                )
            ],
            "Capture to counted, 95th percentile over 5 minutes (live and natively paced "
            "sources only).",
            width=24,
        )
    )

    board.row("Live view")
    board.add(
        text.Panel()
        .title("Live view: ${camera}")
        .description(
            "Annotated MJPEG stream from the worker's live view (live_view.enabled in its "
            "config); set the live view host above."
        )
        .mode(TextMode.HTML)
        .content(LIVE_VIEW_HTML)
        .repeat("camera")
        .repeat_direction("h")
        .max_per_row(2)
        .span(12)
        .height(12)
    )
    return board


# --- Infrastructure -----------------------------------------------------------------------

NODE = 'instance=~"$instance"'
FILESYSTEMS = f'{NODE}, fstype!~"tmpfs|ramfs"'


def infrastructure() -> Board:
    board = Board(
        "aistack-infrastructure",
        "aistack / Infrastructure",
        "Hosts (node-exporter), containers (cAdvisor) and GPUs (aistack's NVML gauges and "
        "dcgm-exporter).",
    )
    board.variable(
        label_variable(
            "instance",
            "Host",
            "label_values(node_uname_info, instance)",
            "node-exporter targets.",
        )
    )

    board.row("Hosts (node-exporter)")
    board.add(
        graph(
            "CPU busy",
            "percentunit",
            [
                promql(
                    "1 - avg by (instance) "
                    f'(rate(node_cpu_seconds_total{{mode="idle", {NODE}}}[$__rate_interval]))',
                    "{{instance}}",
                )
            ],
            "Share of CPU time not idle, all cores.",
            width=8,
            max_value=1,
        )
    )
    board.add(
        graph(
            "Memory used",
            "percentunit",
            [
                promql(
                    f"1 - node_memory_MemAvailable_bytes{{{NODE}}}"
                    f" / node_memory_MemTotal_bytes{{{NODE}}}",
                    "{{instance}}",
                )
            ],
            "Share of memory not available to new processes.",
            width=8,
            max_value=1,
        )
    )
    board.add(
        graph(
            "Disk space used",
            "percentunit",
            [
                promql(
                    f"1 - node_filesystem_avail_bytes{{{FILESYSTEMS}}}"
                    f" / node_filesystem_size_bytes{{{FILESYSTEMS}}}",
                    "{{instance}} {{mountpoint}}",
                )
            ],
            "Per filesystem (NodeDiskFull fires over 90 %).",
            width=8,
            max_value=1,
            thresholds=[(0.9, "red")],
        )
    )
    board.add(
        graph(
            "Load average (1 min)",
            "short",
            [promql(f"node_load1{{{NODE}}}", "{{instance}}")],
            "Runnable and waiting processes; compare with the number of cores.",
            width=8,
        )
    )
    board.add(
        graph(
            "Disk I/O",
            "Bps",
            [
                promql(
                    "sum by (instance) "
                    f"(rate(node_disk_read_bytes_total{{{NODE}}}[$__rate_interval]))",
                    "{{instance}} read",
                ),
                promql(
                    "sum by (instance) "
                    f"(rate(node_disk_written_bytes_total{{{NODE}}}[$__rate_interval]))",
                    "{{instance}} written",
                ),
            ],
            "Bytes read and written per second, all disks.",
            width=8,
        )
    )
    board.add(
        graph(
            "Network",
            "Bps",
            [
                promql(
                    "sum by (instance, device) (rate(node_network_receive_bytes_total"
                    f'{{{NODE}, device!="lo"}}[$__rate_interval]))',
                    "{{instance}} {{device}} received",
                ),
                promql(
                    "sum by (instance, device) (rate(node_network_transmit_bytes_total"
                    f'{{{NODE}, device!="lo"}}[$__rate_interval]))',
                    "{{instance}} {{device}} sent",
                ),
            ],
            "Bytes per second per interface, loopback excluded.",
            width=8,
        )
    )

    board.row("Containers (cAdvisor)")
    board.add(
        graph(
            "Container CPU",
            "percentunit",
            [
                promql(
                    'sum by (name) (rate(container_cpu_usage_seconds_total{name!=""}'
                    "[$__rate_interval]))",
                    "{{name}}",
                )
            ],
            "CPU per container; 100 % is one core.",
        ),
        requires="cadvisor",
    )
    board.add(
        graph(
            "Container memory",
            "bytes",
            [promql('sum by (name) (container_memory_working_set_bytes{name!=""})', "{{name}}")],
            "Working set per container (what the OOM killer looks at).",
        ),
        requires="cadvisor",
    )

    gpu = "{{instance}} GPU {{gpu}} {{name}}"
    board.row("GPUs (aistack workers, NVML)")
    for title, unit, expr, description in (
        ("GPU utilisation", "percent", "aistack_gpu_utilization_percent", "Time a kernel ran."),
        (
            "GPU memory used",
            "percentunit",
            "aistack_gpu_memory_used_bytes / aistack_gpu_memory_total_bytes",
            "Share of GPU memory in use, all processes (GPUMemoryFull fires over 95 %).",
        ),
        (
            "GPU temperature",
            "celsius",
            "aistack_gpu_temperature_celsius",
            "Core temperature (GPUHot fires over 85 °C).",
        ),
        ("GPU power", "watt", "aistack_gpu_power_watts", "Board power draw."),
    ):
        board.add(
            graph(title, unit, [promql(expr, gpu)], description, width=6),
            requires="gpu",
        )

    dcgm = "{{instance}} GPU {{gpu}} {{modelName}}"
    board.row("GPUs (dcgm-exporter)")
    for title, unit, expr, description in (
        ("DCGM GPU utilisation", "percent", "DCGM_FI_DEV_GPU_UTIL", "Time a kernel ran."),
        (
            "DCGM GPU memory used",
            "percentunit",
            "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)",
            "Share of frame buffer memory in use.",
        ),
        ("DCGM GPU temperature", "celsius", "DCGM_FI_DEV_GPU_TEMP", "Core temperature."),
        ("DCGM GPU power", "watt", "DCGM_FI_DEV_POWER_USAGE", "Board power draw."),
    ):
        board.add(
            graph(title, unit, [promql(expr, dcgm)], description, width=6),
            requires="dcgm",
        )
    return board


# --- Output -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratedDashboard:
    """One dashboard's file name, its JSON and the panels that need optional exporters."""

    filename: str
    content: dict[str, Any]
    requires: dict[int, Requirement]

    def text(self) -> str:
        return json.dumps(self.content, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_dashboards() -> list[GeneratedDashboard]:
    boards = [overview(), cameras(), infrastructure()]
    return [
        GeneratedDashboard(f"{b.uid.removeprefix('aistack-')}.json", b.to_json(), b.requires)
        for b in boards
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the JSON files")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is out of date"
    )
    args = parser.parse_args(argv)
    stale = []
    for generated in build_dashboards():
        path: Path = args.out / generated.filename
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != generated.text():
                stale.append(path)
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(generated.text(), encoding="utf-8")
        print(f"wrote {path}")
    for path in stale:
        print(f"{path} is out of date: run python grafana/generate.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
