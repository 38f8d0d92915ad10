"""A number once given is never given again: a watch's, a chat inbox row's (its number is
in a button's data and names its download folder), a job's, a person's and a token's, on
SQLite, PostgreSQL and the memory store, after a removal and after a restart. SQLite gave
a new watch the largest number plus one, so one added after the newest was removed took
its number, and a notice of the removed watch's last look (an event row the notifier had
not made into a notice yet) went to the newcomer's person, with the removed one's
entries in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from ferryman.config import Settings
from ferryman.engine.notify import Notifier
from ferryman.engine.runner import Engine
from ferryman.store import Store, migrate
from ferryman.store.watches.sql import WatchJob
from ferryman.web.accounts.passwords import hash_password
from tests.store.test_migrations import _database, _run, kind
from tests.support.contract import MEMORY, ContractStore, db_url, store

__all__ = ["db_url", "kind", "store"]


def _watch(source: str, **more: Any) -> dict[str, Any]:
    return {
        "kind": "feed",
        "source": source,
        "dest": "library:",
        "every_seconds": 60.0,
        "since": "all",
        "next_check_at": 0.0,
        **more,
    }


def _job(link: str) -> dict[str, Any]:
    return {
        "fetch": True,
        "source": link,
        "name": link.rpartition("/")[2],
        "dest": "library:",
        "priority": 0,
        "password": None,
        "dedupe_key": link,
        "error": None,
    }


async def _reopened(store: ContractStore, db_url: str) -> ContractStore:
    """The same database opened anew (a restart); the memory store lives on."""
    if db_url == MEMORY:
        return store
    assert isinstance(store, Store)
    await store.close()
    return await Store.open(db_url)


async def test_a_removed_watchs_number_is_never_given_again(
    store: ContractStore, db_url: str
) -> None:
    first = await store.add_watch(**_watch("https://h/a.xml"))
    newest = await store.add_watch(**_watch("https://h/b.xml"))
    await store.remove_watch(newest.id)
    after = await store.add_watch(**_watch("https://h/c.xml"))
    assert after.id > newest.id > first.id
    await store.remove_watch(after.id)
    store = await _reopened(store, db_url)
    try:
        restarted = await store.add_watch(**_watch("https://h/d.xml"))
        assert restarted.id > after.id
    finally:
        await store.close()


async def test_a_removed_chat_files_number_is_never_given_again(
    store: ContractStore, db_url: str
) -> None:
    """A file sent in the chat (its row and job), its job removed: the next file's row
    has a number of its own, so an old button ``a:ROW:…`` names nothing."""

    async def received(message_id: int) -> int:
        added = await store.inbox_add(
            chat_id=7, message_id=message_id, sender_id=7, file_key=f"f{message_id}:1",
            name=f"{message_id}.zip", size=1, force=False,
            job=_job(f"tg:u/7/{message_id}") | {"account": None},
        )  # fmt: skip
        assert added is not None
        row, _, job = added
        assert job is not None
        await store.cancel(job.id)
        await store.remove_job(job.id)
        return row.id

    first = await received(1)
    second = await received(2)
    store = await _reopened(store, db_url)
    try:
        third = await received(3)
    finally:
        await store.close()
    assert first < second < third


async def test_a_removed_watchs_notice_goes_to_nobody_else(
    store: ContractStore, settings: Settings
) -> None:
    """Ann's watch found an entry (its event row waits for the notifier), then she
    removed it; Bob's new watch, with a webhook of his own, must not be told of it."""
    ann = await store.add_user("ann", hash_password("ann's password"))
    bob = await store.add_user("bob", hash_password("bob's password"))
    hers = await store.add_watch(**_watch("https://h/ann.xml"))
    await store.set_watch_account(hers.id, ann.id)
    assert await store.claim_watch("a", 30) is not None
    found = [WatchJob("e1", "ann's private trip", _job("https://h/ann-trip.zip"))]
    await store.watch_checked(hers.id, "a", found, 0.0)
    assert [e.watch_id for e in await store.notice_events()] == [hers.id]
    await store.remove_watch(hers.id)
    his = await store.add_watch(**_watch("https://h/bob.xml", notify="json://bob.example/hook"))
    await store.set_watch_account(his.id, bob.id)
    engine = Engine(store, settings)  # type: ignore[arg-type]
    await Notifier(engine.ctx).prepare_events()
    assert await store.notice_events() == []  # told of nothing: its watch is gone
    assert await store.list_notices() == []


async def test_after_step_22_a_removed_watchs_number_is_never_given_again(
    kind: str, tmp_path: Path
) -> None:
    """Watches and chat rows made at version 21, upgraded: their rows whole, their
    numbers new after the newest is removed (SQLite's rebuild with AUTOINCREMENT)."""
    async with _database(kind, tmp_path) as engine:
        await _run(engine, lambda c: migrate.migrate(c, 21))

        def rows(conn: Connection) -> None:
            with conn.begin():
                for n in (1, 2):
                    conn.exec_driver_sql(
                        "INSERT INTO watches (kind, source, dest, every_seconds, since, state,"
                        " paused, priority, primed, next_check_at, failures, found,"
                        " created_at, updated_at, attempts, not_before, account_id) VALUES"
                        f" ('feed', 'https://h/{n}.xml', 'library:', 60.0, 'all', 'idle',"
                        f" FALSE, 0, FALSE, 0.0, 0, 0, 1.0, 1.0, 0, 0.0, {n})"
                    )
                conn.exec_driver_sql(
                    "INSERT INTO watch_seen (watch_id, entry_key, entry_id, seen_at)"
                    " VALUES (1, 'k', 'e', 1.0)"
                )

        await _run(engine, rows)
        await _run(engine, migrate.migrate)
        store = Store(engine)
        kept = await store.watch_seen_rows(1)
        await store.remove_watch(2)
        newcomer = await store.add_watch(**_watch("https://h/3.xml"))
        accounts = await store.watch_accounts()
    assert newcomer.id == 3
    assert kept == [("e", None)]
    assert accounts == {1: 1, 3: None}
