"""Download links to a job's file that went to Telegram, read from Telegram's storage.

The whole engine sends a document to a channel through a pool (a user and two bots, the
real Telethon against the fake); ``ferryman web``'s app (over ASGI, on a clock the test
moves) then serves its ``/d/`` link from Telegram: whole and by ranges, the blocks asked
through every account of the pool, each on its own connection; refused once the API
token it was made through is revoked, and once it expired; nothing written to disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import httpx

from faketg.client import FakeDialer
from faketg.handlers.downloads import expire_reference
from ferryman.engine.ops import intake
from ferryman.engine.ops.who import of_user
from ferryman.frontdoors.result_links import job_links
from ferryman.model import Job, JobState
from ferryman.resources import Shared
from ferryman.sinks.telegram_files import telegram_files
from ferryman.store import Store
from ferryman.telegram.stream import read_range
from ferryman.web.server import web_app
from ferryman.web.telegram_links import TelegramStreams
from tests.support.clock import ManualClock
from tests.telegram.test_telegram_pool import Pool

MIB = 1024 * 1024
SIZE = 3 * MIB + 123_457  # four blocks, the last one short


def pdf(path: Path, size: int) -> bytes:
    """Random bytes behind a PDF header: a document, not media."""
    data = b"%PDF-1.4\n" + os.urandom(size - 9)
    path.write_bytes(data)
    return data


async def delivered(tmp_path: Path) -> tuple[Pool, Store, Job, bytes]:
    w = Pool(tmp_path, send_documents=True)
    await w.log_in_all()
    source = pdf(tmp_path / "report.pdf", SIZE)
    store = await w.store()
    user = await store.add_user("ann", None, admin=True)
    job = await intake.add_source(
        store, tmp_path / "report.pdf", dest="telegram:@dest", who=of_user(user)
    )
    await w.run(store)
    assert (await store.get_job(job.id)).state is JobState.DONE
    (tmp_path / "report.pdf").unlink()  # nothing local is left to serve it from
    return w, store, job, source


async def test_a_streamed_link_reads_whole_and_by_ranges_through_every_account(
    tmp_path: Path,
) -> None:
    w, store, job, source = await delivered(tmp_path)
    clock = ManualClock()
    shared = Shared(w.settings, FakeDialer(w.server))
    try:
        kept = await telegram_files(store.sink_state("telegram"), job.id)
        assert [(f.name, f.size, f.channel) for f in kept] == [("report.pdf", SIZE, True)]
        async with web_app(w.settings, store, None, None, clock=clock, shared=shared) as served:
            links = await served.web.links_of(await store.get_job(job.id))
            [link] = links["files"]
            assert link["name"] == "report.pdf" and link["size"] == SIZE
            mark = len(w.server.log)
            transport = httpx.ASGITransport(app=served.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                whole = await http.get(link["url"])
                assert whole.status_code == 200, whole.text
                assert whole.headers["accept-ranges"] == "bytes"
                assert int(whole.headers["content-length"]) == SIZE
                assert hashlib.sha256(whole.content).digest() == hashlib.sha256(source).digest()
                readers = {who for who, name in w.server.log[mark:] if name == "GetFileRequest"}
                assert readers == {w.me.id, w.bot1.id, w.bot2.id}  # the pool read it together
                for asked, start, end in [
                    ("bytes=0-99", 0, 99),
                    (f"bytes={MIB - 10}-{MIB + 10}", MIB - 10, MIB + 10),  # across a block
                    (f"bytes={2 * MIB}-", 2 * MIB, SIZE - 1),
                    ("bytes=-1000", SIZE - 1000, SIZE - 1),
                    (f"bytes=5-{SIZE * 2}", 5, SIZE - 1),  # past the end: to the end
                ]:
                    part = await http.get(link["url"], headers={"Range": asked})
                    assert part.status_code == 206, (asked, part.text)
                    assert part.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
                    assert part.content == source[start : end + 1], asked
                beyond = await http.get(link["url"], headers={"Range": f"bytes={SIZE}-"})
                assert beyond.status_code == 416
                assert beyond.json()["error"]["code"] == "link.range"
                head = await http.head(link["url"])
                assert head.status_code == 200 and int(head.headers["content-length"]) == SIZE
                # ``ferryman links JOB`` signs the same kind of link, served alike.
                made = await job_links(
                    w.settings, job, clock=clock, kept=store.sink_state("telegram")
                )
                [cli] = made.files
                assert (cli.name, cli.size) == ("report.pdf", SIZE)
                path = cli.url.removeprefix(made.base)
                assert path.startswith("/d/") and path != cli.url
                tail = await http.get(path, headers={"Range": "bytes=-77"})
                assert tail.status_code == 206 and tail.content == source[-77:]
        assert not list((w.settings.data_dir / "work").rglob("*.pdf"))  # no copy on disk
    finally:
        await shared.close()
        await store.close()


async def test_a_streamed_link_is_refused_once_revoked_or_expired(tmp_path: Path) -> None:
    w, store, job, _source = await delivered(tmp_path)
    # Links that live a minute, not the default day: the clock moved past a day woke the
    # app's sleepers once a second of it (86,401 wake-ups, 12 CPU-s).
    w.settings = w.settings.model_copy(
        update={"web": w.settings.web.model_copy(update={"link_ttl": 60.0})}
    )
    clock = ManualClock()
    shared = Shared(w.settings, FakeDialer(w.server))
    try:
        [kept] = await telegram_files(store.sink_state("telegram"), job.id)
        user = job.account
        assert user is not None
        token = await store.add_user_token(user, "hashed", "phone")
        async with web_app(w.settings, store, None, None, clock=clock, shared=shared) as served:
            web = served.web
            ttl = w.settings.web.link_ttl
            through_token = web.download_url(
                job.id,
                kept.path,
                clock.now() + ttl,
                f"u:{user}:t:{token}",
            )
            plain = web.download_url(job.id, kept.path, clock.now() + ttl, f"u:{user}")
            transport = httpx.ASGITransport(app=served.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                first = await http.get(through_token, headers={"Range": "bytes=0-9"})
                assert first.status_code == 206 and first.content.startswith(b"%PDF-1.4")
                assert await store.remove_user_token(user, token)
                revoked = await http.get(through_token, headers={"Range": "bytes=0-9"})
                assert revoked.status_code == 410
                assert revoked.json()["error"]["code"] == "link.revoked"
                assert (await http.get(plain, headers={"Range": "bytes=0-9"})).status_code == 206
                await clock.advance(ttl + 1)
                expired = await http.get(plain, headers={"Range": "bytes=0-9"})
                assert expired.status_code == 410
                assert expired.json()["error"]["code"] == "link.expired"
                forged = plain.replace("/d/", "/d/x")
                assert (await http.get(forged)).status_code == 403
    finally:
        await shared.close()
        await store.close()


async def test_a_private_chats_file_is_read_by_its_sender_alone(tmp_path: Path) -> None:
    """``telegram:me`` is the own account's Saved Messages: no other account sees it."""
    w = Pool(tmp_path, send_documents=True)
    await w.log_in_all()
    source = pdf(tmp_path / "notes.pdf", MIB + 5)
    store = await w.store()
    shared = Shared(w.settings, FakeDialer(w.server))
    try:
        job = await intake.add_source(store, tmp_path / "notes.pdf", dest="telegram:me")
        await w.run(store)
        [kept] = await telegram_files(store.sink_state("telegram"), job.id)
        assert not kept.channel
        async with web_app(w.settings, store, None, None, shared=shared) as served:
            links = await served.web.links_of(await store.get_job(job.id))
            mark = len(w.server.log)
            transport = httpx.ASGITransport(app=served.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                got = await http.get(links["files"][0]["url"])
            assert got.status_code == 200 and got.content == source
        readers = {who for who, name in w.server.log[mark:] if name == "GetFileRequest"}
        assert readers == {w.me.id}
    finally:
        await shared.close()
        await store.close()


async def test_a_split_videos_parts_are_each_a_link_to_its_own_message(tmp_path: Path) -> None:
    """A video over the size limit goes as parts cut on keyframes, each a playable MP4
    of its own (``media/split``): joined byte for byte they would be no file at all, so
    each part is a link, read from its own message, its bytes those Telegram keeps."""
    from tests.media.test_media_engine import noisy_video

    (tmp_path / "src").mkdir()
    video = noisy_video(
        tmp_path / "src" / "clip.mp4", seconds=4.0, size=(640, 480), preset="ultrafast"
    )
    limit = int(video.stat().st_size * 0.6)
    w = Pool(tmp_path, media={"segment_seconds": 2, "max_file_bytes": limit, "oversize": "split"})
    await w.log_in_all()
    store = await w.store()
    shared = Shared(w.settings, FakeDialer(w.server))
    try:
        job = await intake.add_source(store, video, dest="telegram:@dest")
        await w.run(store)
        kept = await telegram_files(store.sink_state("telegram"), job.id)
        assert len(kept) >= 2 and {f.parts for f in kept} == {len(kept)}
        assert [f.part for f in kept] == list(range(len(kept)))
        stored = {m.id: m.media.file for m in w.server.chat(w.channel) if m.media is not None}
        async with web_app(w.settings, store, None, None, shared=shared) as served:
            links = (await served.web.links_of(await store.get_job(job.id)))["files"]
            assert len({link["name"] for link in links}) == len(kept)  # told apart
            transport = httpx.ASGITransport(app=served.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                for f, link in zip(kept, links, strict=True):
                    got = await http.get(link["url"])
                    assert got.status_code == 200
                    assert got.headers["content-type"].startswith("video/mp4")
                    assert hashlib.sha256(got.content).hexdigest() == stored[f.message_id].sha256
    finally:
        await shared.close()
        await store.close()


async def test_a_stale_reference_is_renewed_and_an_account_that_cannot_read_leaves(
    tmp_path: Path,
) -> None:
    """Telegram renews a file's reference: each account fetches the message again and
    goes on. An account refused the file (here: a location Telegram does not know)
    leaves its blocks to the others, and the range still comes whole."""
    w, store, job, source = await delivered(tmp_path)
    shared = Shared(w.settings, FakeDialer(w.server))
    try:
        [kept] = await telegram_files(store.sink_state("telegram"), job.id)
        streams = TelegramStreams(shared)
        try:
            expire_reference(w.server.media[kept.document_id])
            mark = len(w.server.log)
            readers = await streams.readers(kept)
            assert len(readers) == 3
            body = b"".join([b async for b in read_range(readers, SIZE, 0, SIZE - 1)])
            assert hashlib.sha256(body).digest() == hashlib.sha256(source).digest()
            asked = [name for who, name in w.server.log[mark:] if who == w.me.id]
            assert "GetMessagesRequest" in asked  # the sender fetched its message again
            readers = await streams.readers(kept)
            bad = readers[1]
            bad.location = kept.location()  # the old reference: expired
            bad.refresh = None  # and no way to a new one: it cannot read the file
            body = b"".join([b async for b in read_range(readers, SIZE, 1000, 3 * MIB)])
            assert body == source[1000 : 3 * MIB + 1]
            assert bad.failed is not None and bad.blocks == 0
            assert sum(r.blocks for r in readers) >= 4
            # A reader gone after its first bytes (a player's seek): nothing more is asked.
            stream = read_range(await streams.readers(kept), SIZE, 0, SIZE - 1)
            assert (await anext(stream)).startswith(b"%PDF-1.4")
            await stream.aclose()
            left = [t for t in asyncio.all_tasks() if t.get_name().startswith("tg-stream-")]
            assert left == []
        finally:
            await streams.close()
    finally:
        await shared.close()
        await store.close()
