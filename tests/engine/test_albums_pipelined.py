"""Albums pipelined: the next album is uploaded while the one before it is sent.

Against the fake Telegram with a slow link (every request a long round trip), through
the whole engine: the second album's files are turned into media while the first
album's ``sendMultiMedia`` is still on its way, and yet every file arrives once, each
album whole and in order.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions

from faketg import LinkModel
from faketg.server import Call
from ferryman.engine.ops import intake
from ferryman.model import ItemState, JobState
from ferryman.sinks.telegram_state import TelegramState
from tests.telegram.test_telegram_sink import World, photos


@pytest.mark.slow
@pytest.mark.timing  # asserts a wall-clock bound: a part under a round trip after a send
async def test_the_next_album_is_uploaded_while_the_one_before_is_sent(tmp_path: Path) -> None:
    w = await World.logged_in(tmp_path, send_documents=True)
    folder = tmp_path / "in"
    photos(folder, 10)  # one album of photos, sealed as soon as it is read
    doc = b"%PDF-1.4\n" + os.urandom(50_000)  # an album of its own, read last
    (folder / "z.pdf").write_bytes(doc)
    # Every round trip a second: the photos' album takes two to be ready (its parts,
    # then uploadMedia), time enough for the reading to seal the document's album.
    w.server.network.model = LinkModel(latency=0.5)
    handled: list[str] = []
    at: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    def seen(call: Call, request: Any, result: Any) -> None:
        what = named(request)
        if what is not None:
            handled.append(what)
            at.setdefault(what, loop.time())

    def named(request: Any) -> str | None:
        if isinstance(request, functions.upload.SaveFilePartRequest):
            return "document part" if len(request.bytes) == len(doc) else "part"
        if isinstance(request, functions.messages.SendMultiMediaRequest):
            return "send photos"
        if isinstance(request, functions.messages.SendMediaRequest):
            return "send document"
        return None

    w.server.after_handle.append(seen)
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:@dest")
    await w.run(store)

    assert (await store.get_job(job.id)).state is JobState.DONE
    assert {it.state for it in await store.job_items(job.id)} == {ItemState.DELIVERED}
    order = handled
    assert order.count("send photos") == 1 and order.count("send document") == 1
    # The document's part reached Telegram less than a round trip (1 s) after the
    # photos' send did: it went out before that send's answer could have come back.
    # One album after the other, it would wait for that answer (0.5 s back), the album's
    # record and its own claim, then travel (0.5 s): never under 1 s. (The bound was one
    # way, 0.5 s, which a loaded machine's own delay passed: 0.69 s, still pipelined.)
    assert order.count("document part") == 1
    assert at["document part"] - at["send photos"] < 1.0, (at, order)
    assert order.index("send photos") < order.index("send document")
    chat = w.server.chat(w.channel)
    assert len(chat) == 11  # each file once
    albums = w.server.albums(w.channel)
    assert [len(a) for a in albums] == [10, 1]  # the photos' album went first, whole
    assert albums[1][0].media.kind == "document"
    await store.close()


async def test_an_album_delivered_in_turn_is_prepared_and_sent_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An album not prepared ahead (a job's first) is uploaded and sent by one pass of
    the sink: its records are read once, not read back between its upload and its send
    (each read a thread hop on the way to the send); the next albums are still claimed
    before it is sent, and every file goes once."""
    w = await World.logged_in(tmp_path, send_documents=True)
    folder = tmp_path / "in"
    photos(folder, 10)
    (folder / "z.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(50_000))
    reads: list[int] = []
    album = TelegramState.album

    async def counted(self: TelegramState, job_id: int, album_id: int) -> Any:
        reads.append(album_id)
        return await album(self, job_id, album_id)

    monkeypatch.setattr(TelegramState, "album", counted)
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:@dest")
    await w.run(store)

    assert {it.state for it in await store.job_items(job.id)} == {ItemState.DELIVERED}
    assert len(w.server.chat(w.channel)) == 11  # each file once
    first = reads[0]
    assert reads.count(first) == 1, reads  # was 2: prepared, then read back to send
    await store.close()
