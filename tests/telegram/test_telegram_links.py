"""Telegram message links: a t.me link is its own input (``tg:``), fetched through the
logged-in account (the real Telethon client against the fake's servers) resumably into
the work area, then read like a local file; the errors a person can meet, coded."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions, types

from faketg import FakeTelegram
from faketg.client import FakeDialer
from faketg.handlers.messages import post_as
from faketg.people import stored_document
from faketg.state import Account, Channel
from ferryman.config import Settings
from ferryman.engine.ops import intake, report
from ferryman.engine.plumbing.events import JobFetching
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.net.progress import DownloadProgress
from ferryman.net.sidecar import part_path
from ferryman.resources import Shared
from ferryman.samples import make_photo_set, make_video, make_zip
from ferryman.sources.base import FetchPlan
from ferryman.sources.builtin import default_sources
from ferryman.sources.telegram_link import TelegramLinkSource
from ferryman.store import Store
from ferryman.telegram.download import CHUNK
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files
from tests.support.telegram_helpers import log_in, tg_settings
from tests.support.telegram_pool import log_in_as
from tests.support.waiting import eventually

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

SOURCE = TelegramLinkSource()


@dataclass
class World:
    server: FakeTelegram
    me: Account  # the account ferryman is logged in as
    poster: Account  # who posts in the channels
    private: Channel  # me is a member
    public: Channel  # @holidays; me is not a member (a public channel reads without joining)
    secret: Channel  # private, me is not a member
    settings: Settings
    shared: Shared  # the engine's: one Telegram connection for all fetches

    def post(
        self, channel: Channel, data: bytes | None, name: str = "", mime: str = "", video=False
    ) -> int:
        media = None
        if data is not None:
            media = stored_document(self.server, self.poster, data, name, mime)
            if video:
                attr = types.DocumentAttributeVideo(duration=1, w=160, h=120)
                media.attributes.append(attr)
                media.tl.attributes.append(attr)
        [(message, _pts)] = post_as(
            self.server,
            self.poster,
            ("channel", channel.id),
            [("" if data is not None else "just words", media, None)],
            grouped=False,
            topic=None,
            reply_to=None,
        )
        return message.id

    def plan(self, folder: Path, **kw: Any) -> FetchPlan:
        return FetchPlan(
            folder=folder,
            network=self.settings.network,
            retry=self.settings.retry,
            client=_no_http,
            settings=self.settings,
            shared=self.shared,
            **kw,
        )


def _no_http() -> Any:
    raise AssertionError("a Telegram link needs no HTTP client")


@contextlib.asynccontextmanager
async def world_at(
    tmp_path: Path, *, logged_in: bool = True, link: Any = None
) -> AsyncIterator[World]:
    server = FakeTelegram(link=link)
    me = server.add_user("Ann", username="ann_phone")
    poster = server.add_user("Poster", username="poster")
    private = server.add_channel("Family", members=[me], admins=[poster])
    public = server.add_channel("Holidays", username="holidays", admins=[poster])
    secret = server.add_channel("Secret", admins=[poster])
    settings = tg_settings(tmp_path, retry={"base_seconds": 0.05}, network={"stall_seconds": 2.0})
    if logged_in:
        await log_in(settings, server, me)
    shared = Shared(settings, FakeDialer(server))
    try:
        yield World(server, me, poster, private, public, secret, settings, shared)
    finally:
        await shared.close()


def _photo_zip(tmp: Path, count: int) -> tuple[bytes, dict[str, str]]:
    photos = make_photo_set(tmp / "photos", count)
    archive = make_zip(tmp / "trip.zip", [(p.name, p) for p in photos], compress=False)
    made = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    return archive.read_bytes(), made


def test_links_to_messages_are_their_own_input_before_http() -> None:
    """Every way a message link is written gives one ``tg:`` URI (asked before the
    http source, which would fetch the web page); a t.me link that names no message is
    refused as such, and other links still go where they went."""
    sources = default_sources()
    same_private = [
        "https://t.me/c/1234567/55",
        "t.me/c/1234567/55",
        "http://telegram.me/c/1234567/55?single",
        "https://t.me/c/1234567/3/55",  # a forum topic's message
        "tg://privatepost?channel=1234567&post=55",
        "<https://t.me/c/1234567/55>",
    ]
    assert {sources.to_uri(raw) for raw in same_private} == {"tg:c/1234567/55"}
    same_public = [
        "https://t.me/Holidays/7",
        "t.me/s/holidays/7",
        "tg://resolve?domain=holidays&post=7",
    ]
    assert {sources.to_uri(raw) for raw in same_public} == {"tg:holidays/7"}
    assert sources.for_uri("tg:holidays/7") is not sources.for_uri("https://t.me/")
    assert sources.describe("tg:c/1234567/55") == "https://t.me/c/1234567/55"
    assert SOURCE.inspect("tg:holidays/7").name == "holidays-7"
    assert (
        SOURCE.inspect("tg:holidays/7").ident
        == SOURCE.inspect(sources.to_uri("t.me/holidays/7")).ident
    )
    for not_a_message in ("https://t.me/holidays", "t.me/joinchat/AbCd", "https://t.me/+AbCdEf"):
        with pytest.raises(FerrymanError) as refused:
            sources.to_uri(not_a_message)
        assert refused.value.code == "link.invalid"
    assert sources.to_uri("https://example.com/t.me/c/1/2").startswith("https://example.com")
    assert sources.to_uri("dl/clip.mp4").startswith("file:///")


async def test_a_video_and_a_zip_in_channels_reach_the_library(
    tmp_path: Path, store: Store
) -> None:
    """A video in a private channel (t.me/c link) and a zip of photos in a public one the
    account never joined (t.me/NAME link) go through the engine into the library: the
    photos byte for byte, the video as one video, each fetched once."""
    async with world_at(tmp_path) as w:
        video = make_video(tmp_path / "clip.mp4", 3).read_bytes()
        zipped, photos = _photo_zip(tmp_path, 5)
        video_at = w.post(w.private, video, "clip.mp4", "video/mp4", video=True)
        zip_at = w.post(w.public, zipped, "trip.zip", "application/zip")
        progress: list[tuple[int, Any]] = []
        first = await intake.add_source(store, f"https://t.me/c/{w.private.id}/{video_at}")
        second = await intake.add_source(store, f"t.me/holidays/{zip_at}")
        assert (first.source, second.source) == (
            f"tg:c/{w.private.id}/{video_at}",
            f"tg:holidays/{zip_at}",
        )
        engine = Engine(store, w.settings, dialer=FakeDialer(w.server))
        engine.bus.subscribe(
            lambda e: progress.append((e.job_id, e.done)) if isinstance(e, JobFetching) else None
        )
        try:
            await asyncio.wait_for(engine.run(until_idle=True), 120)
        finally:
            await engine.ctx.resources.close()
        for job in (first, second):
            assert (await store.get_job(job.id)).state is JobState.DONE
        assert (await report.report(store, second.id))["delivered"] == 5
        delivered = library_files(w.settings.library)
        got = {
            Path(e["source_path"]).name: e["disk_sha256"] for e in delivered if e["kind"] == "photo"
        }
        assert got == photos
        assert [e["kind"] for e in delivered if e["kind"] != "photo"] == ["video"]
        reads = w.server.stats.requests["GetFileRequest"]
        assert reads == -(-len(video) // CHUNK) + -(-len(zipped) // CHUNK)  # each byte once
        assert (first.id, len(video)) in progress and (second.id, len(zipped)) in progress


async def test_a_cut_download_goes_on_from_the_last_whole_chunk(tmp_path: Path) -> None:
    """A fetch stopped mid-file (a crash, a lost lease) leaves whole MiBs in the
    ``.part``; the next fetch asks only for the rest, and the file is whole."""
    mib = 1024 * 1024
    async with world_at(tmp_path) as w:
        data = (hashlib.sha256(b"seed").digest() * (6 * mib // 32 + 100))[: 6 * mib + 12345]
        at = w.post(w.private, data, "big.bin", "application/octet-stream")
        uri = f"tg:c/{w.private.id}/{at}"
        folder = tmp_path / "fetch"
        part = part_path(folder, "big.bin")
        # Past 3 MiB the server answers nothing until the fetch is stopped: mid-file
        # however loaded the machine.
        held = w.server.hold(functions.upload.GetFileRequest, match=lambda r: r.offset >= 3 * mib)
        first = asyncio.create_task(SOURCE.fetch(uri, w.plan(folder)))
        await eventually(
            lambda: held.held and part.exists() and part.stat().st_size >= 2 * mib,
            "2 MiB on disk, the rest waiting",
        )
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        kept = part.stat().st_size
        assert kept % CHUNK == 0 and 2 * mib <= kept < len(data)
        held.release()  # what it left waiting is answered, to nobody, before offsets count
        await eventually(lambda: held.waiting == 0, "the held requests answered")

        offsets: list[int] = []
        w.server.after_handle.append(
            lambda _c, req, _r: (
                offsets.append(req.offset)
                if isinstance(req, functions.upload.GetFileRequest)
                else None
            )
        )
        seen: list[DownloadProgress] = []
        got = await SOURCE.fetch(uri, w.plan(folder, on_progress=seen.append))
        assert got.path == folder / "big.bin" and got.path.read_bytes() == data
        assert sorted(offsets) == list(range(kept, len(data), CHUNK))  # nothing asked twice
        assert seen[-1].done == len(data) and seen[0].done >= kept
        assert not part.exists()
        again = await SOURCE.fetch(uri, w.plan(folder))  # done: nothing asked again
        assert again.path == got.path and len(offsets) == len(range(kept, len(data), CHUNK))


async def test_a_one_request_file_is_recorded_once_whole_and_a_stale_part_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of one request (a photo) has nothing to resume: its record is written
    once, complete, after the bytes are fsynced (not also before them); a ``.part``
    a crash left without a record is dropped, and a second fetch asks nothing."""
    from ferryman.net import partfile

    records: list[bool] = []
    real = partfile.write_record
    monkeypatch.setattr(
        partfile, "write_record", lambda f, r: (records.append(r.complete), real(f, r))[1]
    )
    async with world_at(tmp_path) as w:
        data = hashlib.sha256(b"photo").digest() * 1000
        at = w.post(w.private, data, "shot.jpg", "image/jpeg")
        uri = f"tg:c/{w.private.id}/{at}"
        folder = tmp_path / "fetch"
        folder.mkdir()
        part_path(folder, "shot.jpg").write_bytes(b"left by a crash" * 10)
        got = await SOURCE.fetch(uri, w.plan(folder))
        assert got.path == folder / "shot.jpg" and got.path.read_bytes() == data
        assert records == [True]  # once, complete: no record before the bytes
        assert not part_path(folder, "shot.jpg").exists()
        asked = w.server.stats.requests["GetFileRequest"]
        again = await SOURCE.fetch(uri, w.plan(folder))
        assert again.path == got.path and w.server.stats.requests["GetFileRequest"] == asked


async def _fetch_error(w: World, tmp_path: Path, uri: str) -> FerrymanError:
    with pytest.raises(FerrymanError) as failed:
        await SOURCE.fetch(uri, w.plan(tmp_path / "fetch"))
    return failed.value


async def test_what_cannot_be_fetched_says_why_and_what_to_do(tmp_path: Path) -> None:
    """Not logged in: the next step is the login. A private channel the account is not
    in: source.auth. A missing message, one with only text, an unknown name:
    source.not_found. None of them is retried."""
    async with world_at(tmp_path) as w:
        words = w.post(w.private, None)
        hidden = w.post(w.secret, b"x" * 100, "a.zip", "application/zip")
        cases = {
            f"tg:c/{w.private.id}/999": "source.not_found",
            f"tg:c/{w.private.id}/{words}": "source.not_found",
            "tg:nobody_here/1": "source.not_found",
            f"tg:c/{w.secret.id}/{hidden}": "source.auth",
            "tg:c/424242/1": "source.auth",  # no chat the account knows
        }
        for uri, code in cases.items():
            error = await _fetch_error(w, tmp_path, uri)
            assert (error.code, error.retryable) == (code, False), (uri, error)
        assert "/1" in str((await _fetch_error(w, tmp_path, "tg:nobody_here/1")).message)

    async with world_at(tmp_path / "nobody", logged_in=False) as nobody:
        error = await _fetch_error(nobody, tmp_path, f"tg:c/{nobody.private.id}/1")
    assert error.code == "telegram.not_logged_in" and not error.retryable
    assert "ferryman telegram login" in error.next_step


def test_the_chat_takes_every_link_a_source_claims() -> None:
    """Beside web links, a message's words are links when a source claims them: a t.me
    message without its scheme, WebDAV and Torbox references; a t.me link that names no
    message is taken (to be answered why not); a path, a caption's ``to:`` and plain
    words are not."""
    from ferryman.frontdoors.telegram.caption import links_in

    text = (
        "from t.me/holidays/7, and dav://nas.local/photos; see torbox:torrent/12 and"
        " https://h.example/a.zip or (t.me/holidays) /etc/passwd file:///etc/passwd"
        " at 12:30 to: library:/x force"
    )
    assert links_in(text, sources=default_sources()) == [
        "t.me/holidays/7",
        "dav://nas.local/photos",
        "torbox:torrent/12",
        "https://h.example/a.zip",
        "t.me/holidays",
    ]
    assert links_in(text) == ["https://h.example/a.zip"]  # without a registry: web links


async def test_a_message_link_sent_while_ferryman_was_off_is_taken_once(tmp_path: Path) -> None:
    """Through the chat as installed (the engine's one client, caught up at start): a
    t.me link (no scheme) sent while ferryman was off becomes one job, fetched over the
    same login and delivered; a link to a message without a file is answered with its
    code; a third start takes nothing again."""
    from tests.telegram.test_telegram_frontdoor import make_world as chat_world
    from tests.telegram.test_telegram_frontdoor import reply_to, serving_as_installed

    w = chat_world(tmp_path)
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        poster = w.server.add_user("Poster", username="poster")
        public = w.server.add_channel("Holidays", username="holidays", admins=[poster])
        zipped, photos = _photo_zip(tmp_path, 3)
        media = stored_document(w.server, poster, zipped, "trip.zip", "application/zip")
        posts = post_as(
            w.server,
            poster,
            ("channel", public.id),
            [("", media, None), ("only words", None, None)],
            grouped=False,
            topic=None,
            reply_to=None,
        )
        with_file, without = (message.id for message, _pts in posts)
        await log_in(w.settings, w.server, w.bot)
        async with serving_as_installed(w):
            assert await reply_to(w, w.alice, "/status")
        w.send(w.alice, f"please take t.me/holidays/{with_file}")
        w.send(w.alice, f"and https://t.me/holidays/{without}")
        async with serving_as_installed(w):

            async def ended() -> list[Any] | None:
                jobs = await w.store.list_jobs()
                return jobs if len(jobs) == 2 and all(j.state.terminal for j in jobs) else None

            found = await eventually(ended, "both links taken and ended")
            jobs = {j.source: j for j in found}
            took = jobs[f"tg:holidays/{with_file}"]
            assert took.state is JobState.DONE, took
            missing = jobs[f"tg:holidays/{without}"]
            assert (missing.state, missing.error_code) == (JobState.FAILED, "source.not_found")
        async with serving_as_installed(w):
            assert await reply_to(w, w.alice, "/status")
        assert len(await w.store.list_jobs()) == 2  # each once
        got = {
            Path(e["source_path"]).name: e["disk_sha256"] for e in library_files(w.settings.library)
        }
        assert got == photos
    finally:
        await w.store.close()


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound
async def test_cancel_in_the_chat_stops_a_download_at_once(tmp_path: Path) -> None:
    """A job still downloading (no items yet) is cancelled from the chat: the answer
    names it and says a download was stopped, the server stops sending within a moment
    (not at the next heartbeat, a third of a lease later), the partial file goes."""
    import time

    from tests.support.httpserve import Link
    from tests.support.httpserve import serving as http_serving
    from tests.telegram.test_telegram_frontdoor import make_world as chat_world
    from tests.telegram.test_telegram_frontdoor import reply_to, serving

    data = hashlib.sha256(b"slow").digest() * (4 * 1024 * 1024 // 32)
    w = chat_world(tmp_path)
    w.settings = w.settings.model_copy(
        update={
            "lease_seconds": 30.0,  # heartbeats every 10 s: a stop that waited for one shows
            "network": w.settings.network.model_copy(update={"stream_archives": "never"}),
        }
    )
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        with http_serving(Link(bandwidth=256 * 1024)) as web:
            web.add("/big.zip", data, content_type="application/zip")
            async with serving(w):
                w.send(w.alice, f"this one: {web.url('/big.zip')}")
                await eventually(lambda: web.served.get("/big.zip", 0) > 256 * 1024, "bytes flow")
                (job,) = await w.store.list_jobs()
                answer = await reply_to(w, w.alice, "/cancel")
                asked = time.monotonic()
                assert answer == (
                    f"job {job.id} (big) cancelled while downloading (the partial download is"
                    " deleted); its work files are deleted"
                )

                # The response's end, seen by the server as the client hangs up: no
                # byte more can go (a window watched for quiet only guessed at it).
                await eventually(
                    lambda: web.sending["/big.zip"] == 0, "the server no longer sending", within=10
                )
                assert time.monotonic() - asked < 2.5  # well before the next heartbeat
                assert web.served["/big.zip"] < len(data)
                fetched = await w.store.fetched(job.id)
                assert fetched is not None and fetched.state == "cancelled"
                folder = w.settings.work_dir / f"job-{job.id:05d}" / "fetch"
                await eventually(lambda: not folder.exists(), "the partial download removed")
                assert time.monotonic() - asked < 5  # not a lease later
                assert (await w.store.get_job(job.id)).state is JobState.CANCELLED
    finally:
        await w.store.close()


async def test_a_pool_of_named_accounts_alone_fetches_a_message_link(tmp_path: Path) -> None:
    """With only `telegram login --as NAME` accounts a t.me link was taken when added (the
    pool serves) and failed when fetched, "not logged in": the fetch asked for the
    unnamed session. It goes through the pool's person's account, its own connections."""
    async with world_at(tmp_path, logged_in=False) as w:
        await log_in_as(w.settings, w.server, w.me, "zed")
        data = bytes(range(256)) * 1000
        at = w.post(w.private, data, "notes.bin", "application/octet-stream")
        folder = tmp_path / "fetch"
        folder.mkdir()
        got = await SOURCE.fetch(f"tg:c/{w.private.id}/{at}", w.plan(folder))
        assert got.path.read_bytes() == data
        asked = {who for who, name in w.server.log if name == "GetFileRequest"}
        assert asked == {w.me.id}, asked
