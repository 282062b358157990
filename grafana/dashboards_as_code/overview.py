"""aistack / Overview: counts per line, class and direction, and how the pipeline keeps up."""

from __future__ import annotations

from .board import Board
from .panels import graph, grid, single
from .queries import influxql, promql
from .variables import CAMERA, camera_variable, label_variable

INFLUX_CROSSINGS = """
SELECT count("track_id") FROM "aistack_events"
WHERE "kind" = 'crossing' AND "camera" =~ /^$camera$/ AND "line" =~ /^$line$/ AND $timeFilter
"""


def overview() -> Board:
    """The overview dashboard, filtered by `$camera` and `$line`."""
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
