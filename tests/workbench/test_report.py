"""The HTML report: self-contained, with the frame, the charts and the events."""

from __future__ import annotations

import base64
import json
import re
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from aistack.errors import ConfigError, SinkError
from aistack.sinks.sqlite import SqliteSink
from aistack.stores.sqlite import SqliteStore, open_store
from aistack.types import Event
from aistack.workbench.report import LAST_EVENTS, MAX_IMAGE_WIDTH, write_report

T0 = 1_714_560_000.0
VIDEO = Path(__file__).resolve().parents[2] / "aistack" / "data" / "vtest.mp4"


def first_frame() -> npt.NDArray[np.uint8]:
    capture = cv2.VideoCapture(str(VIDEO))
    ok, frame = capture.read()
    capture.release()
    if not ok:  # keep the test meaningful without the bundled clip
        frame = np.full((576, 768, 3), 90, np.uint8)
    cv2.line(frame, (100, 300), (700, 300), (0, 255, 255), 3)
    return np.asarray(frame, dtype=np.uint8)


def make_events() -> list[Event]:
    events = []
    for i in range(240):
        events.append(
            Event(
                timestamp=T0 + i * 1.25,
                camera="cam0",
                counter=("door", "gate")[i % 4 == 0],
                kind="crossing",
                class_name=("person", "car")[i % 3 == 0],
                direction=("in", "out")[i % 5 < 2],
                track_id=i,
                frame_index=31 * i,
            )
        )
    return events


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    path = tmp_path / "events.db"
    with SqliteSink(path, interval_seconds=10) as sink:
        run = sink.start_run("rtsp://admin:hunter2@127.0.0.1:8554/cam", {"model": "yolov8n"})
        sink.write(make_events())
        sink.finish_run(run, {"frames": 7500})
    return open_store(path)


@pytest.fixture
def empty_store(tmp_path: Path) -> SqliteStore:
    path = tmp_path / "empty.db"
    SqliteSink(path).close()
    return open_store(path)


SUMMARY = {
    "source": "rtsp://admin:hunter2@127.0.0.1:8554/cam",
    "frames": 7500,
    "fps": 24.87,
    "seconds": 300.0,
    "model": "yolov8n.onnx",
}


def plot_specs(page: str) -> dict[str, list[object]]:
    calls = re.findall(r'Plotly\.newPlot\("([^"]+)", \.\.\.(\[.*?\])\);</script>', page)
    return {element: json.loads(spec.replace("<\\/", "</")) for element, spec in calls}


def test_report_is_self_contained(tmp_path: Path, store: SqliteStore) -> None:
    out = write_report(
        tmp_path / "out" / "report.html",
        store,
        title="vtest <counts>",
        summary=SUMMARY,
        annotated_frame=first_frame(),
    )
    page = out.read_text(encoding="utf-8")
    bundle = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_text()
    assert page.count(bundle) == 1
    rest = page.replace(bundle, "")
    # The bundle itself names map-tile CDNs it never loads for these charts;
    # everything around it must point nowhere.
    assert "cdn." not in rest
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?:", rest)
    assert 'class="plot plotly-graph-div"' in rest
    assert "vtest &lt;counts&gt;" in rest and "vtest <counts>" not in rest
    assert "hunter2" not in page
    assert 3_000_000 < out.stat().st_size < 9_000_000


def test_report_embeds_the_frame(tmp_path: Path, store: SqliteStore) -> None:
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[:, :960] = (0, 0, 255)
    out = write_report(
        tmp_path / "r.html", store, title="t", summary=SUMMARY, annotated_frame=frame
    )
    match = re.search(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', out.read_text())
    assert match
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(match[1]), np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    assert picture.shape == (720, MAX_IMAGE_WIDTH, 3)
    assert picture[360, 100, 2] > 200 and picture[360, 1200, 2] < 50  # still BGR, left red


def test_count_charts_match_the_store(tmp_path: Path, store: SqliteStore) -> None:
    events = make_events()
    page = write_report(
        tmp_path / "r.html", store, title="t", summary=SUMMARY, annotated_frame=None
    ).read_text()
    specs = plot_specs(page)
    assert set(specs) == {"counts-1", "counts-2", "cumulative"}
    for element, line in (("counts-1", "door"), ("counts-2", "gate")):
        traces = specs[element][0]
        assert isinstance(traces, list)
        for direction in ("in", "out"):
            shown = [t for t in traces if t["name"].endswith(f" {direction}")]
            values = [y for t in shown for y in t["y"]]
            expected = sum(e.counter == line and e.direction == direction for e in events)
            assert sum(abs(v) for v in values) == expected
            # out goes below the axis and is hatched, so it never reads as in.
            assert all(v < 0 for v in values) if direction == "out" else all(v > 0 for v in values)
            assert all(("pattern" in t["marker"]) == (direction == "out") for t in shown)
    cumulative = specs["cumulative"][0]
    assert isinstance(cumulative, list)
    finals = {t["name"]: t["y"][-1] for t in cumulative}
    assert finals["door in"] == sum(e.counter == "door" and e.direction == "in" for e in events)
    assert {t["line"]["dash"] for t in cumulative} == {"solid", "dash"}


def test_last_events_table(tmp_path: Path, store: SqliteStore) -> None:
    page = write_report(
        tmp_path / "r.html", store, title="t", summary=SUMMARY, annotated_frame=None
    ).read_text()
    table = page.split(f"Last {LAST_EVENTS} events")[1]
    assert table.count('<span class="dir dir-') == LAST_EVENTS
    newest = make_events()[-1]
    assert f'<td class="num">{newest.frame_index}</td>' in table.split("</tr>")[1]


def test_summary_and_totals(tmp_path: Path, store: SqliteStore) -> None:
    page = write_report(
        tmp_path / "r.html", store, title="t", summary=SUMMARY, annotated_frame=None
    ).read_text()
    for text in ("rtsp://admin:***@127.0.0.1:8554/cam", "7,500", "24.87", "yolov8n.onnx"):
        assert text in page
    totals = store.totals()
    door_in = int(totals.query("line == 'door' and direction == 'in'")["count"].sum())
    assert f'<td>door</td><td class="num">{door_in:,}</td>' in page


def test_no_events_says_so(tmp_path: Path, empty_store: SqliteStore) -> None:
    out = write_report(
        tmp_path / "r.html",
        empty_store,
        title="quiet",
        summary={"source": "x.mp4"},
        annotated_frame=first_frame(),
    )
    page = out.read_text()
    assert "No crossings counted" in page
    assert "plotly-graph-div" not in page and "Plotly.newPlot" not in page
    assert "data:image/jpeg;base64," in page
    assert out.stat().st_size < 1_000_000


def test_bad_interval_and_bad_path(tmp_path: Path, store: SqliteStore) -> None:
    with pytest.raises(ConfigError):
        write_report(
            tmp_path / "r.html", store, title="t", summary={}, annotated_frame=None, interval="x"
        )
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SinkError, match="a-file"):
        write_report(blocker / "r.html", store, title="t", summary={}, annotated_frame=None)
