"""aistack / Cameras: per-camera health and the live annotated view of each camera."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import text
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.text import TextMode

from .board import Board
from .panels import graph, single
from .queries import promql
from .variables import CAMERA, camera_variable

LIVE_VIEW_PORT = 8090  # LiveView's default port, published by the compose stack

# One image per selected camera, loaded by the browser from the worker's live view.
LIVE_VIEW_HTML = (
    '<img src="http://${live_view_host}:'
    + str(LIVE_VIEW_PORT)
    + '/cameras/${camera:percentencode}.mjpg"'
    ' alt="live view of ${camera}" style="width:100%;height:100%;object-fit:contain">'
)


def cameras() -> Board:
    """The cameras dashboard, filtered by `$camera`; the live view repeats per camera."""
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
