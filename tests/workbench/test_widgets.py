"""The line tuner driven from Python: live frames, mouse drags, preview counts, saved YAML."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

from aistack.config import AppConfig, load_config
from aistack.data import DEMO_CLIP
from aistack.errors import ConfigError, SourceError
from aistack.live.draw import IN_COLOUR, LINE_COLOUR
from aistack.live.emulator import Emulator, check_gstreamer
from aistack.workbench.tuning import ShapeEditor, TunedLine, draw_shapes


def require_or_skip(reason: str) -> NoReturn:
    """Skip, or fail where CI promises everything is installed (AISTACK_REQUIRE_SERVICES=1)."""
    if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"AISTACK_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


try:
    from aistack.workbench.widgets import LineTuner
except ImportError as missing:  # the notebook extras: ipywidgets, ipyevents
    if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
        raise
    pytest.skip(f"{missing}: pip install ipywidgets ipyevents", allow_module_level=True)

WIDTH, HEIGHT = 768, 576  # the bundled clip


@pytest.fixture(scope="module")
def stream() -> Iterator[str]:
    """The bundled clip as a live RTSP camera."""
    try:
        check_gstreamer()
    except SourceError as error:
        require_or_skip(str(error))
    with Emulator([DEMO_CLIP], port=0, names=["vtest"]) as emulator:
        yield emulator.urls["vtest"]


@pytest.fixture
def tuner(tmp_path: Path) -> LineTuner:
    """A tuner on the clip file: no server needed for what the source does not matter to."""
    return LineTuner(DEMO_CLIP, output=tmp_path / "tuned.yaml")


def mouse(tuner: LineTuner, kind: str, x: float, y: float, shown: int = 600) -> None:
    """What ipyevents sends for a mouse event at (x, y) fractions of a frame shown `shown` px
    wide (its own size in dataX/dataY; the size on screen in relativeX/boundingRect)."""
    height = shown * HEIGHT / WIDTH
    message = {
        "type": kind, "button": 0, "dataX": round(x * WIDTH), "dataY": round(y * HEIGHT),
        "relativeX": x * shown, "relativeY": y * height,
        "boundingRectWidth": shown, "boundingRectHeight": height,
    }  # fmt: skip
    target = tuner._moves if kind == "mousemove" else tuner._presses
    target._handle_mouse_msg(None, message, [])


def test_tune_a_live_stream_preview_and_save(stream: str, tmp_path: Path) -> None:
    tuner = LineTuner(stream, output=tmp_path / "walkway.yaml")
    assert tuner.frame.shape == (HEIGHT, WIDTH, 3)
    assert tuner.camera == "vtest"
    tuner.lines[0].points = (0.62, 0.8, 0.62, 0.3)
    tuner.lines[0].name = "walkway"
    tuner.add_zone("plaza", [(0.02, 0.33), (0.45, 0.33), (0.45, 0.62), (0.02, 0.55)])
    tuner.classes = ["people"]
    tuner.confidence = 0.3
    result = tuner.preview(seconds=2.5)
    assert result.frames >= 10  # a 10 fps camera, counted live
    assert [line.name for line in result.lines] == ["walkway"]
    assert "plaza" in result.zones
    assert "walkway" in tuner.counts.value and "plaza" in tuner.counts.value
    assert tuner.status.startswith("preview:")
    tuner.refresh()
    saved = tuner.save()
    assert saved == tmp_path / "walkway.yaml" and tuner.status.startswith("Saved")
    config = load_config(saved)  # what `aistack run` reads
    (camera,) = config.cameras
    assert camera.name == "vtest" and camera.source.uri == stream
    assert [(line.name, line.points) for line in camera.lines] == [
        ("walkway", (0.62, 0.8, 0.62, 0.3))
    ]
    assert camera.zones[0].name == "plaza" and camera.zones[0].polygon[3] == (0.02, 0.55)
    assert camera.classes == ["person"] and config.detector.classes == ["person"]
    assert config.detector.confidence == 0.3


def test_dragging_a_line_end_with_the_mouse(tuner: LineTuner) -> None:
    tuner.lines[0].points = (0.1, 0.5, 0.9, 0.5)
    before = tuner.image.value
    mouse(tuner, "mousedown", 0.905, 0.495)  # near P2, not exactly on it
    mouse(tuner, "mousemove", 0.8, 0.4)
    assert tuner.lines[0].points == (0.1, 0.5, 0.8, 0.4)  # follows while dragging
    mouse(tuner, "mouseup", 0.75, 0.25)
    assert tuner.lines[0].points == (0.1, 0.5, 0.75, 0.25)
    assert "corner 2 at (0.750, 0.250)" in tuner.status
    assert tuner.image.value != before  # redrawn
    mouse(tuner, "mousemove", 0.3, 0.3)  # no button held: nothing moves
    assert tuner.lines[0].points == (0.1, 0.5, 0.75, 0.25)


def test_a_point_comes_from_the_image_on_screen_and_dataxy_only_without_it(
    tuner: LineTuner,
) -> None:
    # While a redrawn frame decodes, ipyevents reports dataX/dataY as 0: they must not count.
    event = {"relativeX": 300, "relativeY": 90, "boundingRectWidth": 600,
             "boundingRectHeight": 450, "dataX": 0, "dataY": 0}  # fmt: skip
    assert tuner._point(event) == (0.5, 0.2)
    assert tuner._point({"dataX": 384, "dataY": 576 * 2}) == (0.5, 1.0)  # clamped to the frame


def test_drawing_a_line_and_a_zone(tuner: LineTuner) -> None:
    tuner.mode.value = "line"
    mouse(tuner, "mousedown", 0.2, 0.9)
    mouse(tuner, "mousemove", 0.3, 0.5)
    mouse(tuner, "mouseup", 0.2, 0.1)
    assert [line.name for line in tuner.lines] == ["line-1", "line-2"]
    assert tuner.lines[1].points == (0.2, 0.9, 0.2, 0.1)
    assert tuner.mode.value == "edit"  # back to editing once drawn
    tuner.mode.value = "zone"
    for x, y in [(0.1, 0.1), (0.4, 0.1), (0.4, 0.4), (0.1, 0.4)]:
        mouse(tuner, "mousedown", x, y)
        mouse(tuner, "mouseup", x, y)
    assert tuner.zones == [] and "4 corners" in tuner.status
    mouse(tuner, "mousedown", 0.102, 0.098)  # the first corner again closes the zone
    (zone,) = tuner.zones
    assert zone.name == "zone-1" and zone.polygon == [
        (0.1, 0.1),
        (0.4, 0.1),
        (0.4, 0.4),
        (0.1, 0.4),
    ]
    assert tuner.shape_picker.options == (
        ("line 'line-1'", "line-1"), ("line 'line-2'", "line-2"), ("zone 'zone-1'", "zone-1")
    )  # fmt: skip
    config = load_config(tuner.save())
    assert [line.name for line in config.cameras[0].lines] == ["line-1", "line-2"]
    assert len(config.cameras[0].zones[0].polygon) == 4


def test_a_line_with_equal_points_is_an_error_in_the_status_not_a_traceback(
    tuner: LineTuner, tmp_path: Path
) -> None:
    tuner.lines[0].points = (0.5, 0.5, 0.5, 0.5)
    assert tuner.status == "line 'line-1': both ends are the same point; drag one end away"
    assert "Error:" in tuner.status_html.value
    tuner.save_button.click()  # what a click in the browser does
    assert "both ends are the same point" in tuner.status
    assert not (tmp_path / "tuned.yaml").exists()
    with pytest.raises(ConfigError, match="line 'line-1': both ends are the same point"):
        tuner.save()
    tuner.mode.value = "line"
    mouse(tuner, "mousedown", 0.3, 0.3)  # a click is not a line
    mouse(tuner, "mouseup", 0.3, 0.3)
    assert tuner.status == "a line needs two different points: press, drag, then release"
    assert [line.name for line in tuner.lines] == ["line-1"]


def test_other_mistakes_land_in_the_status(tuner: LineTuner) -> None:
    tuner.add_zone("plaza", [(0.1, 0.1), (0.5, 0.1), (0.5, 0.5)])
    tuner.shape_picker.value = "line-1"
    tuner.name_box.value = "plaza"  # taken by the zone
    assert "'plaza' is taken" in tuner.status and tuner.lines[0].name == "line-1"
    assert tuner.name_box.value == "line-1"
    tuner.shape_picker.value = "plaza"
    tuner.reverse_button.click()  # Reverse, on a zone
    assert tuner.status == "select a line to reverse: zones have no direction"
    tuner.class_picker.value = ()
    tuner.save_button.click()
    assert "no classes given" in tuner.status
    tuner.path_box.value = "/proc/no/such/dir/x.yaml"
    tuner.classes = ["people"]
    tuner.save_button.click()
    assert tuner.status.startswith("/proc/no/such/dir/x.yaml: cannot write the experiment")
    with pytest.raises(ValueError, match="not a fraction of the frame"):
        tuner.lines[0].points = (0.1, 0.2, 1.5, 0.2)


def test_reverse_swaps_the_ends_and_so_in_and_out(tuner: LineTuner) -> None:
    tuner.lines[0].points = (0.1, 0.5, 0.9, 0.5)
    tuner.reverse_button.click()
    assert tuner.lines[0].points == (0.9, 0.5, 0.1, 0.5)
    assert "reversed" in tuner.status


def test_a_base_config_keeps_its_other_settings_and_pixel_lines_become_fractions(
    tmp_path: Path,
) -> None:
    base = AppConfig.model_validate(
        {
            "cameras": [
                {"name": "other", "source": {"uri": "rtsp://10.0.0.9/other"}},
                {
                    "name": "door",
                    "source": {"uri": "rtsp://10.0.0.8/door"},
                    "lines": [{"name": "gate", "points": [384, 576, 384, 0]}],
                    "classes": ["traffic"],
                },
            ],
            "detector": {"classes": ["people"], "confidence": 0.4},
            "tracker": {"lost_track_seconds": 3.0},
            "store": {"path": "runs/door.sqlite"},
        }
    )
    tuner = LineTuner(
        DEMO_CLIP, base, camera="door", output=tmp_path / "door.yaml", save_uri="rtsp://cam/door"
    )
    assert tuner.lines[0].points == (0.5, 1.0, 0.5, 0.0)
    assert tuner.classes == ["car", "bus", "truck", "motorcycle", "bicycle"]
    assert tuner.confidence == 0.4
    config = load_config(tuner.save())
    assert [c.name for c in config.cameras] == ["other", "door"]
    assert config.cameras[1].source.uri == "rtsp://cam/door"
    assert config.cameras[1].lines[0].points == (0.5, 1.0, 0.5, 0.0)
    assert config.tracker.lost_track_seconds == 3.0
    assert config.store.path == Path("runs/door.sqlite")
    assert config.detector.classes[0] == "person"  # the other camera still gets its class
    assert "car" in config.detector.classes
    text = (tmp_path / "door.yaml").read_text()
    assert "metrics:" not in text and "&id" not in text  # only what was set; no YAML aliases
    with pytest.raises(ConfigError, match="no camera named 'gate'"):
        LineTuner(DEMO_CLIP, base, camera="gate")


def test_an_unreachable_source_is_a_source_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceError, match=r"cannot (connect|open the stream)"):
        LineTuner(f"rtsp://127.0.0.1:{port}/none")


def test_the_drawing_shows_the_line_its_in_arrow_and_handles() -> None:
    image = np.full((200, 300, 3), 40, np.uint8)
    line = TunedLine("door", (0.1, 0.5, 0.9, 0.5))
    drawn = draw_shapes(image, [line], [], selected=line)

    def near(colour: tuple[int, int, int], rows: slice) -> int:
        distance = np.abs(drawn[rows].astype(int) - np.array(colour)).sum(axis=2)
        return int((distance < 60).sum())

    assert near(LINE_COLOUR, slice(95, 106)) > 200
    assert near(IN_COLOUR, slice(106, 135)) > 20  # below the line: left to right, down is in
    assert near(IN_COLOUR, slice(60, 94)) == 0
    assert np.array_equal(image, np.full((200, 300, 3), 40, np.uint8))  # input untouched


def test_editor_picks_the_nearest_corner_within_reach() -> None:
    editor = ShapeEditor((1000, 500))
    editor.add_line("a", (0.1, 0.1, 0.5, 0.5))
    editor.add_line("b", (0.52, 0.5, 0.9, 0.9))
    editor.press((0.515, 0.5))  # between a's P2 and b's P1, nearer b
    assert editor.drag is not None and (editor.drag.shape.name, editor.drag.index) == ("b", 0)
    editor.release((0.6, 0.5))
    assert editor.press((0.3, 0.9)).startswith("no corner here")
    assert editor.drag is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_saved_experiment_runs_with_aistack_run(tmp_path: Path) -> None:
    port = _free_port()
    base: dict[str, Any] = {
        "cameras": [{"name": "vtest", "source": {"uri": str(DEMO_CLIP), "loop": True}}],
        "store": {"path": str(tmp_path / "run.sqlite")},
        "metrics": {"port": port},
    }
    base_file = tmp_path / "base.yaml"
    base_file.write_text(json.dumps(base))  # JSON is YAML
    tuner = LineTuner(DEMO_CLIP, base_file, output=tmp_path / "tuned.yaml")
    tuner.add_line("walkway", (0.62, 0.8, 0.62, 0.3))
    saved = tuner.save()
    process = subprocess.Popen(
        [sys.executable, "-m", "aistack", "run", str(saved)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    frames = 0.0
    try:
        deadline = time.monotonic() + 60
        while frames < 20 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
            except OSError:
                continue
            for row in text.read().decode().splitlines():
                if row.startswith('aistack_frames_total{camera="vtest"}'):
                    frames = float(row.split()[-1])
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert frames >= 20, err
    assert process.returncode == 0, err
    summary = json.loads(out)
    assert [line["name"] for line in summary["lines"]] == ["walkway"]
