"""The page in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium)
against `ferryman web` on loopback, finding everything by role and label as a person
(or a screen reader) would. Skipped when no Chromium is installed."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import av
import httpx
import pytest
from PIL import Image

from ferryman.archive.sevenzip.process import find_7zz
from ferryman.samples import make_photo_set, make_video, make_zip
from tests.support.browser import DESKTOP, NEEDS_CHROMIUM, PHONE, Confirms, chromium
from tests.support.clock import JumpingClock
from tests.support.httpserve import Link, serving
from tests.support.mediaserve import MediaSite
from tests.support.once import built_once
from tests.support.s3serve import S3Server
from tests.support.webinproc import web_in_process
from tests.support.webserve import running_web

pytestmark = [
    pytest.mark.slow,
    NEEDS_CHROMIUM,
]
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> MediaSite:
    return built_once(tmp_path_factory, "media-site", MediaSite.make)  # one per run


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()


# Every value the first job's bar takes, noted by the page as its list changes (a
# MutationObserver) and read once at the end: a value shown between two of the test's
# asks (every 30 ms before) is not missed.
_NOTE_BAR = """() => {
  const seen = (window.barSeen = []);
  const note = () => {
    const bar = document.querySelector("#jobs li.job progress");
    if (!bar) return;
    const value = Math.round(Number(bar.getAttribute("value") || 0));
    if (!seen.length || seen[seen.length - 1] !== value) seen.push(value);
  };
  new MutationObserver(note).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["value"],
  });
  note();
}"""


def _bar_values(page: Any, until: int, within: float) -> list[int]:
    """Every value the job's <progress> showed until it read ``until`` (the page notes
    them from when this is called: call it as soon as the job is started)."""
    page.evaluate(_NOTE_BAR)
    try:
        page.wait_for_function(
            "until => window.barSeen.some((v) => v >= until)", arg=until, timeout=within * 1000
        )
    except playwright_api.Error:
        raise AssertionError(f"the bar stopped at {page.evaluate('window.barSeen')}") from None
    seen: list[int] = page.evaluate("window.barSeen")
    return seen[: next(i for i, v in enumerate(seen) if v >= until) + 1]


def _done(page: Any, within: float = 120) -> None:
    item = page.get_by_role("listitem").first
    playwright_api.expect(item).to_have_attribute("data-status", "done", timeout=within * 1000)


def test_a_link_made_into_an_mp3_shows_real_progress_and_downloads(
    tmp_path: Path, site: MediaSite, page: Any
) -> None:
    with serving(Link(bandwidth=40_000)) as slow, running_web(tmp_path / "data") as web:
        site.serve(slow)
        page.goto(web.base)
        page.get_by_role("textbox", name="Link").fill(slow.url("/hls/master.m3u8"))
        page.get_by_label("Make").select_option("audio")
        page.get_by_label("Format").select_option("mp3")
        page.get_by_label("Bitrate").select_option("128")
        page.get_by_role("button", name="Start").click()
        values = _bar_values(page, 100, 120)
        between = {v for v in values if 0 < v < 100}
        assert len(between) >= 3, values
        assert values == sorted(values), values  # it never went back
        _done(page)
        link = page.get_by_role("link", name="Download").first
        assert (link.text_content() or "").startswith("Download")
        with page.expect_download() as waiting:
            link.click()
        saved = tmp_path / "got.mp3"
        waiting.value.save_as(saved)
        with av.open(str(saved)) as media:
            (stream,) = media.streams.audio
            assert stream.codec_context.name.startswith("mp3")
            assert abs(media.duration / av.time_base - site.seconds) <= 1.0
        page.screenshot(path=str(tmp_path / "desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing sticks out sideways on a phone
        _keep_screenshots(tmp_path)


def test_dropped_archive_uploads_and_the_whole_job_downloads_as_one_zip(
    tmp_path: Path, page: Any
) -> None:
    photos = make_photo_set(tmp_path / "in", 3)
    video = make_video(tmp_path / "in" / "clip.mp4", 7, seconds=1.0)
    archive = make_zip(tmp_path / "trip.zip", [(p.name, p) for p in [*photos, video]])
    with running_web(tmp_path / "data") as web:
        page.goto(web.base)
        page.get_by_label("Files").set_input_files(str(archive))
        page.get_by_role("button", name="Start").click()
        _done(page)
        item = page.get_by_role("listitem").first
        playwright_api.expect(item.locator("progress")).to_have_attribute("value", "100")
        files = item.get_by_role("link", name="Download")
        playwright_api.expect(files).to_have_count(1)  # folded: only the zip shows
        summary = item.locator("summary")
        playwright_api.expect(summary).to_have_text(re.compile(r"^4 files · \d+ kB$"))
        summary.click()
        playwright_api.expect(files).to_have_count(5)  # 4 files and the zip of them all
        with page.expect_download() as waiting:
            item.get_by_role("link", name="Download all (zip)").click()
        saved = tmp_path / "all.zip"
        waiting.value.save_as(saved)
        with zipfile.ZipFile(saved) as got:
            names = got.namelist()
            assert len(names) == 4 and got.testzip() is None
            assert sum(n.endswith(".mp4") for n in names) == 1


def test_a_file_with_a_quality_chosen_is_refused_before_it_is_uploaded(
    tmp_path: Path, page: Any
) -> None:
    """A quality (or mute) is a link's; "Audio only" is taken for a file
    (tests/browser/test_web_habits_more.py)."""
    video = make_video(tmp_path / "in" / "clip.mp4", 5, seconds=0.5)
    with running_web(tmp_path / "data") as web:
        page.goto(web.base)
        page.get_by_label("Files").set_input_files(str(video))
        page.get_by_label("Make").select_option("video")
        page.get_by_role("button", name="Start").click()
        playwright_api.expect(page.locator("#form-error")).to_contain_text("As they are")
        assert not (tmp_path / "data" / "uploads").exists() or not any(
            (tmp_path / "data" / "uploads").iterdir()
        )
        assert page.get_by_role("listitem").count() == 0


def test_a_duplicate_among_several_links_stops_none_of_them_and_can_be_added_again(
    tmp_path: Path, site: MediaSite, page: Any
) -> None:
    """One link already added stopped the others with "use --force" (a trial's)."""
    with serving() as web_links, running_web(tmp_path / "data") as web:
        site.serve(web_links)
        first, second = web_links.url("/clip.mp4"), web_links.url("/clip2.mp4")
        page.goto(web.base)
        page.get_by_role("textbox", name="Link").fill(first)
        page.get_by_role("button", name="Start").click()
        _done(page)
        page.get_by_role("textbox", name="Link").fill(f"{first}\n{second}")
        page.get_by_role("button", name="Start").click()
        playwright_api.expect(page.get_by_role("listitem")).to_have_count(2)
        playwright_api.expect(page.locator("#form-error")).to_contain_text(first)
        assert "--force" not in (page.locator("#form-error").text_content() or "")
        assert page.get_by_role("textbox", name="Link").input_value() == first
        original = page.get_by_role("listitem").last
        page.get_by_role("button", name="Open it").click()
        playwright_api.expect(original).to_have_class(re.compile(r"\bflash\b"))
        playwright_api.expect(original).to_be_in_viewport()
        page.get_by_role("button", name="Add again").click()
        playwright_api.expect(page.get_by_role("listitem")).to_have_count(3)
        assert page.get_by_role("textbox", name="Link").input_value() == ""


@pytest.mark.skipif(find_7zz() is None, reason="no 7zz to make an encrypted zip")
def test_with_an_s3_bucket_a_click_downloads_from_the_bucket(
    tmp_path: Path, page: Any, s3_server: S3Server
) -> None:
    """[results.s3]: the page's links are presigned URLs of another origin; a click still
    saves the file under its own name, and the zip still comes through ferryman."""
    photos = make_photo_set(tmp_path / "in", 2, start_seed=4)
    archive = make_zip(tmp_path / "pair.zip", [(p.name, p) for p in photos])
    bucket = s3_server.settings()
    s3_server.make_bucket(bucket)
    env = {f"FERRYMAN_RESULTS__S3__{k.upper()}": str(v) for k, v in bucket.items()}
    with running_web(tmp_path / "data", **env) as web:
        page.goto(web.base)
        page.get_by_label("Files").set_input_files(str(archive))
        page.get_by_role("button", name="Start").click()
        _done(page)
        item = page.get_by_role("listitem").first
        item.locator("summary").click()
        link = item.get_by_role("link", name=f"Download {photos[1].name}")
        assert (link.get_attribute("href") or "").startswith(s3_server.endpoint)
        with page.expect_download() as waiting:
            link.click()
        assert waiting.value.suggested_filename == photos[1].name
        saved = tmp_path / "one.jpg"
        waiting.value.save_as(saved)
        assert saved.read_bytes() == photos[1].read_bytes()
        with page.expect_download() as waiting:
            item.get_by_role("link", name="Download all (zip)").click()
        waiting.value.save_as(tmp_path / "all.zip")
        with zipfile.ZipFile(tmp_path / "all.zip") as got:
            assert sorted(got.namelist()) == sorted(p.name for p in photos)


def test_a_zip_with_a_password_makes_the_page_ask_and_goes_on_once_given(
    tmp_path: Path, page: Any
) -> None:
    seven = find_7zz()
    assert seven is not None
    photos = make_photo_set(tmp_path / "in", 2)
    archive = tmp_path / "locked.zip"
    subprocess.run(
        [str(seven.path), "a", "-tzip", "-pOpen sesame", str(archive), *[p.name for p in photos]],
        cwd=photos[0].parent,
        check=True,
        capture_output=True,
    )
    with running_web(tmp_path / "data") as web:
        page.goto(web.base)
        page.get_by_label("Files").set_input_files(str(archive))
        page.get_by_role("button", name="Start").click()
        item = page.get_by_role("listitem").first
        playwright_api.expect(item).to_have_attribute(
            "data-status", "needs_password", timeout=60_000
        )
        item.get_by_label("Password").fill("wrong")
        item.get_by_role("button", name="Send password").click()
        # A wrong one says so on the card, with a new prompt, in the page's words.
        playwright_api.expect(item).to_contain_text("That password did not open it", timeout=60_000)
        playwright_api.expect(item).to_have_attribute("data-status", "needs_password")
        playwright_api.expect(item.locator(".status")).to_have_text("wrong password")
        assert "ferryman password" not in (item.text_content() or "")
        page.screenshot(path=str(tmp_path / "password.png"), full_page=True)
        item.get_by_label("Password").fill("wrong")  # the same again: said on the card
        item.get_by_role("button", name="Send password").click()
        playwright_api.expect(item.get_by_role("alert")).to_contain_text("given this password")
        item.get_by_label("Password").fill("Open sesame")
        item.get_by_role("button", name="Send password").click()
        _done(page, 60)
        item.locator("summary").click()
        playwright_api.expect(item.get_by_role("link", name="Download")).to_have_count(3)


def test_the_page_reconnects_and_catches_up_after_the_server_restarts(
    tmp_path: Path, site: MediaSite, page: Any
) -> None:
    with serving(Link(bandwidth=150_000)) as slow:
        site.serve(slow)
        data = tmp_path / "data"
        with running_web(data) as web:
            port = web.base.rsplit(":", 1)[1]
            page.goto(web.base)
            page.get_by_role("textbox", name="Link").fill(slow.url("/hls/master.m3u8"))
            page.get_by_label("Make").select_option("video")
            page.get_by_label("Quality").select_option("720p")
            page.get_by_role("button", name="Start").click()
            values = _bar_values(page, 5, 60)
            assert values[-1] < 90, "the job ended before the restart could be tried"
        banner = page.get_by_role("status").filter(has_text="Reconnecting")
        playwright_api.expect(banner).to_be_visible(timeout=10_000)
        with running_web(data, "--port", port) as again:
            assert again.base.endswith(":" + port)
            playwright_api.expect(banner).to_be_hidden(timeout=20_000)
            _done(page, 120)
            item = page.get_by_role("listitem").first
            playwright_api.expect(item.get_by_role("link", name="Download")).to_have_count(1)


def test_an_expired_link_is_renewed_by_the_page(tmp_path: Path, site: MediaSite, page: Any) -> None:
    """The page's server in this process, so its clock moves past the link's life with
    the browser's (it slept 4.5 s, both clocks with it)."""
    clock = JumpingClock()  # the server's live views go on at their pace
    page.clock.install()  # the browser's time flows, and can jump
    with serving() as server, web_in_process(tmp_path / "data", clock=clock, link_ttl=3) as web:
        site.serve(server)
        page.goto(web.base)
        page.get_by_role("textbox", name="Link").fill(server.url("/clip.mp4"))
        page.get_by_role("button", name="Start").click()
        _done(page, 60)
        link = page.get_by_role("link", name="Download").first
        first = link.get_attribute("href")
        with httpx.Client(base_url=web.base) as client:
            assert client.get(first).status_code == 200  # a working link until then
            clock.jump(4.5)  # past web.link_ttl, on the server
            page.clock.fast_forward(4500)  # and in the browser
            assert client.get(first).status_code == 410
        with page.expect_download() as waiting:
            link.click()
        saved = tmp_path / "clip.mp4"
        waiting.value.save_as(saved)
        assert saved.stat().st_size > 0
        renewed = page.get_by_role("link", name="Download").first.get_attribute("href")
        assert renewed != first


def test_jobs_are_newest_first_filtered_removed_and_cleared_with_their_files(
    tmp_path: Path, site: MediaSite, page: Any
) -> None:
    """The list people manage: newest first, filters, Remove (after a confirm) takes the
    job's results and upload with it, "Clear finished" the rest; a running job stays."""
    photos = make_photo_set(tmp_path / "in", 2, start_seed=9)
    archive = make_zip(tmp_path / "pair.zip", [(p.name, p) for p in photos])
    with serving() as links, serving(Link(bandwidth=20_000)) as slow:
        site.serve(links)
        site.serve(slow)
        # The running job must still run at the end: a 60 KB clip at 20 KB/s ended
        # before a loaded machine got there (the removal then answered 204, not 409).
        # It stalls halfway until the server stops; the engine waits that long.
        held = slow.resources["/clip2.mp4"].faults
        held.stall_at, held.stall_seconds = 16_384, 600.0
        with running_web(tmp_path / "data", FERRYMAN_NETWORK__STALL_SECONDS="900") as web:
            page.goto(web.base)
            playwright_api.expect(page.get_by_text("No jobs yet")).to_be_visible()
            page.get_by_label("Files").set_input_files(str(archive))
            page.get_by_role("button", name="Start").click()
            _done(page, 60)
            items = page.get_by_role("listitem")
            page.get_by_role("textbox", name="Link").fill(links.url("/clip.mp4"))
            page.get_by_role("button", name="Start").click()
            playwright_api.expect(items).to_have_count(2)
            _done(page, 60)
            page.get_by_role("textbox", name="Link").fill(slow.url("/clip2.mp4"))
            page.get_by_role("button", name="Start").click()
            playwright_api.expect(items).to_have_count(3)
            # in one go in the page: a live frame may redraw a card between two reads
            numbers = [int(n) for n in items.evaluate_all("els => els.map(e => +e.dataset.job)")]
            assert numbers == sorted(numbers, reverse=True), numbers  # newest first
            zip_job = page.locator(f'li[data-job="{numbers[2]}"]')
            data = tmp_path / "data"
            assert (data / "results" / f"job-{numbers[2]}").is_dir()
            assert any((data / "uploads").iterdir())

            page.get_by_label("Queue").check()
            playwright_api.expect(items).to_have_count(1)
            running = items.first
            assert running.get_attribute("data-job") == str(numbers[0])
            assert running.get_by_role("button", name="Remove").count() == 0  # cancel first
            page.get_by_label("Failed").check()
            playwright_api.expect(items).to_have_count(0)
            playwright_api.expect(page.get_by_text("No jobs of this kind")).to_be_visible()
            page.get_by_label("Done").check()
            playwright_api.expect(items).to_have_count(2)
            page.get_by_label("All").check()

            # The page's removals, in the order it sends them: a dismissed one would go
            # before the accepted one that follows it (no window to wait out).
            removals: list[str] = []
            page.on("request", lambda r: removals.append(r.url) if r.method == "DELETE" else None)
            confirms = Confirms(page)  # one handler, each answer waited for
            confirms.give("dismiss")
            zip_job.get_by_role("button", name="Remove").click()  # "no": nothing goes
            confirms.wait()
            playwright_api.expect(items).to_have_count(3)
            confirms.give("accept")
            with page.expect_response(lambda r: r.request.method == "DELETE") as removed:
                zip_job.get_by_role("button", name="Remove").click()
            assert removed.value.status == 204, removed.value.text()
            assert confirms.answered == ["dismiss", "accept"]
            playwright_api.expect(items).to_have_count(2)
            assert removals == [f"{web.base}/api/v1/jobs/{numbers[2]}"]  # the accepted one only
            assert not (data / "results" / f"job-{numbers[2]}").exists()
            assert not any((data / "uploads").iterdir())  # the upload went with it
            with web.client() as api:
                gone = api.get(f"/api/v1/jobs/{numbers[2]}")
                assert gone.status_code == 404
                busy = api.delete(f"/api/v1/jobs/{numbers[0]}", headers={"X-Ferryman-CSRF": "1"})
                assert busy.status_code == 409, busy.text
                assert busy.json()["error"]["code"] == "job.not_ended"

            confirms.give("accept")
            page.get_by_role("button", name="Clear finished").click()
            confirms.wait()
            playwright_api.expect(items).to_have_count(1)  # the running one stays
            assert items.first.get_attribute("data-job") == str(numbers[0])
            assert not (data / "results" / f"job-{numbers[1]}").exists()
            page.reload()  # the server forgot them too
            playwright_api.expect(items).to_have_count(1)


def test_links_are_found_in_any_text_and_the_form_remembers_its_choices(
    tmp_path: Path, site: MediaSite, page: Any
) -> None:
    """Words alone get one message and stay in the box; a link pasted with words around
    it is taken; the output and destination chosen last come back after a reload; a
    playlist link offers the playlist choice."""
    with serving() as links, running_web(tmp_path / "data") as web:
        site.serve(links)
        page.goto(web.base)
        box = page.get_by_role("textbox", name="Link")
        box.fill("not a link at all")
        page.get_by_role("button", name="Start").click()
        error = page.locator("#form-error")
        playwright_api.expect(error).to_contain_text("No link in")
        assert (error.text_content() or "").count("No link") == 1  # one message, not five
        assert box.input_value() == "not a link at all"  # kept, not one word per line
        assert page.get_by_role("listitem").count() == 0

        playlist = page.get_by_label("Whole playlist")
        playwright_api.expect(playlist).to_be_hidden()
        box.fill("https://video.example/watch?v=abc&list=PL123")
        playwright_api.expect(playlist).to_be_visible()
        box.fill("")
        playwright_api.expect(playlist).to_be_hidden()

        clip = links.url("/clip.mp4")
        box.fill(f"look at this ({clip}), nice one!\nand this {clip}.")
        page.get_by_label("Make").select_option("audio")
        page.get_by_label("Bitrate").select_option("128")
        page.get_by_label("Library").check()
        page.get_by_role("button", name="Start").click()
        playwright_api.expect(page.get_by_role("listitem")).to_have_count(1)  # once
        playwright_api.expect(box).to_have_value("")
        with web.client() as api:
            (job,) = api.get("/api/v1/jobs").json()["jobs"]
        assert "clip.mp4" in job["source"] and job["dest"].startswith("library:"), job
        page.reload()
        playwright_api.expect(page.get_by_label("Make")).to_have_value("audio")
        playwright_api.expect(page.get_by_label("Bitrate")).to_have_value("128")
        playwright_api.expect(page.get_by_label("Library")).to_be_checked()


def test_an_upload_shows_bytes_speed_and_time_left_and_a_drop_on_the_form_is_taken(
    tmp_path: Path, page: Any
) -> None:
    """A 2.5 MB zip, under one 8 MiB piece, on a 1 MB/s upload: the page says its
    percentage rising with speed and time left (it showed nothing below 8 MiB); the file
    is dropped on the form, not chosen."""
    photos = make_photo_set(tmp_path / "in", 2, start_seed=20)
    filler = tmp_path / "in" / "noise.bin"
    filler.write_bytes(os.urandom(2_500_000))
    archive = make_zip(tmp_path / "drop.zip", [(p.name, p) for p in [*photos, filler]])
    with running_web(tmp_path / "data") as web:
        page.goto(web.base)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": 1e6},
        )
        page.evaluate(
            """() => { window.said = []; const box = document.getElementById("upload-state");
            new MutationObserver(() => window.said.push(box.textContent))
              .observe(box, { childList: true, characterData: true, subtree: true }); }"""
        )
        data = base64.b64encode(archive.read_bytes()).decode()
        page.evaluate(
            """([name, data]) => {
              const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
              const dt = new DataTransfer();
              dt.items.add(new File([bytes], name, { type: "application/zip" }));
              const at = document.querySelector("fieldset");  // not the file input
              at.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true }));
              at.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true }));
            }""",
            ["drop.zip", data],
        )
        playwright_api.expect(page.locator("#upload-state")).to_contain_text("drop.zip ready")
        page.get_by_role("button", name="Start").click()
        _done(page, 90)
        said: list[str] = page.evaluate("window.said")
        shares = [int(m.group(1)) for t in said if (m := re.search(r"(\d+)% of", t))]
        assert len({v for v in shares if 0 < v < 100}) >= 3, said  # by bytes, as it goes
        assert shares == sorted(shares), said
        assert any(re.search(r"[kM]B/s · \d+ s left", t) for t in said), said


def test_a_phone_can_install_it_share_to_it_and_it_follows_a_dark_system(
    tmp_path: Path, browser: Any
) -> None:
    """The manifest names icons that are there at their sizes and a share target; a page
    shared to /share lands in the Link box; the first screen says what ferryman does and
    that the list is empty; a dark system gives a dark page."""
    with running_web(tmp_path / "data") as web:
        with web.client() as api:
            answer = api.get("/manifest.webmanifest")
            assert answer.headers["content-type"].startswith("application/manifest+json")
            manifest = answer.json()
            assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
            for icon in manifest["icons"]:
                got = api.get(icon["src"])
                assert got.status_code == 200 and got.headers["content-type"] == icon["type"]
                if icon["type"] == "image/png":
                    with Image.open(io.BytesIO(got.content)) as image:
                        assert f"{image.width}x{image.height}" == icon["sizes"]
            target = manifest["share_target"]
        context = browser.new_context(viewport=PHONE, color_scheme="dark")
        page = context.new_page()
        try:
            page.goto(web.base)
            assert page.locator('link[rel="manifest"]').get_attribute("href") == (
                "/manifest.webmanifest"
            )
            playwright_api.expect(page.locator(".intro")).to_contain_text("playable media out")
            playwright_api.expect(page.get_by_text("No jobs yet")).to_be_visible()
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
            assert red + green + blue < 150, background  # dark, as the system is
            shared = "Look at this https://video.example/watch?v=abc&list=PL9 !"
            page.goto(
                f"{web.base}{target['action']}?{urlencode({target['params']['text']: shared})}"
            )
            box = page.get_by_role("textbox", name="Link")
            playwright_api.expect(box).to_have_value("https://video.example/watch?v=abc&list=PL9")
            playwright_api.expect(page.get_by_label("Whole playlist")).to_be_visible()
            assert page.url == web.base + "/"  # a reload does not add it again
            page.screenshot(path=str(tmp_path / "empty-dark.png"), full_page=True)
        finally:
            context.close()


def test_several_jobs_selected_are_removed_together(
    tmp_path: Path, site: MediaSite, page: Any
) -> None:
    with serving() as links, running_web(tmp_path / "data") as web:
        site.serve(links)
        page.goto(web.base)
        items = page.get_by_role("listitem")
        for n, path in enumerate(("/clip.mp4", "/clip2.mp4", "/missing.mp4")):
            page.get_by_role("textbox", name="Link").fill(links.url(path))
            page.get_by_role("button", name="Start").click()
            playwright_api.expect(items).to_have_count(n + 1)
            playwright_api.expect(page.get_by_role("textbox", name="Link")).to_have_value("")
        for item in items.all():
            playwright_api.expect(item).not_to_have_attribute(
                "data-status", re.compile("queued|active|reading"), timeout=60_000
            )
        done = page.locator('li[data-status="done"]')
        playwright_api.expect(done).to_have_count(2)
        bar = page.locator("#picked")
        playwright_api.expect(bar).to_be_hidden()
        for item in done.all():
            item.get_by_role("checkbox", name=re.compile("^Select ")).check()
        playwright_api.expect(bar).to_contain_text("2 selected")
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Remove selected").click()
        playwright_api.expect(items).to_have_count(1)
        playwright_api.expect(items.first).to_have_attribute("data-status", "failed")
        playwright_api.expect(bar).to_be_hidden()
        with web.client() as api:
            assert len(api.get("/api/v1/jobs").json()["jobs"]) == 1


def _keep_screenshots(tmp_path: Path) -> None:
    """FERRYMAN_SCREENSHOTS=DIR keeps the page's screenshots to look at."""
    keep = os.environ.get("FERRYMAN_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for shot in ("desktop.png", "phone.png"):
            shutil.copy(tmp_path / shot, Path(keep) / shot)
