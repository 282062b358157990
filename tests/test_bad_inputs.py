"""Bad and odd inputs to every command, as a new user types them: one clear error line each.

Every case runs the real CLI in a subprocess and checks the promise of `aistack.errors`:
exit code 2, exactly one `aistack: error: ...` line on stderr (after any progress bar, and
with no INFO or OpenCV lines before it), no traceback, nothing on stdout, the field, option
or path named, and no credential from a URL anywhere in the output (issue #17).

The cases run side by side (a few subprocesses at a time) as soon as the module starts, so
the table stays quick on a small machine; each test then checks its own case's result.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from aistack.config import parse_config
from aistack.errors import SourceError
from tests.servers import free_port, require_service

REPO = Path(__file__).resolve().parents[1]
SECRET = "fake-s3cret"  # the password in every URL with credentials; it must never be printed
PARALLEL = 3


@dataclass(frozen=True)
class Case:
    """One command line; `<token>`s are replaced (see `_Inputs.expand`), `files` are written
    into the case's own folder first."""

    id: str
    args: tuple[str, ...]
    fragments: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    needs: str | None = None  # "rtsp": the GStreamer emulator


def case(
    id: str,
    *args: str,
    says: tuple[str, ...] = (),
    files: dict[str, str] | None = None,
    needs: str | None = None,
) -> Case:
    return Case(id, args, says, files or {}, needs)


def run_config(id: str, yaml: str, *says: str) -> Case:
    """`aistack run` on a config whose text is `yaml` (with tokens), as <tmp>/c.yaml."""
    return Case(id, ("run", "<tmp>/c.yaml"), says, {"c.yaml": yaml})


def camera(extra: str = "", uri: str = "<clip>", cameras: str = "") -> str:
    """A config with camera `a` on `uri` (and `cameras` before it), its store in the case
    folder and metrics on: `extra` goes into the camera, after its source."""
    return (
        f"cameras:\n{cameras}  - name: a\n    source: {{uri: '{uri}'}}\n{extra}"
        "store: {path: '<tmp>/s.sqlite'}\nmetrics: {port: <port>}\n"
    )


def line(points: str, name: str = "door") -> str:
    return f"    lines:\n      - {{name: '{name}', points: [{points}]}}\n"


def zone(polygon: str, name: str = "far") -> str:
    return f"    zones:\n      - {{name: {name}, polygon: {polygon}}}\n"


def port(value: str) -> str:
    """The config with `metrics.port: value`."""
    return camera().replace("<port>", value)


def setting(section: str, key: str, value: str) -> str:
    """The config with `section.key: value` (its own block, after store and metrics)."""
    return camera() + f"{section}:\n  {key}: {value}\n"


def not_finite(section: str, key: str, value: str) -> Case:
    return run_config(
        f"run-{section}-{key}-{value.strip('.')}", setting(section, key, value),
        f"{section}.{key}", "finite",
    )  # fmt: skip


NOTEBOOK_V4_NO_METADATA = '{"nbformat": 4, "nbformat_minor": 5, "cells": []}'
JOB = ("job", "run", "experiments/people_walkway.yaml", "--out", "<tmp>/job")

CASES = [
    # --- count: the source -------------------------------------------------------------
    case("count-missing-file", "count", "<tmp>/nope.mp4",
         says=("<tmp>/nope.mp4", "no such video file")),
    case("count-empty-source", "count", "", says=("SOURCE", "empty")),
    case("count-folder", "count", "<tmp>", says=("not a file",)),
    case("count-text-file-as-video", "count", "<text>", says=("not-a-video.mp4", "cannot read")),
    case("count-corrupt-video", "count", "<corrupt>", says=("corrupt.mp4", "cannot read")),
    case("count-ftp", "count", f"ftp://user:{SECRET}@host/clip.mp4",
         says=("unsupported scheme 'ftp://'", "rtsp://", "https://")),
    case("count-s3", "count", "s3://bucket/clip.mp4", says=("unsupported scheme 's3://'",)),
    case("count-rtsp-no-host", "count", "rtsp:///stream", says=("malformed URL", "no host")),
    case("count-rtsp-no-host-with-credentials", "count", f"rtsp://user:{SECRET}@/x",
         says=("malformed URL", "no host")),
    case("count-rtsp-port-not-a-number", "count", "rtsp://host:notaport/x",
         says=("bad port 'notaport'",)),
    case("count-rtsp-port-too-large", "count", f"rtsp://u:{SECRET}@host:99999/x",
         says=("bad port '99999'",)),
    case("count-rtsp-refused", "count", f"rtsp://admin:{SECRET}@127.0.0.1:<closed>/stream",
         says=("connection refused", "rtsp://admin:***@127.0.0.1")),
    case("count-rtsp-unknown-host", "count", f"rtsp://user:{SECRET}@nosuchhost.invalid/x",
         says=("cannot resolve", "nosuchhost.invalid")),
    case("count-http-404", "count", "<http>/missing.mjpg", says=("HTTP 404", "no such path")),
    case("count-http-404-with-credentials", "count", "<http-user>/missing.mjpg",
         says=("HTTP 404",)),
    case("count-http-refused", "count", "http://127.0.0.1:<closed>/video.mjpg",
         says=("connection refused",)),
    case("count-rtsp-404", "count", "<rtsp>/nosuch",
         says=("RTSP 404", "no such stream path"), needs="rtsp"),
    case("count-rtsp-404-with-credentials",
         "count", "<rtsp-user>/nosuch", says=("RTSP 404", "user:***@"), needs="rtsp"),
    case("count-absent-webcam", "count", "99", says=("webcam 99", "cannot open")),
    # --- count: lines --------------------------------------------------------------------
    case("line-inf", "count", "<clip>", "--line", "door=inf,0,100,100",
         says=("--line", "inf", "finite")),
    case("line-1e400", "count", "<clip>", "--line", "1e400,0,1,1", says=("--line", "finite")),
    case("line-nan", "count", "<clip>", "--line", "door=nan,0,100,100", says=("--line", "finite")),
    case("line-minus-inf", "count", "<clip>", "--line", "0,0,1,-inf", says=("--line", "finite")),
    case("line-three-numbers", "count", "<clip>", "--line=1,2,3", says=("--line", "four")),
    case("line-letters", "count", "<clip>", "--line=a,b,c,d", says=("--line", "four")),
    case("line-one-point", "count", "<clip>", "--line=0,0,0,0",
         says=("--line", "two different points")),
    case("line-negative", "count", "<clip>", "--line=-1,0,5,5", says=("--line", "non-negative")),
    case("line-name-with-equals", "count", "<clip>", "--line", "a=b=0,0,1,1",
         says=("--line", "'a=b'", "without '='")),
    case("line-names-repeated", "count", "<clip>", "--line", "d=0,0,1,1", "--line", "d=0,1,1,0",
         says=("--line", "repeated")),
    case("line-outside-frame", "count", "<clip>", "--line", "door=1000,1000,2000,1000",
         says=("--line", "'door'", "320x240", "outside")),
    case("line-missing-value", "count", "x.mp4", "--line", says=("--line",)),
    # --- count: detector and store -------------------------------------------------------
    case("confidence-nan", "count", "<clip>", "--confidence", "nan",
         says=("--confidence", "finite")),
    case("confidence-inf", "count", "<clip>", "--confidence", "inf",
         says=("--confidence", "finite")),
    case("confidence-too-high", "count", "<clip>", "--confidence", "2",
         says=("--confidence", "less than 1")),
    case("confidence-not-a-number", "count", "<clip>", "--confidence", "high",
         says=("--confidence", "invalid float")),
    case("classes-unknown", "count", "<clip>", "--classes", "person,unicorn",
         says=("--classes", "unicorn")),
    case("classes-empty", "count", "<clip>", "--classes", ",", says=("--classes",)),
    case("pose-model-counts-cars", "count", "<clip>", "--model", "movenet", "--classes", "car",
         says=("--classes", "pose models detect people only", "car")),
    case("model-unknown-name", "count", "<clip>", "--model", "resnet", says=("resnet",)),
    case("model-onnx-not-onnx", "count", "<clip>", "--model", "<tmp>/model.onnx",
         says=("--model", "model.onnx", "not a readable ONNX model"),
         files={"model.onnx": "not a model"}),
    case("model-pt-bare-tensor", "count", "<clip>", "--model", "<tensor>",
         says=("--model", "tensor.pt", "not a YOLO checkpoint")),
    case("model-pt-garbage", "count", "<clip>", "--model", "<tmp>/junk.pt",
         says=("--model", "junk.pt", "not a YOLO checkpoint"), files={"junk.pt": "garbage"}),
    case("device-unknown", "count", "<clip>", "--device", "gpu7",
         says=("--device", "cpu, mps, cuda")),
    case("anchor-unknown", "count", "<clip>", "--anchor", "middle",
         says=("--anchor", "invalid choice")),
    case("store-is-a-folder", "count", "<clip>", "--store", "<tmp>",
         says=("--store", "is a folder")),
    case("store-under-a-file", "count", "<clip>", "--store", "<file>/events.sqlite",
         says=("--store", "<file>")),
    case("store-in-proc", "count", "<clip>", "--store", "/proc/aistack/events.sqlite",
         says=("--store", "/proc/aistack")),
    # --- usage ---------------------------------------------------------------------------
    case("no-command", says=("COMMAND",)),
    case("unknown-command", "frobnicate", says=("invalid choice", "frobnicate")),
    case("count-without-source", "count", says=("SOURCE", "aistack count --help")),
    case("unknown-option", "count", "<clip>", "--frobnicate",
         says=("unrecognized arguments", "--frobnicate")),
    # --- run: the config file ------------------------------------------------------------
    case("run-missing-config", "run", "<tmp>/nope.yaml",
         says=("nope.yaml", "no such config file")),
    case("run-config-is-a-folder", "run", "<tmp>", says=("cannot read the config",)),
    run_config("run-empty-config", "", "empty"),
    run_config("run-config-a-list", "[]\n", "c.yaml:1", "mapping"),
    run_config("run-broken-yaml", "cameras:\n  - name: [unclosed\n", "c.yaml:3", "not valid YAML"),
    run_config("run-unknown-key", camera("    linez: []\n"), "c.yaml:4", "linez", "allowed:"),
    run_config("run-metrics-twice", camera() + "metrics:\n  enabled: false\n",
               "metrics", "given twice", "lines 5 and 6"),
    run_config("run-cameras-twice", "cameras: []\n" + camera(),
               "cameras", "given twice", "lines 1 and 2"),
    run_config("run-key-twice-in-a-flow-mapping",
               "cameras:\n  - name: a\n    source: {uri: a.mp4, uri: b.mp4}\n",
               "c.yaml:3", "cameras[0].source.uri", "given twice"),
    # --- run: ports ----------------------------------------------------------------------
    run_config("run-metrics-port-too-large", port("99999"), "metrics.port", "1 to 65535", "99999"),
    run_config("run-metrics-port-negative", port("-1"), "metrics.port", "1 to 65535"),
    run_config("run-metrics-port-zero", port("0"), "metrics.port", "1 to 65535"),
    run_config("run-metrics-port-not-a-number", port("abc"), "metrics.port", "integer"),
    run_config("run-live-view-port-too-large", camera("live_view: {enabled: true, port: 70000}\n"),
               "live_view.port", "70000"),
    run_config("run-metrics-port-in-use", port("<busy>"), "c.yaml:5", "metrics.port", "in use"),
    run_config("run-influx-url-bad-port",
               setting("influx", "url", f"'http://user:{SECRET}@127.0.0.1:99999'"),
               "influx.url", "bad port '99999'"),
    run_config("run-influx-url-without-scheme", setting("influx", "url", "localhost:8086"),
               "influx.url", "not a URL", "http://"),
    run_config("run-push-url-http", setting("live_view", "push_url", "'http://host/annotated'"),
               "live_view.push_url", "unsupported scheme 'http://'", "rtsp://"),
    run_config("run-live-view-port-in-use", camera("live_view: {enabled: true, port: <busy>}\n"),
               "live_view.port", "in use"),
    # --- run: numbers that are not finite ------------------------------------------------
    run_config("run-line-inf", camera(line(".inf, 0, 1, 1")),
               "cameras[0].lines[0].points[0]", "finite"),
    run_config("run-line-nan", camera(line("0, 0, 1, .nan")),
               "cameras[0].lines[0].points[3]", "finite"),
    run_config("run-line-1e400", camera(line("0, 1e400, 1, 1")),
               "cameras[0].lines[0].points[1]", "finite"),
    run_config("run-zone-inf", camera(zone("[[0, 0], [.inf, 0], [1, 1]]")),
               "cameras[0].zones[0].polygon[1][0]", "finite"),
    not_finite("detector", "confidence", ".nan"),
    not_finite("detector", "iou", ".inf"),
    not_finite("tracker", "track_activation_threshold", ".nan"),
    not_finite("tracker", "lost_track_seconds", ".inf"),
    not_finite("counting", "min_distance", ".inf"),
    not_finite("pipeline", "max_frame_age", ".inf"),
    not_finite("pipeline", "max_wait_ms", ".nan"),
    not_finite("pipeline", "reconnect_max_seconds", "1e400"),
    not_finite("influx", "timeout", ".nan"),
    not_finite("pose", "fall_window_seconds", ".inf"),
    not_finite("live_view", "fps", ".nan"),
    run_config("run-store-interval-inf",
               camera().replace("s.sqlite'}", "s.sqlite', interval_seconds: .inf}"),
               "store.interval_seconds", "finite"),
    # --- run: names, classes, sources ----------------------------------------------------
    run_config("run-line-name-with-equals", camera(line("0, 0, 1, 1", name="a=b")),
               "cameras[0].lines[0].name", "without '='"),
    run_config("run-line-name-blank", camera(line("0, 0, 1, 1", name=" ")),
               "cameras[0].lines[0].name"),
    run_config("run-camera-name-with-space", camera().replace("name: a", "name: my cam"),
               "cameras[0].name", "letters, digits"),
    run_config("run-camera-names-repeated", camera(cameras="  - {name: a, source: {uri: x}}\n"),
               "camera names must be unique"),
    run_config("run-push-url-without-camera",
               camera(cameras="  - {name: b, source: {uri: '<clip>'}}\n")
               + "live_view: {push_url: 'rtsp://127.0.0.1:8554/annotated'}\n", "'{camera}'"),
    run_config("run-unknown-class", setting("detector", "classes", "[traffik]"),
               "detector.classes", "unknown class 'traffik'"),
    run_config("run-pose-model-counts-cars",
               setting("detector", "type: movenet\n  classes", "[car]"),
               "detector.classes", "pose models detect people only"),
    run_config("run-source-empty", camera(uri=""), "cameras[0].source.uri", "empty"),
    run_config("run-source-ftp", camera(uri=f"ftp://user:{SECRET}@host/x.mp4"),
               "cameras[0].source.uri", "unsupported scheme"),
    run_config("run-source-rtsp-no-host", camera(uri="rtsp:///x"),
               "cameras[0].source.uri", "malformed URL"),
    # --- run: what only running finds, named by file, line and field ---------------------
    run_config("run-missing-source", camera(uri="<tmp>/nope.mp4"),
               "c.yaml:3", "cameras[0].source.uri", "no such video file"),
    run_config("run-text-file-source", camera(uri="<text>"),
               "c.yaml:3", "cameras[0].source.uri", "cannot read"),
    run_config("run-unknown-model", setting("detector", "model", "<tmp>/nope.onnx"),
               "c.yaml:7", "detector.model", "nope.onnx"),
    run_config("run-store-is-a-folder", camera().replace("'<tmp>/s.sqlite'", "'<tmp>'"),
               "c.yaml:4", "store.path", "is a folder"),
    run_config("run-store-in-proc", camera().replace("<tmp>/s.sqlite", "/proc/aistack/s.sqlite"),
               "store.path", "/proc/aistack"),
    run_config("run-line-outside-frame", camera(line("1000, 1000, 2000, 1000")),
               "c.yaml:5", "cameras[0].lines[0]", "'door'", "320x240", "outside"),
    run_config("run-zone-outside-frame", camera(zone("[[500, 500], [600, 500], [600, 600]]")),
               "cameras[0].zones[0]", "'far'", "320x240"),
    # --- demo ----------------------------------------------------------------------------
    case("demo-out-is-a-file", "demo", "--out", "<file>", says=("--out", "not a folder")),
    case("demo-out-under-a-file", "demo", "--out", "<file>/demo",
         says=("--out", "cannot write there")),
    case("demo-out-in-proc", "demo", "--out", "/proc/aistack-demo",
         says=("--out", "cannot write there")),
    case("demo-out-holds-other-files",
         "demo", "--out", "<tmp>", says=("--out", "holds other files", "notes.txt"),
         files={"notes.txt": "mine"}),
    case("demo-source-missing", "demo", "--out", "<tmp>/demo", "--source", "<tmp>/nope.mp4",
         says=("--source", "no such video file")),
    case("demo-source-text-file", "demo", "--out", "<tmp>/demo", "--source", "<text>",
         says=("--source", "cannot read")),
    # --- bench ---------------------------------------------------------------------------
    case("bench-source-text-file",
         "bench", "pipeline", "--quick", "--source", "<text>", "--out", "<tmp>/b",
         says=("--source", "not-a-video.mp4", "not a readable video file")),
    case("bench-source-missing",
         "bench", "pipeline", "--quick", "--source", "<tmp>/nope.mp4", "--out", "<tmp>/b",
         says=("--source", "no such video file")),
    case("bench-out-is-a-file", "bench", "pipeline", "--quick", "--out", "<file>",
         says=("--out", "not a folder")),
    case("bench-unknown-suite", "bench", "nosuch", says=("unknown bench suite nosuch", "pipeline")),
    case("bench-accuracy-with-others", "bench", "accuracy", "pipeline", says=("runs on its own",)),
    case("bench-influx-url-bad-port", "bench", "stores", "--quick",
         "--influx-url", f"http://u:{SECRET}@127.0.0.1:99999", says=("--influx-url", "bad port")),
    case("bench-soak-with-others", "bench", "soak", "pipeline", says=("runs on its own",)),
    case("bench-soak-minutes-nan", "bench", "soak", "--minutes", "nan",
         says=("--minutes", "finite")),
    case("bench-soak-minutes-zero", "bench", "soak", "--minutes", "0", says=("--minutes",)),
    case("bench-soak-no-cameras", "bench", "soak", "--minutes", "1", "--cameras", "0",
         "--out", "<tmp>/soak", says=("--cameras 0", "1 to 64")),
    case("bench-soak-source-text-file", "bench", "soak", "--minutes", "1", "--source", "<text>",
         "--out", "<tmp>/soak", says=("--source", "not a readable video file")),
    # --- report --------------------------------------------------------------------------
    case("report-missing-folder", "report", "<tmp>/nope", says=("no such run folder",)),
    case("report-a-file", "report", "<file>", says=("is a file, not a run folder",)),
    case("report-empty-folder", "report", "<tmp>", says=("no executed notebook",)),
    case("report-notebook-empty-object",
         "report", "<tmp>", says=("job.ipynb", "not a valid Jupyter notebook"),
         files={"job.ipynb": "{}"}),
    case("report-notebook-a-list", "report", "<tmp>",
         says=("job.ipynb", "JSON list"), files={"job.ipynb": "[]"}),
    case("report-notebook-without-metadata", "report", "<tmp>",
         says=("job.ipynb", "metadata"), files={"job.ipynb": NOTEBOOK_V4_NO_METADATA}),
    case("report-notebook-not-json", "report", "<tmp>",
         says=("job.ipynb", "not JSON"), files={"job.ipynb": "not json"}),
    case("report-two-notebooks", "report", "<tmp>",
         says=("several notebooks",), files={"a.ipynb": "{}", "b.ipynb": "{}"}),
    # --- job -----------------------------------------------------------------------------
    case("job-missing-config", "job", "run", "<tmp>/nope.yaml",
         says=("nope.yaml", "no such config file")),
    case("job-max-frames-broken-list", *JOB, "--param", "max_frames=[1,2",
         says=("--param max_frames", "integer")),
    case("job-max-frames-zero", *JOB, "--param", "max_frames=0",
         says=("--param max_frames", "greater than or equal to 1")),
    case("job-duration-inf", *JOB, "--param", "duration_s=.inf",
         says=("--param duration_s", "finite")),
    case("job-overrides-not-a-mapping", *JOB, "--param", "overrides=3",
         says=("--param overrides", "dictionary")),
    case("job-unknown-parameter", *JOB, "--param", "nosuch=1",
         says=("unknown parameter 'nosuch'",)),
    case("job-param-without-value", *JOB, "--param", "max_frames",
         says=("--param 'max_frames'", "KEY=VALUE")),
    case("job-param-sets-config", *JOB, "--param", "config=x.yaml",
         says=("--param config", "CONFIG argument")),
    case("job-override-nan", *JOB, "--param", "detector.confidence=.nan",
         says=("detector.confidence", "finite")),
    case("job-override-unknown-field", *JOB, "--param", "detector.confidenze=0.4",
         says=("confidenze",)),
    # --- emulate -------------------------------------------------------------------------
    case("emulate-port-too-large", "emulate", "<clip>", "--port", "99999",
         says=("--port", "99999 is not a port")),
    case("emulate-port-negative", "emulate", "<clip>", "--port", "-1",
         says=("--port", "-1 is not a port")),
    case("emulate-port-not-a-number", "emulate", "<clip>", "--port", "http",
         says=("--port", "not a port number")),
    case("emulate-nothing", "emulate", says=("give at least one CLIP",)),
    case("emulate-missing-clip", "emulate", "<tmp>/nope.mp4", says=("nope.mp4", "no such clip")),
    # --- stack ---------------------------------------------------------------------------
    case("stack-target-port-too-large",
         "stack", "up", "--target", "127.0.0.1:99999", "--state-dir", "<tmp>/st",
         says=("127.0.0.1:99999", "HOST:PORT")),
    case("stack-target-port-zero",
         "stack", "up", "--target", "127.0.0.1:0", "--state-dir", "<tmp>/st",
         says=("127.0.0.1:0", "HOST:PORT")),
    case("stack-target-without-port",
         "stack", "up", "--target", "cam-host", "--state-dir", "<tmp>/st",
         says=("cam-host", "HOST:PORT")),
    case("stack-timeout-nan", "stack", "up", "--timeout", "nan", says=("--timeout", "finite")),
    case("stack-timeout-inf", "stack", "up", "--timeout", "inf", says=("--timeout", "finite")),
    case("stack-timeout-negative", "stack", "up", "--timeout", "-5", says=("--timeout", "above 0")),
    case("stack-unknown-mode", "stack", "up", "--mode", "podman",
         says=("--mode", "invalid choice")),
]  # fmt: skip


@dataclass
class _Inputs:
    """What the cases point at: clips, files, servers; made once for the module."""

    root: Path
    http: str
    rtsp: str | None
    busy: socket.socket

    def expand(self, text: str, tmp: Path) -> str:
        tokens = {
            "<tmp>": str(tmp),
            "<clip>": str(self.root / "clip.mp4"),
            "<text>": str(self.root / "not-a-video.mp4"),
            "<corrupt>": str(self.root / "corrupt.mp4"),
            "<tensor>": str(self.root / "tensor.pt"),
            "<file>": str(self.root / "a-file"),
            "<http-user>": self.http.replace("http://", f"http://user:{SECRET}@"),
            "<http>": self.http,
            "<rtsp-user>": (self.rtsp or "").replace("rtsp://", f"rtsp://user:{SECRET}@"),
            "<rtsp>": self.rtsp or "",
            "<busy>": str(self.busy.getsockname()[1]),
        }
        for token, value in tokens.items():
            text = text.replace(token, value)
        while "<port>" in text:
            text = text.replace("<port>", str(free_port()), 1)
        while "<closed>" in text:
            text = text.replace("<closed>", str(free_port()), 1)
        return text


def _make_files(root: Path) -> None:
    writer = cv2.VideoWriter(
        str(root / "clip.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), 10, (320, 240)
    )
    for i in range(20):
        writer.write(np.full((240, 320, 3), i * 10, np.uint8))
    writer.release()
    (root / "not-a-video.mp4").write_text("hello, I am text\n")
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (root / "a-file").write_text("a file, not a folder\n")
    # torch.save(torch.zeros(3)): a .pt that torch reads and that holds no model. Written
    # by a child so this process does not pay for importing torch.
    code = f"import torch; torch.save(torch.zeros(3), {str(root / 'tensor.pt')!r})"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


@pytest.fixture(scope="module")
def http_404(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP server with nothing on it: every stream path is a 404."""
    folder = tmp_path_factory.mktemp("www")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def rtsp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """The RTSP emulator's base URL (its only mount is /cam), or None without GStreamer."""
    from aistack.live.emulator import Emulator, check_gstreamer

    try:
        check_gstreamer()
    except SourceError:
        yield None
        return
    clip = tmp_path_factory.mktemp("rtsp") / "cam.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 10, (160, 120))
    for _ in range(10):
        writer.write(np.zeros((120, 160, 3), np.uint8))
    writer.release()
    with Emulator([clip], port=0, names=["cam"]) as emulator:
        emulator.start()
        yield emulator.urls["cam"].rsplit("/", 1)[0]


@dataclass(frozen=True)
class Started:
    """A case's subprocess, and the fragments its error must hold (tokens expanded)."""

    future: Future[subprocess.CompletedProcess[str]]
    fragments: list[str]


def _selected(request: pytest.FixtureRequest) -> list[Case]:
    """The cases of this module's tests that this pytest session will run."""
    chosen: list[Case] = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "module", None) is request.module and callspec is not None:
            bad = callspec.params.get("bad")
            if isinstance(bad, Case):
                chosen.append(bad)
    return chosen


@pytest.fixture(scope="module")
def results(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    http_404: str,
    rtsp_server: str | None,
) -> Iterator[dict[str, Started]]:
    """Every selected case started at once, a few at a time; each test waits for its own."""
    root = tmp_path_factory.mktemp("inputs")
    _make_files(root)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        inputs = _Inputs(root, http_404, rtsp_server, busy)
        env = {**os.environ, "COLUMNS": "100"}
        env.pop("AISTACK_SHARD_COUNT", None)
        with ThreadPoolExecutor(PARALLEL) as pool:
            futures = {}
            for bad in _selected(request):
                if bad.needs == "rtsp" and rtsp_server is None:
                    continue
                tmp = tmp_path_factory.mktemp(bad.id)
                for name, content in bad.files.items():
                    (tmp / name).write_text(inputs.expand(content, tmp), encoding="utf-8")
                argv = [sys.executable, "-m", "aistack", *(inputs.expand(a, tmp) for a in bad.args)]
                future = pool.submit(_run, argv, env)
                futures[bad.id] = Started(future, [inputs.expand(f, tmp) for f in bad.fragments])
            yield futures
            for started in futures.values():
                started.future.cancel()


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=300, cwd=REPO, env=env, check=False
    )


def visible_lines(stream: str) -> list[str]:
    """What a terminal shows: a progress bar redrawn with '\\r' leaves only its last state."""
    shown = (line.split("\r")[-1].strip() for line in stream.split("\n"))
    return [line for line in shown if line]


@pytest.mark.parametrize("bad", CASES, ids=[c.id for c in CASES])
def test_a_bad_input_is_one_clear_error_line(bad: Case, results: dict[str, Started]) -> None:
    if bad.id not in results:
        require_service("gstreamer", "the RTSP emulator (gir1.2-gst-rtsp-server-1.0)")
    started = results[bad.id]
    result = started.future.result()
    output = result.stdout + result.stderr
    assert SECRET not in output, output
    assert "Traceback" not in output, result.stderr
    assert result.returncode == 2, output
    lines = visible_lines(result.stderr)
    assert len(lines) == 1, f"expected one error line, got:\n{result.stderr}"
    (error,) = lines
    assert error.startswith("aistack: error: "), error
    assert result.stdout.strip() == "", result.stdout
    for fragment in started.fragments:
        assert fragment in error, f"{fragment!r} not in {error!r}"


def test_the_table_is_large_and_its_ids_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 80


def test_line_names_are_the_same_in_yaml_and_on_the_command_line(tmp_path: Path) -> None:
    """café, 门口 and 'my door' are names in a config, so they are names after --line too."""
    names = ["café", "门口", "my door"]
    config = parse_config(
        "cameras:\n  - source: {uri: clip.mp4}\n    lines:\n"
        + "".join(f"      - {{name: '{n}', points: [0, 0.5, 1, 0.5]}}\n" for n in names)
    )
    assert [line.name for line in config.cameras[0].lines] == names
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 10, (320, 240))
    for i in range(5):
        writer.write(np.full((240, 320, 3), i * 10, np.uint8))
    writer.release()
    lines = [arg for n in names for arg in ("--line", f"{n}=0,0.5,1,0.5")]
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "count", str(clip), *lines, "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [line["name"] for line in json.loads(result.stdout)["lines"]] == names
