"""The light store (``store/startup/sqlite3_store``) is the store, for the commands that answer at
once: the database it makes is the one the full store makes, the rows it writes are the
rows the full store writes, and it steps aside for any database it was not written for."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.store import Store, migrate, migrations, schema
from ferryman.store.startup.sqlite3_schema import SCHEMA_VERSION
from ferryman.store.startup.sqlite3_store import Sqlite3Store, open_sqlite3, sqlite_path
from ferryman.store.watches.sql import WatchJob
from tests.store.test_migrations import _shape
from tests.support import forked

_SKIP = {"id", "created_at", "updated_at", "finished_at", "job_id", "summary"}


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _sync_shape(path: Path) -> dict[str, Any]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return _shape(conn)
    finally:
        engine.dispose()


def _table(path: Path, table: str) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as conn:
        cursor = conn.execute(f"SELECT * FROM {table} ORDER BY id")
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    return [{k: v for k, v in zip(names, r, strict=True) if k not in _SKIP} for r in rows]


def _light_store(path: Path, *, create: bool = True) -> Sqlite3Store:
    store = open_sqlite3(_url(path), create=create)
    assert store is not None
    return store


def test_it_stands_for_the_newest_schema_version() -> None:
    assert len(migrations.STEPS) == SCHEMA_VERSION, "run: python -m tests.support.sqlite_ddl_gen"


async def test_the_database_it_makes_is_the_one_the_store_makes(tmp_path: Path) -> None:
    _light_store(tmp_path / "light.db").close()
    full = await Store.open(_url(tmp_path / "full.db"))
    await full.close()
    # The full store makes a new SQLite database from the same statements (migrate's
    # _create_newest), so they are held to what SQLAlchemy makes of schema.py too.
    engine = create_engine(f"sqlite:///{tmp_path / 'sqla.db'}")
    with engine.begin() as conn:
        schema.metadata.create_all(conn)
    engine.dispose()
    light = _sync_shape(tmp_path / "light.db")
    assert light == _sync_shape(tmp_path / "sqla.db"), (
        "the light store's DDL is stale: run `python -m tests.support.sqlite_ddl_gen`"
    )
    assert light == _sync_shape(tmp_path / "full.db")
    with sqlite3.connect(tmp_path / "light.db") as conn:
        stamped = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stamped == list(range(1, len(migrations.STEPS) + 1))
    again = await Store.open(_url(tmp_path / "light.db"))  # nothing to migrate, it opens
    assert await again.list_jobs() == []
    await again.close()


async def test_it_writes_the_rows_the_store_writes(tmp_path: Path) -> None:
    """A plain job, a job fetched first, a job failed at once (with its summary), a
    password; then a duplicate is refused by both, naming the job."""
    adds: list[dict[str, Any]] = [
        {"source": "file:///in/a.zip", "name": "a", "dest": "library:", "dedupe_key": "k1"},
        {"source": "https://h/b.zip", "name": "b", "dest": "library:", "fetch": True},
        {
            "source": "file:///gone",
            "name": "gone",
            "dest": "library:",
            "priority": 3,
            "password": "pw",
            "error": FerrymanError("source.not_found", "/gone: no such file"),
        },
    ]
    light_store = _light_store(tmp_path / "light.db")
    full = await Store.open(_url(tmp_path / "full.db"))
    try:
        for add in adds:
            made = light_store.add_job(**add)
            same = await full.add_job(**add)
            assert (made.id, made.name, made.state, made.passwords) == (
                same.id,
                same.name,
                same.state,
                same.passwords,
            )
        with pytest.raises(FerrymanError) as light_dup:
            light_store.add_job(**adds[0])
        with pytest.raises(FerrymanError) as full_dup:
            await full.add_job(**adds[0])
        assert light_dup.value.code == full_dup.value.code == "source.duplicate"
        assert "job 1" in light_dup.value.message
        assert light_store.unique_name("a", "library:") == await full.unique_name("a", "library:")
        assert light_store.unique_name("a", "library:") == "a (2)"
        failed = await full.get_job(3)
        read_back = {j.id: j for j in light_store.list_jobs()}
    finally:
        light_store.close()
        await full.close()
    for table in ("jobs", "fetches"):
        assert _table(tmp_path / "light.db", table) == _table(tmp_path / "full.db", table), table
    assert read_back[3].state is JobState.FAILED
    assert read_back[3].summary is not None and failed.summary is not None
    assert read_back[3].summary.keys() == failed.summary.keys()
    assert read_back[3].summary["error"] == failed.summary["error"]


async def test_its_reads_agree_with_the_store(tmp_path: Path) -> None:
    """Each read the start-up store has is the full store's method of the same name
    (one way in per read: a command takes one or the other), and reads the same rows:
    items in two states, a download under way, one failing, places in line, settings."""
    from ferryman.model import ItemState, MediaKind
    from ferryman.store.shared.rows import NewItem

    path = tmp_path / "both.db"
    full = await Store.open(_url(path))
    read = await full.add_job(source="file:///x", name="x", dest="library:")
    assert await full.claim_job("r", 30) is not None
    photos = [
        NewItem(seq=n, source_path=f"p{n}.jpg", kind=MediaKind.PHOTO, state=state, size=10)
        for n, state in enumerate([ItemState.READY, ItemState.READY, ItemState.SKIPPED])
    ]
    await full.record_entries(read.id, "r", 3, photos)
    for n in range(3):
        await full.add_job(source=f"https://h/{n}", name=f"l{n}", dest="library:", fetch=True)
    await full.add_job(source="file:///y", name="y", dest="library:")
    fetching, failing = await full.claim_fetch("f", 30), await full.claim_fetch("f", 30)
    assert fetching is not None and failing is not None
    error = FerrymanError("source.network", "no route")
    await full.fetch_retry(failing.id, "f", error, 60)
    await full.set_runtime_setting("album_size", 4)
    light_store = _light_store(path, create=False)
    reads = ("list_jobs", "fetching_jobs", "fetch_errors", "item_counts", "queue_places")
    try:
        for name in reads:
            got, want = getattr(light_store, name)(), await getattr(full, name)()
            assert got == want and got, name  # each read finds rows here
        assert light_store.runtime_settings() == await full.runtime_settings() == {"album_size": 4}
        assert light_store.unique_name("x", "library:") == await full.unique_name("x", "library:")
    finally:
        light_store.close()
        await full.close()
    shared = {n for n in vars(Sqlite3Store) if not n.startswith("_")} - {"live_nodes"}
    assert all(hasattr(Store, n) for n in shared), shared  # live_nodes: ``workers``' part
    assert set(reads) | {"runtime_settings", "unique_name", "add_job", "close"} == shared


async def test_it_refuses_an_input_a_watchs_job_took_until_that_job_is_removed(
    tmp_path: Path,
) -> None:
    """``ferryman add`` (the light store) looks at a look's inputs' keys as the store
    does: an input a watch's job holds is refused naming it; once removed, it adds."""
    path = tmp_path / "both.db"
    full = await Store.open(_url(path))
    light_store = _light_store(path, create=False)
    add = {"source": "https://h/2.jpg", "name": "2", "dest": "library:", "dedupe_key": "k2"}
    try:
        watch = await full.add_watch(
            kind="feed", source="https://h/feed.xml", dest="library:",
            every_seconds=60.0, since="all", next_check_at=0.0,
        )  # fmt: skip
        assert await full.claim_watch("a", 30) is not None
        inputs = [("e1", "https://h/1.jpg", "k1"), ("e2", "https://h/2.jpg", "k2")]
        made = await full.watch_checked(
            watch.id,
            "a",
            [
                WatchJob(e, e, add | {"source": s, "dedupe_key": k, "priority": 0})
                for e, s, k in inputs
            ],
            0,
        )
        job = made.jobs[0][1]
        assert job is not None
        with pytest.raises(FerrymanError) as refused:
            light_store.add_job(**add)
        assert refused.value.code == "source.duplicate"
        assert refused.value.message == f"already job {job.id}"
        await full.cancel(job.id)
        await full.remove_job(job.id)
        again = light_store.add_job(**add)
    finally:
        light_store.close()
        await full.close()
    assert again.source == "https://h/2.jpg" and again.id != job.id


def test_a_read_makes_no_database(tmp_path: Path) -> None:
    store = _light_store(tmp_path / "data" / "ferryman.db", create=False)
    assert store.list_jobs() == [] and store.runtime_settings() == {}
    store.close()
    assert not (tmp_path / "data").exists()
    with pytest.raises(FerrymanError):
        store.add_job(source="file:///x", name="x", dest="library:")


async def test_it_steps_aside_for_a_database_it_was_not_written_for(tmp_path: Path) -> None:
    """Older (the store migrates it), newer (the store refuses it, clearly), not SQLite,
    in memory, or not a database at all: None, and the caller takes the full store."""
    old = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{old}")
    with engine.connect() as conn:
        migrate.migrate(conn, len(migrations.STEPS) - 1)
    engine.dispose()
    assert open_sqlite3(_url(old), create=True) is None
    newer = tmp_path / "newer.db"
    _light_store(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    assert open_sqlite3(_url(newer), create=False) is None
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    assert open_sqlite3(_url(junk), create=True) is None
    assert open_sqlite3("postgresql://u@h/db", create=True) is None
    assert open_sqlite3("sqlite+aiosqlite:///:memory:", create=True) is None
    assert sqlite_path("sqlite:////abs/x%20y.db?mode=ro") == Path("/abs/x y.db")


def test_status_on_an_older_database_takes_the_full_store_which_migrates_it(
    tmp_path: Path,
) -> None:

    data = tmp_path / "data"
    data.mkdir()
    engine = create_engine(f"sqlite:///{data / 'ferryman.db'}")
    with engine.connect() as conn:
        migrate.migrate(conn, len(migrations.STEPS) - 1)
    engine.dispose()
    done = forked.run(
        ["--data-dir", str(data), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert '"jobs": []' in done.stdout
    with sqlite3.connect(data / "ferryman.db") as conn:
        (version,) = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    assert version == len(migrations.STEPS)
