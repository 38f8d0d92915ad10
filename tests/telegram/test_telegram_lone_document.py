"""A document sent in a message of its own: its upload goes straight into ``sendMedia``.

``uploadMedia`` turns an upload into a reference that ``sendMultiMedia`` needs; a message
of one document does not, so the round trip after its last part is saved. The upload is
kept in the store as a reference would be: a repeat (a lost answer, a crash) sends it
again under the same ``random_id`` without uploading it again, and one whose parts
Telegram no longer has is uploaded again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from telethon.tl import functions

from ferryman.engine.ops import intake
from ferryman.model import ItemState
from tests.telegram.test_telegram_sink import World, telegram_state

PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def pdf(folder: Path, size: int, name: str = "big.pdf") -> tuple[Path, str]:
    """A folder holding one file that is classified as a document; its SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    data = PDF_HEAD + os.urandom(size - len(PDF_HEAD))
    (folder / name).write_bytes(data)
    return folder, hashlib.sha256(data).hexdigest()


def documents(w: World) -> list[str]:
    """The SHA-256 of every document in Saved Messages."""
    return [
        m.media.file.sha256
        for m in w.server.chat(w.me)
        if m.media is not None and m.media.kind == "document"
    ]


def parts(w: World) -> int:
    req = w.server.stats.requests
    return req.get("SaveFilePartRequest", 0) + req.get("SaveBigFilePartRequest", 0)


async def test_a_document_alone_is_sent_without_upload_media(tmp_path: Path) -> None:
    w = await World.logged_in(tmp_path, send_documents=True)
    folder, digest = pdf(tmp_path / "in", 11 * 1024 * 1024)  # a big file: saveBigFilePart
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:me")
    await w.run(store)

    assert documents(w) == [digest]
    requests = w.server.stats.requests
    assert requests.get("UploadMediaRequest", 0) == 0, requests  # before: one
    assert requests["SendMediaRequest"] == 1
    assert parts(w) == 22
    assert {it.state for it in await store.job_items(job.id)} == {ItemState.DELIVERED}
    await store.close()


async def test_a_lost_answer_to_a_lone_documents_send_neither_posts_nor_uploads_twice(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path, send_documents=True)
    folder, digest = pdf(tmp_path / "in", 3 * 1024 * 1024)
    # Telegram posts the document, then the connection drops before the answer arrives.
    w.server.inject(functions.messages.SendMediaRequest, drop=True, after=True)
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:me")
    await w.run(store)

    assert documents(w) == [digest], "the document was posted twice"
    assert w.server.stats.requests["SendMediaRequest"] == 2  # the repeat, answered as the first
    assert parts(w) == 6  # uploaded once: the repeat sent the kept upload again
    (message,) = w.server.chat(w.me)
    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.DELIVERED
    assert await telegram_state(store).messages(job.id, item.id) == [message.id]
    await store.close()


async def test_a_kept_upload_telegram_no_longer_has_is_uploaded_again_same_random_id(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path, send_documents=True)
    folder, digest = pdf(tmp_path / "in", 3 * 1024 * 1024)
    # As after a restart a day later: the upload's parts are gone from Telegram.
    w.server.inject(functions.messages.SendMediaRequest, "FILE_PART_0_MISSING")
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:me")
    await w.run(store)

    assert documents(w) == [digest]
    assert parts(w) == 12  # uploaded twice
    (message,) = w.server.chat(w.me)
    records = await store.sink_state("telegram").records(job.id)
    stored = {r.value["random_id"] for r in records if r.key.startswith("send:")}
    assert stored == {message.random_id}
    await store.close()
