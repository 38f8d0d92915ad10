"""The form's "To an rclone remote" (issue 81, item 1), in Debian's Chromium against
`ferryman web` and ``rclone serve webdav`` on loopback: with no rclone.conf kept the
choice says where to give one and Start refuses at once; once one is kept, the picker
holds its remotes, and a file added with a remote and a folder becomes a job to
``rclone:REMOTE:folder`` whose photo lands on the WebDAV server byte for byte.
Screenshots of the form go to $FERRYMAN_SCREENSHOTS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ferryman.net.rclone import rclone_binary
from tests.support.browser import NEEDS_CHROMIUM, PHONE
from tests.support.rclone_serve import serve
from tests.support.waiting import eventually_sync
from tests.support.webserve import WebServer, running_web

BINARY = rclone_binary()
pytestmark = [
    pytest.mark.slow,
    NEEDS_CHROMIUM,
    pytest.mark.skipif(BINARY is None, reason="rclone is not installed here"),
]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/rclone-panel-shots"))


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    data = tmp_path_factory.mktemp("rclone-dest") / "data"
    with running_web(data, FERRYMAN_NETWORK__PRIVATE_ALLOWED='["127.0.0.1"]') as server:
        yield server


def test_a_job_to_an_rclone_remote_is_added_from_the_form_and_delivered(
    web: WebServer, tmp_path: Path, page: Any
) -> None:
    assert BINARY is not None
    photo = tmp_path / "beach.jpg"
    Image.new("RGB", (160, 120), (200, 120, 40)).save(photo, quality=90)
    dav = tmp_path / "dav"
    dav.mkdir()
    with serve(BINARY, "webdav", dav, "photos") as conf:
        page.goto(web.base)
        form = page.locator("#start")
        to_rclone = form.get_by_label("To an rclone remote")
        to_rclone.check()
        none = form.locator("#rclone-none")
        expect(none).to_be_visible()
        expect(none).to_contain_text("give your rclone.conf")
        expect(form.get_by_label("Remote", exact=True)).to_be_hidden()
        form.get_by_label("Files").set_input_files(str(photo))
        form.get_by_role("button", name="Start").click()
        expect(form.get_by_role("alert")).to_contain_text("Choose a remote first")
        with web.client(headers={"x-ferryman-csrf": "1"}) as client:
            assert client.get("/api/v1/jobs").json()["jobs"] == []  # nothing was sent
            kept = client.put(
                "/api/v1/rclone", content=(conf + "[more]\ntype = s3\nprovider = AWS\n").encode()
            )
            assert kept.status_code == 200, kept.text

        page.reload()  # the destination chosen last is chosen again, its picker filled
        expect(to_rclone).to_be_checked()
        remote = form.get_by_label("Remote", exact=True)
        expect(remote).to_be_visible()
        names = remote.locator("option").evaluate_all("os => os.map(o => o.value)")
        assert names == ["photos", "more"]
        expect(none).to_be_hidden()
        remote.select_option("photos")
        form.get_by_label("Folder").fill("Trips/2024")
        form.get_by_label("Files").set_input_files(str(photo))
        SHOTS.mkdir(parents=True, exist_ok=True)
        form.screenshot(path=str(SHOTS / "rclone-dest-1280.png"))
        page.set_viewport_size(PHONE)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the form scrolls sideways on a phone"
        form.screenshot(path=str(SHOTS / "rclone-dest-390.png"))
        with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/jobs")) as sent:
            form.get_by_role("button", name="Start").click()
        assert sent.value.post_data_json["deliver"] == {"to": "rclone", "chat": "photos:Trips/2024"}
        card = page.locator("#jobs li.job")
        expect(card).to_have_count(1, timeout=30_000)
        job = int(card.get_attribute("data-job"))
        view = web.wait_for(job, ("done", "failed"))
        assert view["dest"] == "rclone:photos:Trips/2024", view
        assert view["status"] == "done", view

        def landed() -> list[Path]:
            return [p for p in (dav / "Trips" / "2024").rglob("*.jpg") if p.is_file()]

        there = eventually_sync(landed, "the photo on the WebDAV server", within=30)
        assert [p.read_bytes() for p in there] == [photo.read_bytes()]
