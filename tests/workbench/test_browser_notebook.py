"""The tuning notebook in a real JupyterLab, driven by headless Chromium with real mouse events.

JupyterLab runs on a free port with a token, on a temporary copy of the notebook. Chromium
opens it, runs every cell from the Run menu, drags the line's end on the frame, clicks Save,
and the saved YAML must hold the moved point. The screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "02_tune_lines.ipynb"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
OUTPUT = "experiments/runs/tune_lines.yaml"  # the notebook's default, from the repo root
# JupyterLab's own settings for this test: no news, update or kernel pop-ups over the page,
# and every cell rendered even when scrolled out of view.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
}

pytestmark = pytest.mark.services


def require_or_skip(reason: str) -> NoReturn:
    """Skip, or fail where CI promises the services (AISTACK_REQUIRE_SERVICES=1)."""
    if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"AISTACK_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _require_tools() -> None:
    for module, package in [
        ("jupyterlab", "jupyterlab"), ("ipywidgets", "ipywidgets"), ("ipyevents", "ipyevents"),
        ("playwright", "playwright"),
    ]:  # fmt: skip
        try:
            __import__(module)
        except ImportError:
            require_or_skip(f"{package} is not installed: pip install {package}")
    if not os.path.exists(CHROMIUM):
        require_or_skip("chromium is not installed: apt-get install chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    _require_tools()
    root = tmp_path / "work"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
    settings = tmp_path / "settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    log = (tmp_path / "lab.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
            f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
            "--LabApp.extension_manager=readonly",  # no package index look-ups
            "--allow-root",  # CI runs as root
        ],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{_tail(tmp_path / 'lab.log')}")
                time.sleep(0.2)
        yield Lab(url, token, root, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _await_kernel(lab: Lab, timeout: float = 60) -> None:
    """Until the page's kernel is started, idle, and connected to the page."""
    deadline = time.monotonic() + timeout
    sessions: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{lab.url}/api/sessions?token={lab.token}") as response:
            sessions = json.load(response)
        kernels = [s["kernel"] for s in sessions if s["path"].endswith(NOTEBOOK.name)]
        if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
            return
        time.sleep(0.2)
    pytest.fail(f"the notebook's kernel did not start: sessions {sessions}")


def _tail(path: Path, size: int = 4000) -> str:
    return path.read_text(errors="replace")[-size:]


def _saved_line(path: Path) -> list[float]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return [float(v) for v in document["cameras"][0]["lines"][0]["points"]]


def test_drag_a_line_end_in_jupyterlab_and_save(lab: Lab) -> None:
    from playwright.sync_api import sync_playwright

    from aistack.config import load_config

    output = lab.root / OUTPUT
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "tune_lines.png"
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.set_default_timeout(60_000)
        try:
            page.goto(f"{lab.url}/lab/tree/notebooks/{NOTEBOOK.name}?token={lab.token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            _await_kernel(lab)
            # A real user's way: Run ▸ Run All Cells.
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            # The last cell prints the saved YAML once every cell before it has run.
            page.wait_for_selector(".jp-OutputArea-output:has-text('detector:')", timeout=45_000)
            assert output.is_file(), f"the notebook did not save {output}"
            default = _saved_line(output)
            frame = page.locator("img.aistack-frame")
            frame.scroll_into_view_if_needed()
            page.wait_for_function("document.querySelector('img.aistack-frame').naturalWidth > 0")
            box = frame.bounding_box()
            assert box is not None and box["width"] > 100
            # Drag the line's end P2 with the mouse to a new place on the frame.
            x2, y2 = default[2], default[3]
            target = (0.7, 0.2)
            page.mouse.move(box["x"] + x2 * box["width"], box["y"] + y2 * box["height"])
            page.mouse.down()
            page.mouse.move(
                box["x"] + target[0] * box["width"],
                box["y"] + target[1] * box["height"],
                steps=12,
            )
            page.mouse.up()
            status = page.locator(".aistack-status")
            status.filter(has_text="corner 2 at").wait_for()
            page.locator("button.aistack-save").click()
            status.filter(has_text="Saved").wait_for()
            deadline = time.monotonic() + 20
            while _saved_line(output) == default and time.monotonic() < deadline:
                time.sleep(0.1)  # the kernel writes the file; the browser cannot wait on it
            page.locator(".aistack-tuner").screenshot(path=str(screenshot))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "tune_lines_failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    elapsed = time.monotonic() - started
    moved = _saved_line(output)
    assert moved[:2] == pytest.approx(default[:2], abs=1e-4)  # P1 stayed where it was
    assert moved[2:] == pytest.approx(list(target), abs=0.02)  # P2 is where the mouse let go
    config = load_config(output)  # what `aistack run` reads
    assert config.cameras[0].lines[0].points == tuple(moved)
    assert elapsed < 90, f"the browser part took {elapsed:.0f} s"
