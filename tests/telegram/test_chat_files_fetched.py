"""One way in for every file (issue 45): a file sent in the chat is a job at once, its
message the source (``tg:u/<chat>/<message>``), downloaded by the engine's fetch stage
through ``sources/telegram_link`` like a ``t.me`` link. With the real Telethon client
against the fake Telegram, the engine and the chat door under ``serve``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from telethon.tl import functions

from faketg.state import StoredMessage
from ferryman.engine.ops import report
from ferryman.errors import FerrymanError
from ferryman.model import Job, JobState
from ferryman.sources import telegram_link
from ferryman.sources.telegram_link import MessageRef, TelegramLinkSource
from ferryman.store import Store
from ferryman.store.schema import tg_inbox
from ferryman.telegram.download import CHUNK
from tests.support.waiting import eventually
from tests.telegram.test_telegram_frontdoor import (
    World,
    fetch_part,
    job_in,
    kept_downloads,
    make_world,
    only_job,
    record_requests,
    serving,
    size_of,
)


def test_a_private_chats_message_is_a_source_uri_but_never_typed() -> None:
    ref = MessageRef.parse("tg:u/42/7")
    assert (ref.user, ref.message, str(ref)) == (42, 7, "tg:u/42/7")
    assert TelegramLinkSource().inspect("tg:u/42/7").ident == "tg:u/42/7"
    with pytest.raises(FerrymanError) as refused:  # a person cannot name another's chat
        TelegramLinkSource().recognise("tg:u/42/7")
    assert refused.value.code == "link.invalid"


async def test_the_file_is_a_job_before_its_first_byte_arrives(world: World) -> None:
    """The fake answers each chunk slowly: the job, its status message and `status`
    show the file while no byte of it is on disk yet."""
    data = os.urandom(2 * CHUNK)
    world.server.processing_delay[functions.upload.GetFileRequest] = 3.0
    asked = record_requests(world.server, functions.upload.GetFileRequest)
    async with serving(world):
        sent = world.send(world.alice, file=data, name="clip.bin", mime="application/octet-stream")
        job = await only_job(world)
        assert job.source == f"tg:u/{world.alice.id}/{sent.id}"
        part = fetch_part(world, job.id, "clip.bin")
        assert size_of(part) <= 0 and asked.seen == []  # no byte has arrived

        async def shown() -> str | None:
            said = world.texts(world.alice)
            return said[0] if said and said[0].startswith(f"job {job.id} clip") else None

        await eventually(shown, "the job's status message")
        (listed,) = (await report.status(world.store))["jobs"]
        assert listed["id"] == job.id and listed["state"] not in ("done", "failed")
        assert size_of(part) <= 0 and asked.seen == []  # still none: all before the first
        world.server.processing_delay.clear()
        await job_in(world, JobState.DONE, job.id)
    assert asked.seen  # then the engine downloaded it


async def test_two_files_with_one_fetch_at_a_time_take_turns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``concurrency.fetch = 1``: the second file's job waits in the fetch stage's queue
    (not a download of the door's own beside it) and goes once the first is in."""
    w = make_world(tmp_path)
    w.settings = w.settings.model_copy(
        update={"concurrency": w.settings.concurrency.model_copy(update={"fetch": 1})}
    )
    w.store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    first, second = os.urandom(3 * CHUNK), os.urandom(3 * CHUNK)
    fetched = kept_downloads(monkeypatch)
    w.server.processing_delay[functions.upload.GetFileRequest] = 0.1
    asked = record_requests(w.server, functions.upload.GetFileRequest)
    try:
        async with serving(w):
            a = w.send(w.alice, file=first, name="a.bin", mime="application/octet-stream")
            b = w.send(w.bob, file=second, name="b.bin", mime="application/octet-stream")

            async def both() -> list[Job] | None:
                jobs = await w.store.list_jobs()
                return jobs if len(jobs) == 2 and all(j.state.terminal for j in jobs) else None

            jobs = await eventually(both, "both files' jobs ended")
    finally:
        await w.store.close()
    assert [j.state for j in jobs] == [JobState.DONE, JobState.DONE]
    assert fetched == [first, second]  # in the order they came
    files = [_file_of(seen.request) for seen in asked.seen]
    assert a.media is not None and b.media is not None
    order = [f for i, f in enumerate(files) if i == 0 or files[i - 1] != f]
    assert order == [a.media.id, b.media.id], order  # one after the other, not side by side


def _file_of(request: Any) -> int:
    return int(request.location.id)


async def test_a_deleted_message_fails_its_job_with_a_clear_code(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's message is gone when the fetch stage asks for it: the job fails with
    ``source.not_found`` (not retried: a deleted message does not come back), and its
    status message says so."""
    gate = asyncio.Event()
    original = telegram_link._remote

    async def late(client: Any, ref: Any) -> Any:
        await gate.wait()
        return await original(client, ref)

    monkeypatch.setattr(telegram_link, "_remote", late)
    async with serving(world):
        sent = world.send(world.alice, file=b"x" * 5000, name="gone.bin")
        job = await only_job(world)
        _delete(world, sent)
        gate.set()
        failed = await job_in(world, JobState.FAILED, job.id)

        async def told() -> str | None:
            return next((t for t in world.texts(world.alice) if "source.not_found" in t), None)

        text = await eventually(told, "the status message telling why")
    assert failed.error_code == "source.not_found" and "no such message" in (
        failed.error_message or ""
    )
    assert text.startswith(f"job {job.id} gone: failed")


async def test_a_message_of_another_chat_is_not_fetched(world: World) -> None:
    """``tg:u/<chat>/<n>`` names message n of that chat only: the account numbers its
    private chats' messages together, and one of another chat is not its file."""
    sent = world.send(world.alice, file=b"y" * 5000, name="alices.bin")
    await world.store.add_job(
        source=f"tg:u/{world.bob.id}/{sent.id}", name="not-bobs", dest="library:", fetch=True
    )
    async with serving(world):
        failed = await job_in(world, JobState.FAILED)
    assert failed.error_code == "source.not_found"
    assert "GetFileRequest" not in world.server.stats.requests  # nothing of it asked


def _delete(w: World, sent: StoredMessage) -> None:
    """The person deletes the message (for both sides, as the app offers)."""
    box = w.server.box("user", w.bot.id).messages
    box[:] = [m for m in box if m.id != sent.id]


async def test_a_file_an_older_ferryman_left_downloading_becomes_a_job(world: World) -> None:
    """An older ferryman downloaded in the door and left a row ``downloading`` when it
    stopped: the next start makes it a job whose source is its message (fetched anew
    by the engine), its row done and tied to it."""
    data = os.urandom(CHUNK + 99)
    sent = world.send(world.alice, file=data, name="old.bin", mime="application/octet-stream")
    async with world.store.engine.begin() as conn:
        await conn.execute(
            insert(tg_inbox).values(
                chat_id=world.alice.id,
                message_id=sent.id,
                sender_id=world.alice.id,
                file_key="old",
                name="old.bin",
                size=len(data),
                path=str(world.settings.data_dir / "inbox" / "1" / "old.bin"),
                state="downloading",
                dest="library:",
                created_at=0.0,
                updated_at=0.0,
            )
        )
    async with serving(world):
        job = await job_in(world, JobState.DONE)
    assert job.source == f"tg:u/{world.alice.id}/{sent.id}" and job.name == "old"
    (row,) = await world.store.inbox_rows()
    assert (row.state, row.job_id) == ("done", job.id)
