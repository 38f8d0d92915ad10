"""Links to files a job sent to Telegram before the sink kept link records (before
2026-11-29): read back from the job's messages by their recorded ids when its links are
asked for (``sinks/telegram_backfill``), through the account that sent each.

The whole engine sends three PDFs and a photo to a channel through a pool (a user and
two bots; the real Telethon against the fake); the test then takes the link records
away, as a job of before had none, deletes one message and swaps another's file for
another document, as a person may have since. The web's links then name the one file
still in its message, read whole (SHA-256 equal) and by ranges from Telegram; the
deleted and the swapped get none, nothing is guessed; the job is read back once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from faketg.client import FakeDialer
from ferryman.engine.ops import intake
from ferryman.engine.ops.who import of_user
from ferryman.model import JobState
from ferryman.resources import Shared
from ferryman.samples import make_zip
from ferryman.sinks.telegram_backfill import MARK
from ferryman.sinks.telegram_files import PREFIX, telegram_files
from ferryman.web.server import web_app
from tests.telegram.test_telegram_pool import Pool
from tests.telegram.test_telegram_stream_links import MIB, pdf

READ_BACK = {"GetMessagesRequest"}  # channels.getMessages / messages.getMessages


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_job_sent_before_link_records_gets_its_links_read_back(tmp_path: Path) -> None:
    from PIL import Image

    w = Pool(tmp_path, send_documents=True)
    await w.log_in_all()
    folder = tmp_path / "in"
    folder.mkdir()
    sources = {name: pdf(folder / name, MIB + 1000 * n) for n, name in enumerate("abc")}
    sources = {f"{k}.pdf": v for k, v in sources.items()}
    for name, data in sources.items():
        (folder / name).write_bytes(data)
    Image.new("RGB", (64, 48), (10, 90, 160)).save(folder / "p.jpg", quality=90)
    entries = [(name, folder / name) for name in [*sources, "p.jpg"]]
    archive = make_zip(tmp_path / "in.zip", entries)
    store = await w.store()
    shared = Shared(w.settings, FakeDialer(w.server))
    try:
        user = await store.add_user("ann", None, admin=True)
        job = await intake.add_source(store, archive, dest="telegram:@dest", who=of_user(user))
        await w.run(store)
        job = await store.get_job(job.id)
        assert job.state is JobState.DONE
        state = store.sink_state("telegram")
        recorded = await telegram_files(state, job.id)
        assert sorted(f.name for f in recorded) == sorted(sources)
        live = {f.name: f for f in recorded}
        # A job of before: no link records. Then b.pdf's message deleted, c.pdf's file
        # swapped for a.pdf's document (an edit of its media).
        await state.put(job.id, forget=[r.key for r in await state.records(job.id)
                                        if r.key.startswith(PREFIX)])  # fmt: skip
        assert await telegram_files(state, job.id) == []
        box = w.server.box("channel", w.channel.id).messages
        by_name = {m.media.file.name: m for m in box if m.media is not None}
        box.remove(by_name["b.pdf"])
        by_name["c.pdf"].media = by_name["a.pdf"].media
        async with web_app(w.settings, store, None, None, shared=shared) as served:
            mark = len(w.server.log)
            links = await served.web.links_of(job)
            [link] = links["files"]
            assert (link["name"], link["size"]) == ("a.pdf", len(sources["a.pdf"]))
            asked = [name for _who, name in w.server.log[mark:] if name in READ_BACK]
            assert asked  # read back from Telegram
            [kept] = await telegram_files(state, job.id)
            back = live["a.pdf"]  # what the sink had kept as it sent it, found again
            assert (kept.message_id, kept.document_id, kept.account, kept.channel) == (
                back.message_id,
                back.document_id,
                back.account,
                True,
            )
            transport = httpx.ASGITransport(app=served.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                whole = await http.get(link["url"])
                assert whole.status_code == 200, whole.text
                assert sha(whole.content) == sha(sources["a.pdf"])
                part = await http.get(link["url"], headers={"Range": f"bytes={MIB - 5}-{MIB + 5}"})
                assert part.status_code == 206
                assert part.content == sources["a.pdf"][MIB - 5 : MIB + 6]
            mark = len(w.server.log)
            again = await served.web.links_of(job)
            assert [f["name"] for f in again["files"]] == ["a.pdf"]
            assert [n for _w, n in w.server.log[mark:] if n in READ_BACK] == []  # once a job
        assert any(r.key == MARK for r in await state.records(job.id))
    finally:
        await shared.close()
        await store.close()
