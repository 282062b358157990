"""`aistack bench soak --minutes 1`: emulated RTSP cameras through a default run, per minute."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aistack.errors import SourceError
from aistack.live.emulator import check_gstreamer
from tests.servers import require_service


@pytest.mark.slow
@pytest.mark.services
def test_a_one_minute_soak_writes_its_minute_and_a_plot(tmp_path: Path) -> None:
    try:
        check_gstreamer()
    except SourceError as error:
        require_service("gstreamer", str(error))
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "bench", "soak", "--minutes", "1", "--cameras", "4",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (json_path,) = tmp_path.glob("soak-*.json")
    data = json.loads(json_path.read_text())
    assert data["cameras"] == 4 and data["minutes"] == 1
    (minute,) = data["per_minute"]
    assert minute["minute"] == 1 and 50 <= minute["seconds"] <= 70
    assert minute["rss_mb"] > 50
    assert minute["frames"] > 0 and minute["frames_dropped"] >= 0 and minute["crossings"] >= 0
    assert set(minute["by_camera"]) == {"cam1", "cam2", "cam3", "cam4"}
    assert all(camera["frames"] > 0 for camera in minute["by_camera"].values())
    depths = minute["queue_depth_max"]
    assert {"camera:cam1", "camera:cam4", "lanes", "sink:sqlite"} <= set(depths)
    assert all(depth >= 0 for depth in depths.values())
    summary = data["summary"]
    assert summary["frames"] == minute["frames"]
    # the store holds every crossing the metrics counted, read back from the SQLite file
    assert summary["events_stored"] == summary["crossings_counted"] >= minute["crossings"]
    assert summary["events_lost"] == 0
    assert data["pipeline"]["lanes"] >= 1
    plot = json_path.with_suffix(".png")
    assert plot.is_file() and plot.stat().st_size > 10_000
    assert "| 1 |" in result.stdout  # the markdown table, one row a minute
    assert f"results: {json_path}" in result.stderr
