"""More of the page's habits (issue 47, item 6), in Debian's Chromium against `ferryman
web`: "Audio only" makes an uploaded video's sound, a Library job says where its files
went and shows their previews, and a cookies.txt for sites behind a login is given,
shown (never its contents) and removed. Screenshots at 390 and 1280 px, light and dark,
go to $FERRYMAN_SCREENSHOTS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.samples import make_video
from tests.support.browser import DESKTOP, NEEDS_CHROMIUM, PHONE
from tests.support.webserve import WebServer, running_web

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SHOTS = Path(os.environ.get("FERRYMAN_SCREENSHOTS", "/tmp/pagehabits-shots"))
COOKIES = (
    "# Netscape HTTP Cookie File\n"
    ".youtube.com\tTRUE\t/\tTRUE\t1893456000\tSID\tsecret-sid\n"
    "#HttpOnly_.x.com\tTRUE\t/\tFALSE\t0\tauth_token\tsecret-auth\n"
)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    with running_web(tmp_path_factory.mktemp("habits-more") / "data") as server:
        yield server


def _shots(page: Any, name: str, *, whole: bool = True) -> None:
    """The page at 1280 and 390 px, light and dark, as it is now."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for label, viewport in (("1280", DESKTOP), ("390", PHONE)):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(SHOTS / f"{name}-{scheme}-{label}.png"), full_page=whole)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(size)


def _card(page: Any, name: str) -> Any:
    return page.locator("li.job").filter(has=page.locator("strong", has_text=name)).first


def test_an_uploaded_video_chosen_audio_only_is_delivered_as_its_sound(
    web: WebServer, tmp_path: Path, page: Any
) -> None:
    """The page refused ("Audio, quality and mute apply to links") before any byte
    went up; now the upload's job makes an MP3 of the video's sound."""
    video = make_video(tmp_path / "concert.mp4", 7, seconds=1.5)
    page.goto(web.base)
    page.get_by_label("Make").select_option("audio")
    page.get_by_label("Format").select_option("mp3")
    page.get_by_label("Files").set_input_files(str(video))
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#form-error")).to_be_empty()
    item = _card(page, "concert")
    expect(item).to_have_attribute("data-status", "done", timeout=90_000)
    expect(item.locator(".files")).to_contain_text("concert.mp3")
    job = int(item.get_attribute("data-job"))
    with web.client() as api:
        view = api.get(f"/api/v1/jobs/{job}").json()
    assert [(f["name"], f["kind"], f["mime"]) for f in view["result"]["files"]] == [
        ("concert.mp3", "audio", "audio/mpeg")
    ]
    _shots(page, "audio-upload")


def test_a_cookies_txt_is_given_shown_as_sites_and_removed(
    web: WebServer, tmp_path: Path, page: Any
) -> None:
    bad = tmp_path / "page.html"
    bad.write_text("<html>Sign in</html>\n")
    good = tmp_path / "cookies.txt"
    good.write_text(COOKIES)
    page.goto(web.base)
    panel = page.locator("#cookies-panel")
    panel.get_by_text("Cookies for sites behind a login").click()
    state = panel.get_by_role("status")
    expect(state).to_contain_text("None kept")
    expect(panel.get_by_role("button", name="Remove cookies")).to_be_hidden()
    panel.get_by_label("cookies.txt").set_input_files(str(bad))
    alert = panel.get_by_role("alert")
    expect(alert).to_contain_text("line 1")
    expect(alert).to_contain_text("Get cookies.txt")
    _shots(page, "cookies-refused")
    panel.get_by_label("cookies.txt").set_input_files(str(good))
    expect(state).to_contain_text("Kept: 2 cookies for x.com, youtube.com")
    expect(panel.locator("#cookies-error")).to_be_empty()
    page.reload()
    panel = page.locator("#cookies-panel")
    panel.locator("summary").click()
    expect(panel.get_by_role("status")).to_contain_text("2 cookies")
    expect(panel.locator("summary")).to_contain_text("kept")
    assert "secret" not in page.content()
    _shots(page, "cookies-kept")
    with web.client() as api:
        assert "secret" not in api.get("/api/v1/cookies").text
    kept = web.data / "cookies" / "cookies.txt"
    assert "secret-sid" in kept.read_text()  # on the server, for the next links
    panel.get_by_role("button", name="Remove cookies").click()
    expect(panel.get_by_role("status")).to_contain_text("None kept")
    assert not kept.exists()


def _library_job(web: WebServer, tmp_path: Path, page: Any, name: str) -> Any:
    """A zip of two photos and a video sent to the Library through the page, done."""
    from ferryman.samples import make_photo_set, make_zip

    photos = make_photo_set(tmp_path / "in", 2, start_seed=71)
    clip = make_video(tmp_path / "in" / "walk.mp4", 8, seconds=1.0)
    archive = make_zip(tmp_path / f"{name}.zip", [(p.name, p) for p in [*photos, clip]])
    page.goto(web.base)
    page.get_by_label("Library").check()
    page.get_by_label("Files").set_input_files(str(archive))
    page.get_by_role("button", name="Start").click()
    item = _card(page, name)
    expect(item).to_have_attribute("data-status", "done", timeout=90_000)
    return item


def test_a_library_job_says_its_folder_and_shows_previews(
    web: WebServer, tmp_path: Path, page: Any
) -> None:
    """A Library job's card said nothing of where its files went; now it names the
    folder under the library's root (and the root) and shows previews of the three."""
    item = _library_job(web, tmp_path, page, "seaside")
    where = item.locator(".library .where").first
    expect(where).to_be_hidden()  # in the row's details: the row stays one line
    item.get_by_role("button", name="Details of seaside").click()
    expect(where).to_contain_text("In the library: seaside")
    root = web.data / "library"
    expect(where).to_contain_text(f"under {root}")
    assert (root / "seaside").is_dir()
    thumbs = item.locator(".library img")
    expect(thumbs).to_have_count(3)
    page.wait_for_function(
        """() => [...document.querySelectorAll(".library img")]
              .every((i) => i.complete && i.naturalWidth > 0)"""
    )
    assert sorted(thumbs.evaluate_all("(all) => all.map((i) => i.alt)"))[-1] == "walk.mp4"
    page.get_by_label("Theme").select_option("auto")
    _shots(page, "library-job")


def test_a_preview_link_serves_only_a_file_of_its_job_inside_the_library(
    web: WebServer, tmp_path: Path, page: Any
) -> None:
    import time

    from ferryman.web.signing import Signer, load_secret

    item = _library_job(web, tmp_path, page, "harbour")
    job = int(item.get_attribute("data-job"))
    secret = Signer(load_secret(web.data))
    outside = tmp_path / "outside.jpg"
    outside.write_bytes((web.data / "library" / "harbour").iterdir().__next__().read_bytes())
    (web.data / "library" / "harbour" / "link.jpg").symlink_to(outside)
    with web.client() as api:
        where = api.get(f"/api/v1/jobs/{job}/library").json()
        assert where["folder"] == "harbour" and where["files_total"] == 3
        got = api.get(where["files"][0]["preview"])
        assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
        assert got.content[:4] == b"RIFF" and got.content[8:12] == b"WEBP"
        later = time.time() + 60
        for path in ("../web.secret", "harbour/link.jpg", "/etc/passwd", "harbour/none.jpg"):
            token = secret.sign(job, "library-preview:" + path, later)
            refused = api.get(f"/l/{token}")
            assert refused.status_code == 410, (path, refused.text)
        results = secret.sign(job, where["files"][0]["path"], later)  # a /d/ grant
        assert api.get(f"/l/{results}").status_code == 403
        data = outside.read_bytes()  # a job delivered as links, not to the library
        up = api.post("/api/v1/uploads", json={"name": "one.jpg", "size": len(data)}).json()
        sent = f"bytes 0-{len(data) - 1}/{len(data)}"
        api.put(f"/api/v1/uploads/{up['id']}", content=data, headers={"Content-Range": sent})
        linked = api.post("/api/v1/jobs", json={"upload_id": up["id"]}).json()["id"]
        refused = api.get(f"/api/v1/jobs/{linked}/library")
        assert refused.status_code == 422 and "library" in refused.json()["error"]["message"]
        previews = web.data / "cache" / "library-previews" / str(job)
        assert previews.is_dir()
        assert api.delete(f"/api/v1/jobs/{job}").status_code == 204
        assert not previews.exists() and (web.data / "library" / "harbour").is_dir()
