"""The audit page in headless Chromium, used with real clicks and keys, down to the saved CSV."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from aistack.evaluation.crossings import read_crossings
from tests.audit.conftest import FRAMES, AnnotateRun

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def require_or_skip(reason: str) -> NoReturn:
    """Skip, or fail where CI promises everything is installed (AISTACK_REQUIRE_SERVICES=1)."""
    if os.environ.get("AISTACK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"AISTACK_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def page(annotate_run: AnnotateRun) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip("playwright is not installed: pip install playwright")
    if not os.path.exists(CHROMIUM):
        require_or_skip("chromium is not installed: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(annotate_run.page.resolve().as_uri())
        yield tab
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "annotate_page.png"), full_page=True)
        browser.close()
        assert errors == []


def row(page: Any, frame: int) -> Any:
    """The table row of the crossing at `frame`."""
    return page.locator("#line-0 tbody tr").filter(
        has=page.locator(f'input.frame[value="{frame}"]')
    )


def test_review_add_flip_and_save_crossings_csv(
    page: Any, annotate_run: AnnotateRun, tmp_path: Path
) -> None:
    rows = page.locator("#line-0 tbody tr")
    counted = page.locator("#line-0 tbody tr.st-counted")
    assert counted.count() == 3  # frames 12, 19 and 64, all out
    assert rows.count() >= 3

    row(page, 12).locator("input.confirm").check()  # confirm: the tick
    assert "st-confirmed" in (row(page, 12).get_attribute("class") or "")
    row(page, 64).locator("button.remove").click()  # remove
    assert "st-removed" in (row(page, 64).get_attribute("class") or "")

    row(page, 19).locator("td").nth(1).click()  # select it, then keys: confirm, flip to "in"
    page.keyboard.press("c")
    page.keyboard.press("d")
    assert row(page, 19).locator("button.dir").inner_text() == "in"

    strip = page.locator("#line-0 .strip")
    box = strip.bounding_box()
    frame = 40
    strip.click(position={"x": (frame + 0.5) * box["width"] / FRAMES, "y": 30})  # add
    added = page.locator("#line-0 tbody tr.selected")
    assert added.locator("input.frame").input_value() == str(frame)
    assert "st-confirmed" in (added.get_attribute("class") or "")
    film = page.locator("#line-0 .film figure")
    assert page.locator("#line-0 .film figure.at").get_attribute("data-frame") == str(frame)
    assert film.count() >= 5  # the frames around the click
    page.locator('#line-0 .film figure[data-frame="41"]').click()  # its frame: the next one
    added = page.locator("#line-0 tbody tr.selected")
    assert added.locator("input.frame").input_value() == "41"
    added.locator("button.dir").click()  # flip: added crossings start "in"
    assert added.locator("button.dir").inner_text() == "out"
    added.locator("input.note").fill("behind the post")

    assert "confirmed" in page.locator("#line-0 .tally").inner_text()
    with page.expect_download() as download_info:
        page.locator("#save").click()
    download = download_info.value
    assert download.suggested_filename == "crossings.csv"
    saved = tmp_path / "crossings.csv"
    download.save_as(str(saved))
    assert saved.read_text().splitlines()[0] == "line,frame,direction,class,note"
    saved_crossings = read_crossings(saved)
    # Track numbers depend on the detector; where and when each crossing was counted do not.
    assert [(c.line, c.frame, c.direction, c.class_name) for c in saved_crossings] == [
        ("walkway", 12, "out", "person"),
        ("walkway", 19, "in", "person"),
        ("walkway", 41, "out", "person"),
    ]
    assert re.fullmatch(r"aistack track \d+, counted at frame 14", saved_crossings[0].note)
    assert re.fullmatch(r"aistack track \d+, counted at frame 21", saved_crossings[1].note)
    assert saved_crossings[2].note == "behind the post"
    assert "saved 3 confirmed crossing(s)" in page.locator("#message").inner_text()


def test_an_unknown_class_is_not_saved(page: Any) -> None:
    first = page.locator("#line-0 tbody tr").first
    first.locator("input.confirm").check()
    first.locator("input.cls").fill("unicorn")
    page.locator("#save").click()
    assert "'unicorn' is not a COCO class" in page.locator("#message").inner_text()
    assert "bad" in (first.locator("input.cls").get_attribute("class") or "")
