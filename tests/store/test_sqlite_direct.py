"""``sql/sqlite_direct``: the per-album statements run on sqlite3 itself on SQLite's thread,
reading as SQLAlchemy's do, on SQLite and PostgreSQL (where they are SQLAlchemy's)."""

from __future__ import annotations

import contextlib
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.engine import Connection

from ferryman.model import ItemState, Job, MediaKind, Plan
from ferryman.store import Store, sqlite_thread
from ferryman.store.schema import jobs
from ferryman.store.sql import sqlite_direct, statements
from ferryman.store.store import NewItem


def _photo(seq: int) -> NewItem:
    return NewItem(
        seq=seq, source_path=f"p{seq:03d}.jpg", kind=MediaKind.PHOTO, state=ItemState.READY,
        size=100, plan=Plan.AS_IS,
    )  # fmt: skip


@contextlib.contextmanager
def _through_sqlalchemy(store: Store, *, reader: bool = False) -> Iterator[list[str]]:
    """Each statement SQLAlchemy's execution sends on the store's writer (and its
    reader) while the block runs: on SQLite, the paths tested here send none."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engines = {store.engine.sync_engine}
    if reader:
        engines.add(store.reader.sync_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


async def _read_in(store: Store, photos: int, album_size: int) -> Job:
    """A job claimed and read: ``photos`` photos recorded, sealed in albums."""
    job = await store.add_job(source="/a", name="a", dest="library:")
    assert await store.claim_job("w", 30) is not None
    await store.record_entries(job.id, "w", photos, [_photo(s) for s in range(photos)], album_size)
    return job


def _both(
    conn: Connection, statement: Any, params: dict[str, Any], named: bool = True
) -> list[Any]:
    """The statement's rows through SQLAlchemy and through ``sqlite_direct``, side by side
    (``named``: by column name too; SQLAlchemy's own names of unlabelled expressions
    are not to be read by name)."""
    through = conn.execute(statement, params).all()
    quickly = sqlite_direct.execute(conn, statement, params).all()
    pairs = [
        ([tuple(r) for r in through], [tuple(r) for r in quickly]),
        ([type(v) for r in through for v in r], [type(v) for r in quickly for v in r]),
    ]
    if named:
        pairs.append(([dict(r._mapping) for r in through], [dict(r._mapping) for r in quickly]))
    return pairs


async def test_rows_read_as_sqlalchemys(store: Store) -> None:
    job = await _read_in(store, 12, album_size=5)

    def compare(conn: Connection) -> list[Any]:
        params = {"job_id": job.id}
        return [
            *_both(conn, statements.DELIVERY_JOB, params),  # booleans, a count beside the row
            *_both(conn, statements.JOB_LOAD, params, named=False),  # an IN of constants
            *_both(conn, statements.SEAL_ITEMS, params),
            *_both(conn, statements.ALBUM_ITEMS, {"album": 1}),
        ]

    for through, quickly in await sqlite_thread.transaction(store.engine, compare):
        assert through == quickly
        assert through  # something was compared


async def test_an_album_is_recorded_and_delivered_without_sqlalchemys_execution(
    store: Store, db_url: str
) -> None:
    """On SQLite, recording entries, sealing, and recording a delivery with the next
    claim send no statement through SQLAlchemy's execution (each cost some 150 µs)."""
    job = await store.add_job(source="/a", name="a", dest="library:")
    assert await store.claim_job("w", 30) is not None
    with _through_sqlalchemy(store) as seen:
        recorded = await store.record_entries(job.id, "w", 20, [_photo(s) for s in range(20)], 10)
        first = await store.claim_album("d", 30)
        assert first is not None
        second = await store.album_delivered(first.id, "d", "ref-1", claim_next=30)
    assert len(recorded.sealed) == 2 and [i.seq for i in first.items] == list(range(10))
    assert second is not None and [i.seq for i in second.album.items] == list(range(10, 20))
    assert second.albums == 2 and not second.final
    if db_url.startswith("sqlite"):
        written = [s for s in seen if not s.lstrip().upper().startswith("SELECT")]
        assert written == [], written
        assert seen == []  # not one statement of them through SQLAlchemy


async def test_the_reads_a_delivery_wakes_send_no_statement_through_sqlalchemy(
    store: Store, db_url: str
) -> None:
    """The reads each album's delivery sets off (the reading's backlog and albums in
    flight, the housekeeper's look) run on sqlite3 itself on SQLite: no statement
    through SQLAlchemy's execution (each cost some 60-150 µs on the loop); the same
    answers on both backends."""
    job = await _read_in(store, 12, album_size=10)
    with _through_sqlalchemy(store, reader=True) as seen:
        backlog = await store.backlog(job.id)
        in_flight = await store.albums_in_flight(job.id)
        look = await store.housekeeping_state()
    assert backlog == (12, 1200) and in_flight
    assert not look.finishable and not look.idle
    if db_url.startswith("sqlite"):
        assert seen == []


async def test_a_savepoint_undoes_only_what_ran_inside(store: Store) -> None:
    def write(conn: Connection, name: str) -> None:
        values = {"source": "/x", "name": name, "dest": "library:", "state": "queued"}
        sqlite_direct.execute(conn, insert(jobs), {**values, "created_at": 0.0, "updated_at": 0.0})

    def body(conn: Connection) -> None:
        write(conn, "kept")
        with pytest.raises(RuntimeError), sqlite_direct.savepoint(conn):
            write(conn, "undone")
            raise RuntimeError("inside")
        with sqlite_direct.savepoint(conn):
            write(conn, "also kept")

    await sqlite_thread.transaction(store.engine, body)

    def names(conn: Connection) -> list[str]:
        return list(conn.execute(select(jobs.c.name).order_by(jobs.c.id)).scalars())

    assert await sqlite_thread.transaction(store.engine, names) == ["kept", "also kept"]


async def test_a_links_add_and_its_fetchs_end_send_no_statement_through_sqlalchemy(
    store: Store, db_url: str
) -> None:
    """A link's job added (with its dedupe key and its fetch) and its fetch's end (named
    after its file among the place's jobs, with its note) run on sqlite3 itself on
    SQLite: each statement was built, compiled and executed by SQLAlchemy, 200 links'
    adds before the engine started and their ends on the one writer. The same rows on
    both backends."""
    from ferryman.store.fetches.sql import InputName

    await store.add_job(source="tg:c/1/1", name="photo", dest="library:/x?caption=a")
    await store.add_job(source="tg:c/1/9", name="photo_2", dest="library:/y", fetch=True)
    with _through_sqlalchemy(store) as seen:
        job = await store.add_job(
            source="tg:c/1/2", name="c1-2", dest="library:/x", fetch=True, dedupe_key="k2"
        )
        adding = list(seen)
        fetch = await store.claim_fetch("f", 30)
        assert fetch is not None and fetch.job_id == 2
        seen.clear()
        await store.fetch_done(fetch.id, "f", "/w/y.jpg", 5, named=InputName("photo"))
        fetch = await store.claim_fetch("f", 30)
        assert fetch is not None and fetch.job_id == job.id
        seen.clear()
        note = ("fetch.note", "n")
        await store.fetch_done(fetch.id, "f", "/w/p.jpg", 5, named=InputName("photo"), note=note)
    assert (await store.get_job(job.id)).name == "photo (2)"  # library:/x?… is its place
    assert (await store.get_job(2)).name == "photo"  # /y is not
    assert await store.source_memos(job.id) == {"fetch.note": "n"}
    with pytest.raises(Exception, match="already job"):
        await store.add_job(source="tg:c/1/2", name="b", dest="library:", dedupe_key="k2")
    if db_url.startswith("sqlite"):
        assert adding == [] and seen == []


async def test_an_in_of_any_length_keeps_a_few_plans(store: Store, db_url: str) -> None:
    """A list bound to an ``IN`` (a watch's batch of keys, the jobs a round settles) of
    every length from 0 to 40 reads as SQLAlchemy reads it, and on SQLite keeps a plan
    per length up to 8, then one per power of two: not one per length, each kept for
    the statement's life."""
    made = [
        (await store.add_job(source=f"/{n}", name=f"n{n}", dest="library:")).id for n in range(3)
    ]
    among = select(jobs.c.id).where(jobs.c.id.in_(bindparam("ids", expanding=True)))
    unlike = select(jobs.c.id).where(jobs.c.id.not_in(bindparam("ids", expanding=True)))

    def compare(conn: Connection) -> list[Any]:
        pairs = []
        for n in range(41):
            ids = [made[n % 3] if n % 2 else 1000 + n, *range(2000, 2000 + n)][:n]
            for statement in (among, unlike):
                pairs += _both(conn, statement.order_by(jobs.c.id), {"ids": ids})[:1]
                pairs += _both(conn, statement, {"ids": ids})[:1]
        on_sqlite = isinstance(conn.connection.driver_connection, sqlite_thread.Connection)
        pairs.append((len(sqlite_direct._PLANS.get(among, {})), 12 if on_sqlite else 0))
        return pairs

    found = await sqlite_thread.transaction(store.engine, compare)
    for through, quickly in found[:-1]:
        assert through == quickly
    assert any(through for through, _ in found[:-1])  # rows were compared
    kept, expected = found[-1]
    assert kept == expected  # 0 to 8, 16, 32, 64 (none on PostgreSQL: no plans)
    assert expected == (12 if db_url.startswith("sqlite") else 0)


async def test_the_pages_reads_send_no_statement_through_sqlalchemy(
    store: Store, db_url: str
) -> None:
    """The reads the page, ``status`` and the housekeeper make (each opened a connection
    of its own, its statement built per call) go through ``_read`` and ``_snapshot``: on
    SQLite on sqlite3 itself, no statement through SQLAlchemy's execution."""
    job = await store.add_job(source="/a", name="a", dest="library:")
    await store.set_runtime_setting("k", 1)
    with _through_sqlalchemy(store, reader=True) as seen:
        listed = await store.list_jobs()
        places = await store.queue_places()
        figures = await store.figures()
        runs = await store.node_runs()
        settings = await store.runtime_settings()
        settled = await store.settle_ended([job.id], 0.0)
        behind = await store.read_waits_behind(job.id)
        dests = await store.live_dests()
    assert [j.id for j in listed] == [job.id] and places == {
        job.id: {"reason": "reading", "ahead": 0}
    }
    assert figures["jobs_by_source"] == {("file", "queued"): 1} and runs == []
    assert settings == {"k": 1} and settled == [] and not behind and dests == ["library:"]
    if db_url.startswith("sqlite"):
        assert seen == []


async def test_a_plan_made_for_one_store_serves_the_next_and_goes_with_its_statement(
    tmp_path: Path,
) -> None:
    """Plans are the process's, not a connection's: a second store (its own connections)
    compiles nothing a first store compiled; a statement's plans go when it does."""
    statement = select(jobs.c.id, jobs.c.name).where(jobs.c.id == bindparam("job_id"))
    compiled = await _plans_made_by_two_stores(statement, tmp_path)
    assert compiled.count(statement) == 1
    key = weakref.ref(statement)
    del statement, compiled
    gc.collect()
    assert key() is None  # the plans held it not: a statement built per store goes with it


async def _plans_made_by_two_stores(statement: Any, tmp_path: Path) -> list[Any]:
    """The statements ``sqlite_direct`` compiled while two stores, one after the other,
    each read a job of its own with ``statement``."""
    compiled: list[Any] = []
    real = sqlite_direct._plan

    def counted(conn: Connection, stmt: Any, params: Any) -> Any:
        compiled.append(stmt)
        return real(conn, stmt, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sqlite_direct, "_plan", counted)
        for n in range(2):
            store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / f'{n}.db'}")
            try:
                job = await store.add_job(source=f"/{n}", name=f"n{n}", dest="library:")

                def read(conn: Connection, job_id: int = job.id) -> Any:
                    return sqlite_direct.execute(conn, statement, {"job_id": job_id}).one()

                row = await sqlite_thread.transaction(store.engine, read)
                assert tuple(row) == (job.id, f"n{n}")
            finally:
                await store.close()
    return compiled
