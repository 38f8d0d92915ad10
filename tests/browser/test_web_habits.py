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

from ferryman.archive.sevenzip.process import find_7zz
from ferryman.samples import make_photo_set, make_zip
from tests.support.browser import DESKTOP, NEEDS_CHROMIUM, PHONE
from tests.support.httpserve import serving
from tests.support.webserve import WebServer, running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
CSRF = {"X-Ferryman-CSRF": "1"}
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/pagewords-shots"))


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


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """One server for the module: each test finds its own job by its name."""
    with running_web(tmp_path_factory.mktemp("habits") / "data") as server:
        yield server


@pytest.fixture(scope="module")
def holiday(web: WebServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An uploaded zip cut short (a download that did not finish), its job failed."""
    folder = tmp_path_factory.mktemp("holiday")
    photos = make_photo_set(folder / "in", 3, start_seed=31)
    whole = make_zip(folder / "whole.zip", [(p.name, p) for p in photos])
    cut = folder / "holiday.zip"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with web.client() as api:
        made = api.post(
            "/api/v1/uploads", json={"name": cut.name, "size": cut.stat().st_size}, headers=CSRF
        ).json()
        put = api.put(
            f"/api/v1/uploads/{made['id']}",
            content=cut.read_bytes(),
            headers=CSRF
            | {"Content-Range": f"bytes 0-{cut.stat().st_size - 1}/{cut.stat().st_size}"},
        )
        assert put.status_code < 300, put.text
        job = api.post("/api/v1/jobs", json={"upload_id": made["id"]}, headers=CSRF).json()
    web.wait_for(job["id"], ("failed",), within=60)
    return "holiday"


def _card(page: Any, name: str) -> Any:
    return page.locator("li.job").filter(has=page.locator("strong", has_text=name)).first


def test_a_card_shows_words_and_folds_its_code_under_details(
    web: WebServer, holiday: str, page: Any
) -> None:
    page.goto(web.base)
    item = _card(page, holiday)
    expect(item).to_have_attribute("data-status", "failed")
    error = item.locator(".error")
    expect(item.get_by_text("Details")).to_be_visible()
    code = item.locator("details.code-details code")
    expect(code).to_be_hidden()
    expect(code).to_have_text(re.compile(r"^archive\.[a-z_]+$"))
    shown = error.inner_text()
    assert not re.search(r"\barchive\.[a-z_]+", shown), shown
    item.get_by_text("Details").click()
    expect(code).to_be_visible()
    _shots(page, "failed-card-light")


def test_an_uploaded_file_is_not_told_to_download_again(
    web: WebServer, holiday: str, page: Any
) -> None:
    page.goto(web.base)
    error = _card(page, holiday).locator(".error")
    expect(error.locator(".next")).to_contain_text("Upload")
    shown = error.inner_text().lower()
    assert "download it again" not in shown and "re-download" not in shown, shown


def test_every_per_job_control_is_named_with_its_job(
    web: WebServer, holiday: str, page: Any
) -> None:
    page.goto(web.base)
    item = _card(page, holiday)
    expect(item.get_by_role("button", name="Retry holiday", exact=True)).to_be_visible()
    expect(item.get_by_role("button", name="Remove holiday", exact=True)).to_be_visible()
    expect(item.get_by_role("checkbox", name="Select holiday", exact=True)).to_be_visible()


def test_no_job_number_is_shown_for_a_password_given_twice(
    web: WebServer, tmp_path: Path, page: Any
) -> None:
    seven = find_7zz()
    if seven is None:
        pytest.skip("no 7zz to make an encrypted zip")
    photos = make_photo_set(tmp_path / "locked", 1, start_seed=40)
    locked = tmp_path / "locked.zip"
    subprocess.run(
        [str(seven.path), "a", "-tzip", "-pOpen sesame", str(locked), photos[0].name],
        cwd=photos[0].parent,
        check=True,
        capture_output=True,
    )
    page.goto(web.base)
    page.get_by_label("Files").set_input_files(str(locked))
    page.get_by_role("button", name="Start").click()
    asks = page.locator('li.job[data-status="needs_password"]')
    expect(asks).to_have_count(1, timeout=60_000)
    for _ in range(2):  # the same wrong one twice: said on the card
        asks.get_by_label("Password").fill("wrong")
        asks.get_by_role("button", name="Send password").click()
        expect(asks).to_contain_text("That password did not open it", timeout=60_000)
    alert = asks.get_by_role("alert")
    expect(alert).to_contain_text("given this password before")
    assert not re.search(r"\bjob \d+", alert.inner_text()), alert.inner_text()
    assert not re.search(r"\bjob \d+", page.locator("#jobs").inner_text())
    page.get_by_label("Theme").select_option("dark")
    _shots(page, "cards-dark")


def test_enter_in_the_link_box_starts_and_shift_enter_is_a_new_line(
    web: WebServer, page: Any
) -> None:
    with serving() as links:
        page.goto(web.base)
        jobs = page.locator("li.job")
        before = jobs.count()
        box = page.get_by_role("textbox", name="Link")
        box.fill(links.url("/one.mp4"))
        box.press("Shift+Enter")  # a new line for another link, nothing started
        box.type(links.url("/two.mp4"))
        assert box.input_value().count("\n") == 1
        expect(jobs).to_have_count(before)
        box.press("Enter")
        # Two link jobs made, each card shown by its event: past expect's default 5 s
        # at load 20 and more (seen three times), as this file's other waits allow.
        expect(jobs).to_have_count(before + 2, timeout=60_000)
        expect(box).to_have_value("")


def test_a_file_dropped_beside_the_form_is_taken_and_the_page_stays(
    web: WebServer, tmp_path: Path, page: Any
) -> None:
    photos = make_photo_set(tmp_path / "in", 2, start_seed=50)
    archive = make_zip(tmp_path / "dropped.zip", [(p.name, p) for p in photos])
    page.goto(web.base)
    expect(page.get_by_text("Drop files here")).to_be_visible()  # the zone says so
    cancelled = page.evaluate(
        """([name, hex]) => {
          const bytes = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], name, { type: "application/zip" }));
          const at = document.querySelector("header h1");  // beside the form
          const over = at.dispatchEvent(new DragEvent("dragover",
            { dataTransfer: dt, bubbles: true, cancelable: true }));
          const drop = at.dispatchEvent(new DragEvent("drop",
            { dataTransfer: dt, bubbles: true, cancelable: true }));
          return [over, drop];
        }""",
        ["dropped.zip", archive.read_bytes().hex()],
    )
    assert cancelled == [False, False]  # both default actions prevented: no navigation
    expect(page.locator("#upload-state")).to_contain_text("dropped.zip ready")
    page.get_by_role("button", name="Start").click()
    item = _card(page, "dropped")
    expect(item).to_have_attribute("data-status", "done", timeout=60_000)
    expect(item.locator(".source")).to_contain_text("dropped.zip")
    _shots(page, "habits-light")


def test_the_theme_is_auto_light_or_dark_and_kept(web: WebServer, page: Any) -> None:
    page.goto(web.base)
    theme = page.get_by_label("Theme")
    expect(theme).to_have_value("auto")
    assert not _dark(page)  # auto on a light system
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


def test_the_viewer_steps_by_button_key_and_swipe_and_says_where_it_is(
    web: WebServer, tmp_path: Path, browser: Any
) -> None:
    photos = make_photo_set(tmp_path / "in", 3, start_seed=60)
    archive = make_zip(tmp_path / "trip.zip", [(p.name, p) for p in photos])
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(web.base)
        page.get_by_label("Files").set_input_files(str(archive))
        page.get_by_role("button", name="Start").click()
        item = _card(page, "trip")
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
        page.emulate_media(color_scheme="dark")
        _shots(page, "viewer-dark", whole=False)
        # A finger swiping right (left to right) goes back one.
        cdp = context.new_cdp_session(page)
        steps = (("touchStart", 80), ("touchMove", 200), ("touchMove", 300), ("touchEnd", 0))
        for kind, x in steps:
            points = [] if kind == "touchEnd" else [{"x": x, "y": 400}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
        expect(place).to_have_text("2 / 3")
        page.keyboard.press("ArrowLeft")
        expect(place).to_have_text("1 / 3")
    finally:
        context.close()
