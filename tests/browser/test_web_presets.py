"""Presets on the page's form, in Debian's Chromium against `ferryman web`: the Preset
choice offers the machine's own presets (``ferryman preset add``'s) and the built-in
ones; choosing one sets the output and destination fields, and the request the form
sends carries its choices (subtitles too); a field changed by hand puts it back to None.
Looked at at 1280 and 390 px."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.links import presets
from tests.support.browser import DESKTOP, NEEDS_CHROMIUM, PHONE
from tests.support.webserve import WebServer, running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/presets-shots"))
WAIT = 60_000  # ms: a loaded machine is slow


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    data = tmp_path_factory.mktemp("presets") / "data"
    presets.add(data, None, presets.Preset("pod", "mp3-128+subs-en.de", "library:"))
    presets.add(data, None, presets.Preset("far", "video-720", "library:/srv/far"))
    with running_web(data) as server:
        yield server


def test_the_api_lists_the_presets_there_are(web: WebServer) -> None:
    with web.client() as api:
        answer = api.get("/api/v1/presets")
    assert answer.status_code == 200, answer.text
    rows = {p["name"]: p for p in answer.json()}
    assert [p["name"] for p in answer.json()][:2] == ["far", "pod"]  # yours first
    assert rows["pod"] == {
        "name": "pod",
        "profile": "mp3-128+subs-en.de",
        "dest": "library:",
        "builtin": False,
        "says": rows["pod"]["says"],
    }
    assert rows["pod"]["says"].startswith("MP3 128 kbps")
    assert rows["mp3"]["builtin"] and rows["mp3"]["profile"] == "mp3-192"


def test_a_preset_fills_the_form_and_goes_with_the_request(web: WebServer, page: Any) -> None:
    page.goto(web.base)
    choice = page.locator("#preset")
    expect(choice).to_be_visible(timeout=WAIT)
    names = choice.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert names[:3] == ["", "far", "pod"] and {"mp3", "720p", "best"} <= set(names)
    expect(choice.locator("option[value=far]")).to_contain_text(
        "its destination is the command line's"
    )
    choice.select_option("pod")
    expect(page.locator("#output")).to_have_value("audio")
    expect(page.locator("#format")).to_have_value("mp3")
    expect(page.locator("#bitrate")).to_have_value("128")
    expect(page.locator("input[name=dest][value=library]")).to_be_checked()
    expect(page.locator("#quality")).to_be_hidden()
    SHOTS.mkdir(parents=True, exist_ok=True)
    form = page.locator("#start")
    for label, viewport in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(viewport)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{label}: the page scrolls sideways"
        form.screenshot(path=str(SHOTS / f"presets-{label}.png"))
    page.set_viewport_size(DESKTOP)

    page.locator("#link").fill("https://example.com/watch?v=preset")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/jobs")) as sent:
        page.locator("#start button[type=submit]").click()
    body = sent.value.post_data_json
    assert body["output"] == {
        "kind": "audio",
        "format": "mp3",
        "bitrate": 128,
        "subs": ["en", "de"],
    }
    assert body["deliver"] == {"to": "library"}
    # The job made, the form is reset to the choices last sent (app.js `start`): changed
    # before that, the reset put them back under the test's hand (seen on a loaded machine).
    expect(page.locator("#link")).to_have_value("", timeout=WAIT)
    expect(page.locator("#output")).to_have_value("audio")

    choice.select_option("720p")
    expect(page.locator("#output")).to_have_value("video")
    expect(page.locator("#quality")).to_have_value("720p")
    page.locator("#quality").select_option("480p")  # by hand: no preset says this any more
    expect(choice).to_have_value("")
