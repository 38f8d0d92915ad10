"""The page's own words and small habits, in Debian's Chromium against `ferryman web`:
no error code, setting or job number on a card (the code under "Details"), steps that
know an upload from a download, Enter starts, files dropped anywhere are taken, the
viewer steps (buttons, keys, a swipe) and says where it is, every per-job control has
its job's name, and a light/dark/auto theme that is kept."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.archive.sevenzip_process import find_7zz
from ferryman.samples import make_photo_set, make_zip
from tests.browser import DESKTOP, NEEDS_CHROMIUM, PHONE, chromium
from tests.httpserve import serving
from tests.webserve import running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/pagewords-shots"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _context(browser: Any, **options: Any) -> Any:
    return browser.new_context(**({"viewport": DESKTOP} | options))


def _shots(page: Any, name: str, *, whole: bool = True) -> None:
    """The page at 1280 and 390 px, as it is now (kept to be looked at)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for label, viewport in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=whole)
    page.set_viewport_size(size)


def _dark(page: Any) -> bool:
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    if background == "rgba(0, 0, 0, 0)":  # none of its own: the light canvas shows
        return False
    red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
    return red + green + blue < 150


def _cut_zip(folder: Path) -> Path:
    """A zip made by zipfile, then cut short: a download that did not finish."""
    photos = make_photo_set(folder / "in", 3, start_seed=31)
    whole = make_zip(folder / "whole.zip", [(p.name, p) for p in photos])
    cut = folder / "holiday.zip"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return cut


def test_a_card_speaks_words_not_codes_settings_or_job_numbers(
    tmp_path: Path, browser: Any
) -> None:
    seven = find_7zz()
    if seven is None:
        pytest.skip("no 7zz to make an encrypted zip")
    cut = _cut_zip(tmp_path)
    photos = make_photo_set(tmp_path / "locked", 1, start_seed=40)
    locked = tmp_path / "locked.zip"
    subprocess.run(
        [str(seven.path), "a", "-tzip", "-pOpen sesame", str(locked), photos[0].name],
        cwd=photos[0].parent,
        check=True,
        capture_output=True,
    )
    context = _context(browser)
    page = context.new_page()
    try:
        with running_web(tmp_path / "data") as web:
            page.goto(web.base)
            page.get_by_label("Files").set_input_files(str(cut))
            page.get_by_role("button", name="Start").click()
            item = page.locator("li.job").first
            expect(item).to_have_attribute("data-status", "failed", timeout=60_000)
            error = item.locator(".error")
            # The code is folded under Details, not a chip of its own.
            expect(item.get_by_text("Details")).to_be_visible()
            code = item.locator("details.code-details code")
            expect(code).to_be_hidden()
            expect(code).to_have_text(re.compile(r"^archive\.[a-z_]+$"))
            shown = error.inner_text()
            assert not re.search(r"\barchive\.[a-z_]+", shown), shown
            # An uploaded file is uploaded again, not downloaded again.
            assert "download it again" not in shown.lower(), shown
            assert "re-download" not in shown.lower(), shown
            expect(error.locator(".next")).to_contain_text("Upload")
            item.get_by_text("Details").click()
            expect(code).to_be_visible()
            # Its controls carry its name for a screen reader.
            expect(item.get_by_role("button", name="Retry holiday", exact=True)).to_be_visible()
            expect(item.get_by_role("button", name="Remove holiday", exact=True)).to_be_visible()
            expect(item.get_by_role("checkbox", name="Select holiday")).to_be_visible()
            _shots(page, "failed-card-light")

            page.get_by_label("Files").set_input_files(str(locked))
            page.get_by_role("button", name="Start").click()
            asks = page.locator('li.job[data-status="needs_password"]')
            expect(asks).to_have_count(1, timeout=60_000)
            send = asks.get_by_role("button", name="Send password")
            for _ in range(2):  # the same wrong one twice: said on the card
                asks.get_by_label("Password").fill("wrong")
                send.click()
                expect(asks).to_contain_text("That password did not open it", timeout=60_000)
            alert = asks.get_by_role("alert")
            expect(alert).to_contain_text("given this password before")
            assert not re.search(r"\bjob \d+", alert.inner_text()), alert.inner_text()
            assert not re.search(r"\bjob \d+", page.locator("#jobs").inner_text())
            page.get_by_label("Theme").select_option("dark")
            _shots(page, "cards-dark")
    finally:
        context.close()


def test_enter_starts_a_drop_anywhere_is_taken_and_the_theme_is_kept(
    tmp_path: Path, browser: Any
) -> None:
    photos = make_photo_set(tmp_path / "in", 2, start_seed=50)
    archive = make_zip(tmp_path / "dropped.zip", [(p.name, p) for p in photos])
    context = _context(browser, color_scheme="light")
    page = context.new_page()
    try:
        with serving() as links, running_web(tmp_path / "data") as web:
            page.goto(web.base)
            box = page.get_by_role("textbox", name="Link")
            box.fill(links.url("/one.mp4"))
            box.press("Shift+Enter")  # a new line for another link, nothing started
            box.type(links.url("/two.mp4"))
            assert box.input_value().count("\n") == 1
            expect(page.locator("li.job")).to_have_count(0)
            box.press("Enter")
            expect(page.locator("li.job")).to_have_count(2)
            expect(box).to_have_value("")

            # The drop zone says so in words; a file dropped on the header (beside the
            # form) is taken, and the browser does not leave the page to show it.
            expect(page.get_by_text("Drop files here")).to_be_visible()
            data = archive.read_bytes().hex()
            cancelled = page.evaluate(
                """([name, hex]) => {
                  const bytes = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
                  const dt = new DataTransfer();
                  dt.items.add(new File([bytes], name, { type: "application/zip" }));
                  const at = document.querySelector("header h1");
                  const over = at.dispatchEvent(new DragEvent("dragover",
                    { dataTransfer: dt, bubbles: true, cancelable: true }));
                  const drop = at.dispatchEvent(new DragEvent("drop",
                    { dataTransfer: dt, bubbles: true, cancelable: true }));
                  return [over, drop];
                }""",
                ["dropped.zip", data],
            )
            assert cancelled == [False, False]  # both default actions prevented
            expect(page.locator("#upload-state")).to_contain_text("dropped.zip ready")
            assert page.evaluate("document.getElementById('files').files[0].name") == (
                "dropped.zip"
            )
            page.get_by_role("button", name="Start").click()
            expect(page.locator("li.job")).to_have_count(3)
            first = page.locator("li.job").first
            expect(first).to_have_attribute("data-status", "done", timeout=60_000)
            expect(first.locator(".source")).to_contain_text("dropped.zip")
            _shots(page, "habits-light")

            # Theme: Auto follows the system; Dark and Light are kept across a reload.
            theme = page.get_by_label("Theme")
            expect(theme).to_have_value("auto")
            assert not _dark(page)
            theme.select_option("dark")
            assert _dark(page)
            page.reload()
            expect(page.get_by_label("Theme")).to_have_value("dark")
            assert _dark(page)
            _shots(page, "habits-dark")
            page.emulate_media(color_scheme="dark")
            page.get_by_label("Theme").select_option("light")
            assert not _dark(page)  # chosen light over a dark system
            page.get_by_label("Theme").select_option("auto")
            assert _dark(page)  # auto: the system's dark
    finally:
        context.close()


def test_the_viewer_steps_by_button_key_and_swipe_and_says_where_it_is(
    tmp_path: Path, browser: Any
) -> None:
    photos = make_photo_set(tmp_path / "in", 3, start_seed=60)
    archive = make_zip(tmp_path / "trip.zip", [(p.name, p) for p in photos])
    context = _context(browser, viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        with running_web(tmp_path / "data") as web:
            page.goto(web.base)
            page.get_by_label("Files").set_input_files(str(archive))
            page.get_by_role("button", name="Start").click()
            item = page.locator("li.job").first
            expect(item).to_have_attribute("data-status", "done", timeout=60_000)
            item.locator("summary").click()
            item.get_by_role("button", name=re.compile("^Open ")).first.click()
            viewer = page.get_by_role("dialog")
            place = viewer.locator(".place")
            expect(place).to_have_text("1 / 3")
            expect(viewer.get_by_role("button", name="Previous")).to_be_disabled()
            viewer.get_by_role("button", name="Next").click()
            expect(place).to_have_text("2 / 3")
            page.keyboard.press("ArrowRight")
            expect(place).to_have_text("3 / 3")
            expect(viewer.get_by_role("button", name="Next")).to_be_disabled()
            _shots(page, "viewer", whole=False)  # the overlay, as the screen shows it
            # A finger swiping right (left to right) goes back one.
            cdp = context.new_cdp_session(page)
            y = 400
            steps = (("touchStart", 80), ("touchMove", 200), ("touchMove", 300), ("touchEnd", 0))
            for kind, x in steps:
                points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
                cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
            expect(place).to_have_text("2 / 3")
            page.keyboard.press("ArrowLeft")
            expect(place).to_have_text("1 / 3")
    finally:
        context.close()
