"""The results you can see: a finished job's files as previews in the page, a photo
opened, a video played (over Range requests), an audio file played, in Debian's
Chromium against `ferryman web`, with the results in a folder and in an S3 bucket."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from ferryman.samples import make_photo, make_photo_set, make_video, make_zip
from tests.media.test_media_audio import add_tone, write_tone
from tests.support.browser import DESKTOP, NEEDS_CHROMIUM, PHONE, chromium
from tests.support.clock import JumpingClock
from tests.support.s3serve import S3Server
from tests.support.webinproc import InProcessWeb, web_in_process
from tests.support.webserve import WebServer, running_web

pytestmark = [
    pytest.mark.slow,
    NEEDS_CHROMIUM,
]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    yield opened
    context.close()


def write_song(path: Path, seconds: float = 3.0) -> Path:
    """An AAC tone in an M4A, made by PyAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="ipod") as out:
        write_tone(out, add_tone(out, "aac"), 440.0, seconds)
    return path


def _trip(folder: Path) -> Path:  # (a song in an archive needs send_documents)
    """Two photos (one wide, one tall), a 4 s video and a 3 s song, zipped."""
    wide = make_photo(folder / "in" / "wide.jpg", 1, size=(1600, 1200))
    tall = folder / "in" / "tall.jpg"
    Image.open(wide).rotate(90, expand=True).save(tall, quality=90)
    video = make_video(folder / "in" / "clip.mp4", 3, seconds=4.0, size=(320, 240))
    song = write_song(folder / "in" / "song.m4a")
    files = [wide, tall, video, song]
    return make_zip(folder / "trip.zip", [(p.name, p) for p in files])


def _finished(page: Any, web: WebServer | InProcessWeb, archive: Path) -> Any:
    page.goto(web.base)
    page.get_by_label("Files").set_input_files(str(archive))
    page.get_by_role("button", name="Start").click()
    item = page.get_by_role("listitem").first
    expect(item).to_have_attribute("data-status", "done", timeout=120_000)
    return item


def _job_files(web: WebServer) -> list[dict[str, Any]]:
    with web.client() as client:
        jobs = client.get("/api/v1/jobs").json()
        (job,) = jobs["jobs"] if isinstance(jobs, dict) else jobs
        files: list[dict[str, Any]] = job["result"]["files"]
        return files


def _check_gallery(page: Any, item: Any, tmp_path: Path, shots: str) -> None:
    item.locator("summary").click()
    tiles = item.locator(".tile")
    expect(tiles).to_have_count(4)
    previews = item.locator(".tile img")
    expect(previews).to_have_count(3)  # two photos and the video; the song has an icon
    for index in range(3):
        img = previews.nth(index)
        img.scroll_into_view_if_needed()
        expect(img).to_have_attribute("loading", "lazy")
        loaded = "img => img.complete && img.naturalWidth > 0"
        page.wait_for_function(loaded, arg=img.element_handle())
        width = img.evaluate("img => Math.max(img.naturalWidth, img.naturalHeight)")
        assert width == 320  # the long side, from a 1600 px photo or the video's frame
    song = item.locator('.tile[data-kind="audio"]')
    expect(song).to_contain_text("0:03")
    expect(item.locator('.tile[data-kind="video"]')).to_contain_text("0:04")
    page.screenshot(path=f"{tmp_path}/{shots}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=f"{tmp_path}/{shots}-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)
    _keep(tmp_path, shots)


def _play_video(page: Any, item: Any, ranges: list[str]) -> None:
    item.get_by_role("button", name="Open clip.mp4").click()
    viewer = page.get_by_role("dialog")
    expect(viewer).to_be_visible()
    video = viewer.locator("video")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "() => { const v = document.querySelector('.viewer video');"
        " return v && v.readyState >= 3 && v.currentTime > 0.5; }",
        timeout=30_000,
    )
    assert any(r.startswith("bytes=") for r in ranges), ranges  # fetched in ranges
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(item.get_by_role("button", name="Open clip.mp4")).to_be_focused()


def test_a_finished_job_shows_previews_opens_a_photo_and_plays_video_and_audio(
    tmp_path: Path, page: Any
) -> None:
    archive = _trip(tmp_path)
    ranges = _ranges_of(page, "/d/")
    with running_web(tmp_path / "data", FERRYMAN_SEND_DOCUMENTS="true") as web:
        item = _finished(page, web, archive)
        _check_gallery(page, item, tmp_path, "local")
        item.get_by_role("button", name="Open tall.jpg").click()
        shown = page.get_by_role("dialog").locator("img")
        page.wait_for_function("() => document.querySelector('.viewer img')?.naturalWidth > 0")
        assert shown.evaluate("i => i.naturalHeight > i.naturalWidth")  # upright, full size
        page.screenshot(path=f"{tmp_path}/viewer-desktop.png")
        page.set_viewport_size(PHONE)
        page.screenshot(path=f"{tmp_path}/viewer-phone.png")
        page.set_viewport_size(DESKTOP)
        _keep(tmp_path, "viewer")
        page.keyboard.press("ArrowLeft")  # the file before it
        expect(page.get_by_role("dialog", name="wide.jpg")).to_be_visible()
        page.get_by_role("button", name="Close").click()
        expect(page.get_by_role("dialog")).to_be_hidden()
        _play_video(page, item, ranges)
        item.get_by_role("button", name="Open song.m4a").click()
        page.wait_for_function(
            "() => { const a = document.querySelector('.viewer audio');"
            " a && (a.muted = true); return a && a.currentTime > 0.3; }",
            timeout=30_000,
        )
        page.keyboard.press("Escape")

        files = {f["name"]: f for f in _job_files(web)}
        assert files["clip.mp4"]["kind"] == "video" and files["song.m4a"]["kind"] == "audio"
        assert files["song.m4a"]["preview"] is None
        assert abs(files["clip.mp4"]["duration"] - 4.0) < 0.2
        with web.client() as client:
            preview = files["tall.jpg"]["preview"]
            got = client.get(preview)
            assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
            token = preview.removeprefix("/d/")
            payload, _, signature = token.partition(".")
            forged = f"/d/{payload}.{signature[::-1]}"
            assert client.get(forged).status_code in (403, 404, 410)
            partial = client.get(files["clip.mp4"]["url"], headers={"Range": "bytes=0-99"})
            assert partial.status_code == 206 and len(partial.content) == 100


def test_a_job_of_many_files_shows_60_tiles_then_more_on_a_click(tmp_path: Path, page: Any) -> None:
    photos = make_photo_set(tmp_path / "in", 62)
    archive = make_zip(tmp_path / "many.zip", [(p.name, p) for p in photos])
    with running_web(tmp_path / "data") as web:
        item = _finished(page, web, archive)
        tiles = item.locator(".tile")
        expect(tiles).to_have_count(0)  # nothing built while the list is folded
        item.locator("summary").click()
        expect(tiles).to_have_count(60)
        more = item.get_by_role("button", name="Show 2 more (2 not shown)")
        more.click()
        expect(tiles).to_have_count(62)
        expect(more).to_be_hidden()
        expect(item.get_by_role("link", name=f"Download {photos[-1].name}")).to_be_visible()


def test_show_more_fetches_the_next_pages_the_jobs_view_does_not_carry(
    tmp_path: Path, page: Any
) -> None:
    photos = make_photo_set(tmp_path / "in", 130)
    archive = make_zip(tmp_path / "many.zip", [(p.name, p) for p in photos])
    pages: list[str] = []  # the pages asked for
    page.on("request", lambda r: "/files?" in r.url and pages.append(r.url.split("?")[1]))
    with running_web(tmp_path / "data") as web:
        item = _finished(page, web, archive)
        assert len(_job_files(web)) == 60  # the view: one page, the rest on request
        with web.client() as client:  # the page as drawn by the server, before its script
            drawn = client.get("/").text
        assert re.search(r"<summary>130 files · [\d.]+ [kM]B</summary>", drawn)
        assert drawn.count(">Download photo_") == 60 and "70 more in the zip" in drawn
        summary = item.locator("summary")
        expect(summary).to_have_text(re.compile(r"^130 files · "))
        summary.click()
        tiles = item.locator(".tile")
        expect(tiles).to_have_count(60)
        assert pages == []  # the first page came with the view
        item.get_by_role("button", name="Show 60 more (70 not shown)").click()
        expect(tiles).to_have_count(120)
        assert pages == ["offset=60&limit=60"]
        item.get_by_role("button", name="Show 10 more (10 not shown)").click()
        expect(tiles).to_have_count(130)
        assert pages == ["offset=60&limit=60", "offset=120&limit=60"]
        last = item.get_by_role("link", name=f"Download {photos[-1].name}")
        expect(last).to_be_visible()
        with web.client() as client:  # a fetched page's link and preview work
            href = last.get_attribute("href") or ""
            assert client.get(href).content == photos[-1].read_bytes()
        img = item.locator(".tile img").last
        img.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=img.element_handle()
        )
        # The viewer steps on into the fetched pages.
        item.get_by_role("button", name=f"Open {photos[60].name}").click()
        page.keyboard.press("ArrowLeft")
        expect(page.get_by_role("dialog", name=photos[59].name)).to_be_visible()
        page.keyboard.press("Escape")


def test_the_timer_renews_the_links_of_a_page_fetched_by_show_more(
    tmp_path: Path, page: Any
) -> None:
    """The view's own links are renewed (as the server signs a view again past half
    its life) while a page "Show more" fetched keeps its older ones: the page's 30 s
    timer renews those too before they expire, not only the view's."""
    photos = make_photo_set(tmp_path / "in", 62)
    archive = make_zip(tmp_path / "many.zip", [(p.name, p) for p in photos])
    page.clock.install()  # the page's time flows, and can jump
    clock = JumpingClock()  # and the server's (in process)
    with web_in_process(tmp_path / "data", clock=clock) as web:
        item = _finished(page, web, archive)
        item.locator("summary").click()
        item.get_by_role("button", name="Show 2 more (2 not shown)").click()
        names = item.locator(".tile a.name")
        expect(names).to_have_count(62)
        fetched_until = float(names.last.get_attribute("data-expires") or 0)
        clock.jump(4)  # the view's links, signed again now, outlive the fetched page's
        renew_view = """async (id) => {
            const view = jobs.get(id);
            view.result = await api("POST", `/jobs/${id}/links?limit=60`);
            render(view);
        }"""
        page.evaluate(renew_view, int(item.get_attribute("data-job") or 0))
        expect(names).to_have_count(62)
        view_until = float(names.first.get_attribute("data-expires") or 0)
        assert view_until >= fetched_until + 3
        assert float(names.last.get_attribute("data-expires") or 0) == fetched_until
        # To 299 s before the fetched page's links expire: the view's are not due yet.
        now = page.evaluate("Date.now()") / 1000
        page.clock.fast_forward(int((fetched_until - 299 - now) * 1000))
        renewed = """(until) => {  // the tile as drawn again
            const links = document.querySelectorAll(".tile a.name");
            return links.length === 62 && Number(links[61].dataset.expires) > until;
        }"""
        page.wait_for_function(renewed, arg=fetched_until)
        href = names.last.get_attribute("href") or ""
        with web.client() as client:
            assert client.get(href).content == photos[-1].read_bytes()


def test_with_an_s3_bucket_previews_and_the_video_come_from_the_bucket(
    tmp_path: Path, page: Any, s3_server: S3Server
) -> None:
    archive = _trip(tmp_path)
    bucket = s3_server.settings()
    s3_server.make_bucket(bucket)
    env = {f"FERRYMAN_RESULTS__S3__{k.upper()}": str(v) for k, v in bucket.items()}
    env["FERRYMAN_SEND_DOCUMENTS"] = "true"  # the song in the zip too
    ranges = _ranges_of(page, s3_server.endpoint)
    page.emulate_media(color_scheme="dark")
    with running_web(tmp_path / "data", **env) as web:
        item = _finished(page, web, archive)
        _check_gallery(page, item, tmp_path, "s3")
        preview = item.locator(".tile img").first.get_attribute("src") or ""
        assert preview.startswith(s3_server.endpoint)
        assert re.search(r"X-Amz-Signature=", preview)
        unsigned = preview.split("?")[0]
        assert httpx.get(unsigned).status_code == 403
        _play_video(page, item, ranges)


def _ranges_of(page: Any, where: str) -> list[str]:
    """The Range header of every request the page makes to a URL containing ``where``."""
    seen: list[str] = []
    page.on("request", lambda r: where in r.url and seen.append(r.headers.get("range", "")))
    return seen


def _keep(tmp_path: Path, prefix: str) -> None:
    """FERRYMAN_SCREENSHOTS=DIR keeps the gallery's screenshots to look at."""
    keep = os.environ.get("FERRYMAN_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for shot in ("desktop", "phone"):
            shutil.copy(tmp_path / f"{prefix}-{shot}.png", Path(keep) / f"{prefix}-{shot}.png")
