"""The chat's inbox row and its file's job written together, a job held after its fetch
for a choice (``engine.plumbing.chosen.HOLD``), each job's status message and a chat
user's settings: on SQLite, PostgreSQL and the memory store (``tests/support/contract``)."""

from __future__ import annotations

from typing import Any

from ferryman.engine.plumbing.chosen import HOLD
from ferryman.store import Store
from ferryman.store.chat.sql import StatusRow
from tests.support.contract import db_url, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory


def _job(message: int) -> dict[str, Any]:
    return {
        "fetch": True,
        "source": f"tg:u/7/{message}",
        "name": f"file {message}",
        "dest": "library:",
        "priority": 0,
        "password": None,
        "dedupe_key": None,
        "error": None,
    }


async def _add(store: Store, message: int, *, force: bool = False, choose: bool = False) -> Any:
    return await store.inbox_add(
        chat_id=7,
        message_id=message,
        sender_id=7,
        file_key="doc-1:100",
        name="a.zip",
        size=100,
        force=force,
        job=_job(message),
        memos={HOLD: ""} if choose else None,
    )


async def test_a_file_and_its_job_are_one_write_and_a_second_send_is_a_duplicate(
    store: Store,
) -> None:
    row, earlier, job = await _add(store, 1)
    assert earlier is None and job is not None and row.job_id == job.id and row.state == "done"
    assert (await store.fetched(job.id)) is not None  # fetched first, by the engine
    assert await _add(store, 1) is None  # the same message seen again: nothing new
    again, first, none = await _add(store, 2)
    assert (again.state, none, first.id) == ("duplicate", None, row.id)
    assert [j.id for j in await store.list_jobs()] == [job.id]
    _forced, _, forced_job = await _add(store, 3, force=True)
    assert forced_job is not None and forced_job.id != job.id
    assert await store.inbox_of_job(job.id) == row


async def test_a_file_whose_job_was_cancelled_is_taken_again(store: Store) -> None:
    _row, _, job = await _add(store, 1)
    await store.cancel(job.id)
    _again, earlier, second = await _add(store, 2)
    assert earlier is None and second is not None and second.id != job.id


async def test_a_job_asked_to_be_chosen_is_held_after_its_fetch_until_chosen(
    store: Store,
) -> None:
    _row, _, job = await _add(store, 1, choose=True)
    fetch = await store.claim_fetch("f", 60)
    assert fetch is not None and fetch.job_id == job.id
    assert await store.fetch_done(fetch.id, "f", "/work/a.zip", 100, hold=HOLD)
    held = await store.get_job(job.id)
    assert held.paused and held.wait_reason == HOLD
    assert not await store.hold_asked(job.id, HOLD, False)  # its fetch ended: too late
    await store.hold_ended(job.id, HOLD, {"chosen": '["a.jpg"]'})
    going = await store.get_job(job.id)
    assert not going.paused and going.wait_reason is None
    assert await store.source_memos(job.id) == {"chosen": '["a.jpg"]'}


async def test_a_choice_asked_while_it_downloads_holds_it(store: Store) -> None:
    _row, _, job = await _add(store, 1)
    assert await store.hold_asked(job.id, HOLD, True)  # its fetch has not ended
    fetch = await store.claim_fetch("f", 60)
    assert fetch is not None
    assert await store.fetch_done(fetch.id, "f", "/work/a.zip", 100, hold=HOLD)
    assert (await store.get_job(job.id)).paused


async def test_notes_old_downloads_failures_and_a_removed_job_in_the_inbox(
    store: Store,
) -> None:
    """A message that is no download is noted once; a row an older ferryman left
    downloading becomes a job; a failed row lets go of its job; ``/cleanup`` forgets a
    path; removing a job removes its rows (the same file may come again)."""
    await store.inbox_note(chat_id=7, message_id=1, sender_id=7, state="failed", code="x.y")
    await store.inbox_note(chat_id=7, message_id=1, sender_id=7, state="failed", code="z.z")
    (noted,) = await store.inbox_rows()
    assert (noted.state, noted.error_code, noted.job_id, noted.file_key) == (
        "failed",
        "x.y",
        None,
        None,
    )
    row, _, job = await _add(store, 2)
    assert [r.id for r in await store.inbox_rows(["done"])] == [row.id]
    await store.inbox_failed(row.id, "job.cancelled", let_go=True)
    let_go = (await store.inbox_rows(["failed"]))[-1]
    assert (let_go.id, let_go.job_id, let_go.error_code) == (row.id, None, "job.cancelled")
    assert await store.inbox_of_job(job.id) is None
    _again, earlier, second = await _add(store, 3)  # its file's earlier row failed
    assert earlier is None and second is not None
    await store.inbox_forget_path(_again.id)
    assert (await store.inbox_of_job(second.id)) == _again  # no path to forget: the same
    await store.cancel(second.id)
    await store.remove_job(second.id)
    assert await store.inbox_of_job(second.id) is None
    assert [r.id for r in await store.inbox_rows()] == [noted.id, row.id]


async def test_a_status_message_and_a_users_settings_are_kept(store: Store) -> None:
    _row, _, job = await _add(store, 1)
    assert await store.status_rows() == [] and await store.status_get(job.id) is None
    shown = StatusRow(job.id, 7, 40, 10, "reading", 1_000.0)
    await store.status_put(shown)
    await store.status_put(StatusRow(job.id, 7, 40, 55, "sending", 1_005.0))  # replaced
    assert await store.status_rows() == [StatusRow(job.id, 7, 40, 55, "sending", 1_005.0)]
    assert await store.album_tally(job.id) == (0, 0)
    await store.user_setting_put(7, "to", "library:")
    await store.user_setting_put(7, "send", "documents")
    await store.user_setting_put(8, "to", "link:")
    await store.user_setting_put(7, "send", None)  # back to the default
    assert await store.user_settings(7) == {"to": "library:"}
    assert await store.user_settings(8) == {"to": "link:"} and await store.user_settings(9) == {}
    await store.cancel(job.id)
    await store.remove_job(job.id)
    assert await store.status_rows() == []
