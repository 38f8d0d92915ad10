"""A job's one live status message, against the fake Telegram with the real Telethon
client: a progress bar and the albums sent while it runs, a summary that says what was
delivered and why files were skipped, and edits paced by Telegram's limit on editing
one message (the fake's ``edit_every``) without holding up the delivery."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import cast

import pytest
from telethon import errors
from telethon.tl import functions

from faketg import FakeTelegram
from faketg.client import logged_in_client
from ferryman.engine.ops import report
from ferryman.frontdoors.telegram.chat import Chat
from ferryman.frontdoors.telegram.render import Shown, bar, job_shown
from ferryman.frontdoors.telegram.status import StatusBoard
from ferryman.model import Job, JobState
from ferryman.rules.outcomes import skip_words
from ferryman.samples import make_photo_set, make_zip
from ferryman.store import Store
from ferryman.store.chat.sql import StatusRow
from ferryman.store.memory.store import MemoryStore
from ferryman.telegram.download import CHUNK
from tests.support.telegram_helpers import SilentChat, log_in
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import (
    World,
    job_in,
    make_world,
    photo_zip,
    record_requests,
    serving,
    serving_as_installed,
)


def test_the_bar_fills_a_cell_per_ten_percent() -> None:
    assert bar(0) == "▱" * 10
    assert bar(40) == "▰▰▰▰▱▱▱▱▱▱"
    assert bar(100) == "▰" * 10
    job = Job(7, "file:///x.zip", "x", "library:", JobState.ACTIVE, 0, None, None, None, 0,
              True, 0.0, None)  # fmt: skip
    shown = job_shown(job, {"delivered": 3, "ready": 1, "pending": 0}, albums=(1, 2))
    first, meter = shown.text.splitlines()
    assert first == "job 7 x: 75% (3 of 4 files)"
    assert meter == "▰▰▰▰▰▰▰▱▱▱ 1 of 2 albums sent"


async def test_the_fake_refuses_an_edit_sooner_than_its_limit(tmp_path: Path) -> None:
    server = FakeTelegram(edit_every=30)
    bot = server.add_user("ferryman", username="ferrybot", bot=True)
    alice = server.add_user("Alice", username="alice")
    client = await logged_in_client(server, bot, flood_sleep_threshold=0)
    try:
        sent = await client.send_message(alice.id, "0%")
        other = await client.send_message(alice.id, "another")
        await client.edit_message(alice.id, sent.id, "50%")  # the first edit: allowed
        await client.edit_message(alice.id, other.id, "edited")  # the limit is per message
        with pytest.raises(errors.FloodWaitError) as caught:
            await client.edit_message(alice.id, sent.id, "60%")
        assert 25 <= caught.value.seconds <= 30
    finally:
        await client.disconnect()
    assert [m.text for m in server.chat(alice, bot)] == ["50%", "edited"]
    assert server.chat(alice, viewer=bot)[0].history == ["0%"]


async def test_the_summary_tells_albums_sent_and_why_files_were_skipped(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    photos = make_photo_set(tmp_path / "src", 3)
    notes = tmp_path / "notes.bin"
    notes.write_bytes(os.urandom(3000))
    zipped = make_zip(tmp_path / "mixed.zip", [(p.name, p) for p in [*photos, notes]])
    try:
        async with serving(w):
            w.send(w.alice, file=zipped.read_bytes(), name="mixed.zip")
            job = await job_in(w, JobState.DONE)

            async def summary() -> str | None:
                texts = [t for t in w.texts(w.alice) if t.startswith(f"job {job.id} mixed: done")]
                return texts[0] if texts else None

            text = await eventually(summary, "the status message's summary")
            skipped = (await report.report(w.store, job.id))["skipped"]
        # A summary an older ferryman showed (its first line only) is not edited again.
        (message,) = w.said(w.alice)
        message.text = text.splitlines()[0]
        edits = message.edits
        await w.store.status_put(StatusRow(job.id, w.alice.id, message.id, 100, message.text, 0))
        async with serving(w):  # another job's summary: the board has looked at all
            w.send(w.alice, file=photo_zip(tmp_path, "later.zip").read_bytes(), name="later.zip")

            async def later() -> bool:
                return any(": done" in t and "later" in t for t in w.texts(w.alice))

            await eventually(later, "the next job's summary")
    finally:
        await w.store.close()
    assert message.edits == edits
    ((reason, n),) = skipped.items()
    assert text.splitlines() == [
        text.splitlines()[0],
        "1 album sent",
        f"skipped {n}: {skip_words(reason)}",  # words, not the report's code
    ]
    assert "_" not in text.splitlines()[2], text
    assert text.splitlines()[0].startswith(f"job {job.id} mixed: done, 3 delivered, 1 skipped")
    assert len(w.said(w.alice)) == 2  # a status message a job (their albums: the library)


@pytest.mark.slow
async def test_a_flood_wait_on_an_edit_never_delays_delivery(tmp_path: Path) -> None:
    """Telegram allows one edit of a message per 60 s here: the status message's second
    edit is refused with a long flood wait while the file still downloads; the album
    comes all the same, long before the wait is over, and the status message keeps the
    last text it was allowed to show."""
    w = _world_with(tmp_path, FakeTelegram(edit_every=60))
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    photos = make_photo_set(tmp_path / "src", 2)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(4 * CHUNK))
    # The photos last: their album can go only once the download is past the holds.
    zipped = make_zip(tmp_path / "slow.zip", [(p.name, p) for p in [blob, *photos]], compress=False)
    await log_in(w.settings, w.server, w.bot)  # the sink's session: albums go as the bot
    edits = record_requests(w.server, functions.messages.EditMessageRequest)
    albums = record_requests(w.server, functions.messages.SendMultiMediaRequest)
    # The download waits at its third chunk until the status was edited once, then at its
    # fifth until an edit was refused: "while the file still downloads" whatever the
    # machine's load (a slow link only made it likely).
    holds = [
        w.server.hold(functions.upload.GetFileRequest, match=lambda r, at=at: r.offset >= at)
        for at in (2 * CHUNK, 4 * CHUNK)
    ]
    try:
        async with serving_as_installed(w):  # the engine's own client: the albums go too
            w.send(w.alice, file=zipped.read_bytes(), name="slow.zip")
            await eventually(
                lambda: holds[0].held and edits.seen, "the status edited, the download held"
            )
            holds[0].release()
            await eventually(lambda: any(e.error for e in edits.seen), "an edit refused", within=60)
            assert not albums.seen  # the download not past its fifth chunk
            holds[1].release()
            await job_in(w, JobState.DONE)

            async def delivered() -> bool:
                return bool(albums.seen) and all(a.error is None for a in albums.seen)

            await eventually(delivered, f"the album sent ({w.server.log[-30:]})")
    finally:
        await w.store.close()
    flooded = [e for e in edits.seen if e.error is not None]
    assert flooded and flooded[0].error is not None and flooded[0].error.startswith("FLOOD_WAIT")
    assert flooded[0].at < albums.seen[0].at  # the wait began before the album went
    assert albums.seen[-1].at - flooded[0].at < 30  # and did not hold it up
    ok = [e for e in edits.seen if e.error is None]
    assert len(ok) == 1  # one edit per 60 s: nothing after the refusal
    status = w.said(w.alice)[0]
    assert status.text == ok[0].request.message and "done" not in status.text


def _world_with(tmp_path: Path, server: FakeTelegram) -> World:
    """``make_world``'s people and settings on a fake made with its own limits; the
    files come back to Alice's chat."""
    bot = server.add_user("ferryman", username="ferrybot", bot=True)
    alice = server.add_user("Alice", username="alice")
    bob = server.add_user("Bob", username="bobby")
    mallory = server.add_user("Mallory", username="mallory")
    base = make_world(tmp_path).settings
    allow = [str(alice.id), "@bobby"]
    telegram = base.telegram.model_copy(
        update={"allow_users": allow, "default_target": "telegram:@alice", "upload_connections": 1}
    )
    settings = base.model_copy(update={"telegram": telegram})
    return World(server, bot, alice, bob, mallory, settings, None, tmp_path)  # type: ignore[arg-type]


async def test_a_message_let_go_while_its_job_is_read_keeps_its_last_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An archive's job held for "Choose files": its message lets go of the job and
    says "downloaded; choose its files" while the board reads that job (the download's
    end marked it changed). The read's view came after and took the message's last
    word: it stayed at "downloading 100%" (the chat demo failed on it once, loaded)."""
    store = MemoryStore()
    board = StatusBoard(store, cast(Chat, SilentChat()), every=0.0)
    job = await store.add_job(source="/trip.zip", name="trip", dest="library:")
    message = await board.open(42, None, Shown(0, "queued", "queued"))
    await board.attach(message, job.id)
    reading, go_on = asyncio.Event(), asyncio.Event()
    read = store.get_job

    async def read_held(job_id: int) -> Job:
        reading.set()
        await go_on.wait()
        return await read(job_id)

    monkeypatch.setattr(store, "get_job", read_held)
    computing = asyncio.create_task(board._compute({job.id}))
    await reading.wait()
    last = Shown(100, "ended", "trip.zip: downloaded; choose its files", final=True)
    board.let_go(message, last)
    go_on.set()
    await computing
    assert message.wanted == last
    assert board.due(message, board.clock()) is not None  # and it is edited to say it
