"""Frozen migrations: a database at every old version, filled, then upgraded, ends up
exactly like one built from ``schema.py``, with its rows; the CHECK constraints hold.

On SQLite and PostgreSQL (``FERRYMAN_TEST_PG_DSN``; each database in a schema of its own,
dropped afterwards, so the store tests' tables are never touched).
"""

from __future__ import annotations

import ast
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.sinks.telegram_state import MediaRef, TelegramState
from ferryman.store import Store, connect, migrate, migrations, schema
from ferryman.store.connect import normalise_url
from tests.conftest import PG_DSN

NEWEST = len(migrations.STEPS)
ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
MIGRATIONS_DIR = Path(migrations.__file__).parent


@asynccontextmanager
async def _database(kind: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database of its own, opened with the store's connection settings."""
    name = f"mig_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        engine = create_async_engine(normalise_url(f"sqlite:///{tmp_path / name}.db"))
        event.listen(engine.sync_engine, "connect", connect._sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", connect._sqlite_begin)
        try:
            yield engine
        finally:
            await engine.dispose()
        return
    if not PG_DSN:
        pytest.skip("PostgreSQL tests need FERRYMAN_TEST_PG_DSN (CI sets it)")
    admin = create_async_engine(normalise_url(PG_DSN))
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {name}"))
    engine = create_async_engine(
        normalise_url(PG_DSN), connect_args={"server_settings": {"search_path": name}}
    )
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        await admin.dispose()


async def _run(engine: AsyncEngine, work: Callable[[Connection], Any]) -> Any:
    """``work`` on a connection outside any transaction (``migrate`` begins its own)."""
    async with engine.connect() as conn:
        return await conn.run_sync(work)


def _in_transaction(work: Callable[[Connection], Any]) -> Callable[[Connection], Any]:
    def run(conn: Connection) -> Any:
        with conn.begin():
            return work(conn)

    return run


# Rows as each version's code wrote them: literal SQL, frozen like the steps.
_V1_ROWS = (
    "INSERT INTO jobs (id, source, name, dest, state, paused, priority, password, dedupe_key,"
    " blocked, cursor, expanded, created_at, updated_at, started_at, attempts, not_before)"
    " VALUES (1, '/in/a.zip', 'a', 'library:/out', 'active', FALSE, 0, '[\"pw\"]', 'k1',"
    " FALSE, 3, TRUE, 10.0, 11.0, 10.5, 0, 0.0)",
    "INSERT INTO jobs (id, source, name, dest, state, paused, priority, blocked, cursor,"
    " expanded, created_at, updated_at, attempts, not_before, error_code)"
    " VALUES (2, '/in/b.rar', 'b', 'telegram:me', 'needs_password', TRUE, 5, TRUE, 0, FALSE,"
    " 12.0, 12.5, 1, 0.0, 'archive.password_required')",
    "INSERT INTO albums (id, job_id, seq, grp, state, priority, created_at, attempts,"
    " not_before) VALUES (1, 1, 1, 'visual', 'delivering', 0, 13.0, 1, 0.0)",
    "INSERT INTO items (id, job_id, seq, source_path, kind, state, priority, size, sha256,"
    " work_path, plan, album_id, created_at, updated_at, attempts, not_before)"
    " VALUES (1, 1, 1, 'x/p.jpg', 'photo', 'grouped', 0, 100, 'ab', '/w/p.jpg', 'as_is', 1,"
    " 13.0, 13.0, 0, 0.0)",
    "INSERT INTO items (id, job_id, seq, source_path, kind, state, priority, size,"
    " original_path, plan, created_at, updated_at, attempts, not_before)"
    " VALUES (2, 1, 2, 'x/v.avi', 'video', 'convert', 0, 2000, '/w/v.avi', 'transcode',"
    " 13.0, 13.0, 0, 0.0)",
    "INSERT INTO items (id, job_id, seq, source_path, kind, state, priority, size, reason,"
    " created_at, updated_at, attempts, not_before)"
    " VALUES (3, 1, 3, 'x/notes.txt', 'other', 'skipped', 0, 5, 'not media', 13.0, 13.0,"
    " 0, 0.0)",
    "INSERT INTO runtime_settings (key, value) VALUES ('space_floor', '\"2GB\"')",
)
_V2_ROWS = (
    "INSERT INTO items (id, job_id, seq, source_path, kind, state, priority, size, plan,"
    " thumb_path, parts, source_size, work_seconds, created_at, updated_at, attempts,"
    " not_before) VALUES (4, 1, 4, 'x/big.mp4', 'video', 'ready', 0, 900, 'split',"
    " '/w/big.jpg', '[\"/w/big.1.mp4\"]', 950, 2.5, 14.0, 14.0, 0, 0.0)",
    "INSERT INTO segments (item_id, part, reports, created_at, updated_at)"
    " VALUES (2, -1, 1, 15.0, 15.0)",
    "INSERT INTO segments (item_id, part, reports, created_at, updated_at)"
    " VALUES (2, 0, 2, 15.0, 16.0)",
)
_V3_ROWS = (
    "INSERT INTO tg_media (item_id, part, media, family, created_at)"
    " VALUES (1, 0, 'AAAA', 'visual', 17.0)",
    "INSERT INTO tg_sends (album_id, slot, item_id, part, random_id, state, message_id, peer,"
    " updated_at) VALUES (1, 0, 1, 0, 1234567890123, 'sent', 77, 'me', 17.0)",
    "INSERT INTO tg_sends (album_id, slot, item_id, part, random_id, state, updated_at)"
    " VALUES (1, 1, 3, 0, -9223372036854775807, 'pending', 17.5)",
    "INSERT INTO tg_waits (scope, not_before, reason, updated_at)"
    " VALUES ('account', 99.0, 'telegram.flood_wait', 17.0)",
    "INSERT INTO tg_waits (scope, not_before, reason, updated_at)"
    " VALUES ('peer:7', 120.0, 'telegram.slowmode_wait', 17.0)",
    "INSERT INTO tg_inbox (id, chat_id, message_id, sender_id, file_key, name, size, path,"
    " state, job_id, dest, created_at, updated_at) VALUES (1, 42, 7, 42, 'f:10', 'b.rar', 10,"
    " '/d/b.rar', 'done', 2, 'telegram:me', 18.0, 18.0)",
    "INSERT INTO tg_status (job_id, chat_id, message_id, percent, text, edited_at)"
    " VALUES (2, 42, 8, 50, 'half', 18.0)",
)
_UP_TO_V4 = _V1_ROWS + _V2_ROWS + _V3_ROWS
# The rows inserted at each version (those of the versions before it too).
_ROWS_AT = {
    0: (),
    1: _V1_ROWS,
    2: _V1_ROWS + _V2_ROWS,
    3: _UP_TO_V4,
    4: _UP_TO_V4,  # written at version 3, then migrated to 4 (step 4 drops a default)
    5: _UP_TO_V4,  # and migrated to 5 (local paths became file: URIs)
    6: _UP_TO_V4,  # and to 6 (nodes and drains: new tables, empty here); 7 adds indexes
    7: _UP_TO_V4,  # 8 adds watches and watch_seen: new tables, empty here
    8: _UP_TO_V4,  # 9 adds jobs.notify, watches.notify (NULL) and notices (empty here)
    9: _UP_TO_V4,  # 10 moves tg_sends, tg_media and tg_waits into sink_records, sink_waits
    10: _UP_TO_V4,  # 11 rebuilds the claim indexes in the claims' order (no rows change)
    11: _UP_TO_V4,  # 12 rebuilds SQLite's jobs with AUTOINCREMENT (no rows change)
    12: _UP_TO_V4,  # 13 adds tg_user_settings: a new table, empty here
    13: _UP_TO_V4,  # 14 adds job_inputs: a new table, empty here
    14: _UP_TO_V4,  # 15 adds watches.after_delivery (NULL; no watch rows here)
    15: _UP_TO_V4,  # 16 adds sink_uploads: a new table, empty here
    16: _UP_TO_V4,  # 17 adds accounts (new tables, empty here) and jobs.account_id (NULL)
    17: _UP_TO_V4,  # 18 renames jobs.expanded (read_done) and the state expanding (reading)
    18: _UP_TO_V4,  # 19 adds jobs.run (0: every job there is in its first run)
    19: _UP_TO_V4,  # 20 adds jobs.read_claims (1 for a job that has started, else 0)
    20: _UP_TO_V4,  # 21 rebuilds SQLite's users, user_tokens, passkeys with AUTOINCREMENT; sessions
    21: _UP_TO_V4,  # 22 rebuilds SQLite's watches and tg_inbox with AUTOINCREMENT
}

# Step 10: the Telegram tables' rows as the generic sink state holds them (the values
# are JSON, compared parsed). Written out by hand, as the Telegram sink reads them.
_CARRIED = {"tg_sends": "sink_records", "tg_media": "sink_records", "tg_waits": "sink_waits"}
_CARRIED_ROWS = {
    "sink_records": [
        {
            "sink": "telegram",
            "job_id": 1,
            "key": "media:1:0",
            "album_id": None,
            "item_id": 1,
            "value": {"part": 0, "media": "AAAA", "family": "visual"},
            "updated_at": 17.0,
        },
        {
            "sink": "telegram",
            "job_id": 1,
            "key": "send:1:0",
            "album_id": 1,
            "item_id": 1,
            "value": {
                "slot": 0,
                "item_id": 1,
                "part": 0,
                "random_id": 1234567890123,
                "state": "sent",
                "message_id": 77,
                "peer": "me",
            },
            "updated_at": 17.0,
        },
        {
            "sink": "telegram",
            "job_id": 1,
            "key": "send:1:1",
            "album_id": 1,
            "item_id": 3,
            "value": {
                "slot": 1,
                "item_id": 3,
                "part": 0,
                "random_id": -9223372036854775807,
                "state": "pending",
                "message_id": None,
                "peer": None,
            },
            "updated_at": 17.5,
        },
    ],
    "sink_waits": [
        {
            "sink": "telegram",
            "scope": "account",
            "not_before": 99.0,
            "reason": "telegram.flood_wait",
            "updated_at": 17.0,
        },
        {
            "sink": "telegram",
            "scope": "peer:7",
            "not_before": 120.0,
            "reason": "telegram.slowmode_wait",
            "updated_at": 17.0,
        },
    ],
}


def _sink_rows(after: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    """``sink_records`` and ``sink_waits`` as rows, the JSON values parsed, by key."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table in ("sink_records", "sink_waits"):
        rows = [dict(row) for row in after[table]]
        for row in rows:
            if "value" in row:
                row["value"] = json.loads(row["value"])
        found[table] = sorted(rows, key=lambda r: r.get("key") or r["scope"])
    return found


def _as_migrated(table: str, row: dict[str, Any], old: int) -> dict[str, Any]:
    """A row as the steps after ``old`` leave it: step 5 made local paths file: URIs,
    step 18 renamed ``expanded`` to ``read_done`` and the state ``expanding``."""
    if table == "jobs" and old < 5 and row["source"].startswith("/"):
        row = row | {"source": PurePosixPath(row["source"]).as_uri()}
    if table == "jobs" and old < 18:
        row = {("read_done" if k == "expanded" else k): v for k, v in row.items()}
        row["state"] = "reading" if row["state"] == "expanding" else row["state"]
    return row


def _fill(version: int) -> Callable[[Connection], None]:
    """Insert the rows a database at ``version`` can hold (later versions: version 3's)."""

    def fill(conn: Connection) -> None:
        for row in _ROWS_AT[min(version, max(_ROWS_AT))]:
            conn.exec_driver_sql(row)

    return _in_transaction(fill)


def _rows(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but ``schema_version``, by table, in a stable order."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for table in inspect(conn).get_table_names():
        if table != "schema_version":
            found[table] = sorted(
                conn.exec_driver_sql(f"SELECT * FROM {table}").mappings().all(),
                key=repr,
            )
    return found


def _shape(conn: Connection) -> dict[str, Any]:
    """What the schema is: tables, columns, keys, indexes, unique and check constraints."""
    look = inspect(conn)
    dialect = conn.dialect
    shape: dict[str, Any] = {}
    for table in sorted(look.get_table_names()):
        columns = {
            c["name"]: (c["type"].compile(dialect=dialect), c["nullable"], c.get("default"))
            for c in look.get_columns(table)
        }
        shape[table] = {
            "columns": columns,
            "primary key": look.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    tuple(f["referred_columns"]),
                    (f.get("options") or {}).get("ondelete"),
                )
                for f in look.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in look.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"])) for u in look.get_unique_constraints(table)
            ),
            "checks": sorted((c["name"], c["sqltext"]) for c in look.get_check_constraints(table)),
        }
    return shape


def _fresh(conn: Connection) -> None:
    with conn.begin():
        schema.metadata.create_all(conn)


# The newest schema's shape on each kind, made once a test process: every old version's
# test compares with it (a database made, filled by create_all and read back each time:
# the file took 33 CPU-s and 221 s alone, 20 and 67 s with the shape kept).
_FRESH_SHAPES: dict[str, dict[str, Any]] = {}


async def _fresh_shape(kind: str, tmp_path: Path) -> dict[str, Any]:
    if kind not in _FRESH_SHAPES:
        async with _database(kind, tmp_path / "fresh") as engine:
            await _run(engine, _fresh)
            _FRESH_SHAPES[kind] = await _run(engine, _shape)
    return _FRESH_SHAPES[kind]


@pytest.fixture(params=ENGINES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("old", range(NEWEST))
async def test_every_old_version_upgrades_to_the_new_schema_with_its_rows(
    kind: str, old: int, tmp_path: Path
) -> None:
    (tmp_path / "fresh").mkdir()
    async with _database(kind, tmp_path) as engine:
        written_at = min(old, 3)  # the rows' literal SQL is that of versions 1 to 3
        assert await _run(engine, lambda c: migrate.migrate(c, written_at)) == written_at
        await _run(engine, _fill(written_at))
        assert await _run(engine, lambda c: migrate.migrate(c, old)) == old
        before = await _run(engine, _rows)
        assert await _run(engine, migrate.migrate) == NEWEST
        # asyncpg keeps each connection's prepared `SELECT * FROM t`: a table the steps
        # altered since would fail it (InvalidCachedStatementError), as no store's would
        # (a store migrates before it reads). Fresh connections read the new shape.
        await engine.dispose()
        migrated = await _run(engine, _shape)
        after = await _run(engine, _rows)
        versions = await _run(engine, lambda c: migrate.current_version(c))
    assert versions == NEWEST
    assert migrated == await _fresh_shape(kind, tmp_path)
    assert sum(len(rows) for rows in before.values()) == len(_ROWS_AT[old])
    for table, rows in before.items():
        if table in _CARRIED:
            continue  # step 10 moved them: checked below, in their new shape
        named = _as_migrated(table, dict(rows[0]), old) if rows else {}
        kept = [{k: row[k] for k in named} for row in after[table]] if rows else after[table]
        expected = sorted((_as_migrated(table, dict(row), old) for row in rows), key=repr)
        assert sorted(kept, key=repr) == expected, table
    if old in (1, 2, 3, 4):  # a local path became a file: URI
        assert {r["source"] for r in after["jobs"]} == {"file:///in/a.zip", "file:///in/b.rar"}
    if old >= 1:  # step 20: a job that has started was claimed once (the next resumes it)
        assert {r["id"]: r["read_claims"] for r in after["jobs"]} == {1: 1, 2: 0}
    if old == 1:  # the columns version 2 added start at their defaults
        assert {r["work_seconds"] for r in after["items"]} == {0.0}
    assert not set(_CARRIED) & set(after)  # the sink's own tables are gone
    if old >= 3:  # the Telegram rows live on as the sink's generic state
        assert _sink_rows(after) == _CARRIED_ROWS
    else:
        assert _sink_rows(after) == {"sink_records": [], "sink_waits": []}


async def test_the_telegram_sink_goes_on_from_the_rows_step_10_carried_over(
    kind: str, tmp_path: Path
) -> None:
    """Through the sink's own interface, on a database upgraded from version 9: the
    album planned before the upgrade keeps its random_ids (exactly once holds across
    it), and removing the job removes what the sink kept without naming it."""
    async with _database(kind, tmp_path) as engine:
        await _run(engine, lambda c: migrate.migrate(c, 3))
        await _run(engine, _fill(3))
        await _run(engine, lambda c: migrate.migrate(c, 9))
        await _run(engine, migrate.migrate)
        store = Store(engine)
        telegram = TelegramState(store.sink_state("telegram"))
        sends = await telegram.sends(1, 1)
        again = await telegram.plan_sends(1, 1, [(1, 0), (3, 0)])
        media = await telegram.media(1, 1)
        messages = await telegram.messages(1, 1)
        waits = (await telegram.wait_until(["account"]), await telegram.wait_until(["peer:7"]))
        await store.cancel(1)
        await store.remove_job(1)
        left = await _run(engine, _rows)
        still = await telegram.wait_until(["account"])
    assert [(s.slot, s.item_id, s.random_id, s.state, s.message_id) for s in sends] == [
        (0, 1, 1234567890123, "sent", 77),
        (1, 3, -9223372036854775807, "pending", None),
    ]
    assert again == sends
    assert media == {0: MediaRef("AAAA", "visual")}
    assert messages == [77]
    assert waits == (99.0, 120.0)
    assert left["sink_records"] == [] and [r["id"] for r in left["jobs"]] == [2]
    assert still == 99.0  # a wait is the account's, not the job's


async def test_a_job_being_read_at_version_17_is_reading_after_step_18(
    kind: str, tmp_path: Path
) -> None:
    """The state's old word is migrated, not merely refused: a job a worker was reading
    (``expanding``) when the engine stopped is ``reading``, its flag kept, and the store
    reads it."""
    being_read = (
        "INSERT INTO jobs (id, source, name, dest, state, paused, priority, blocked, cursor,"
        " expanded, created_at, updated_at, attempts, not_before, owner, lease_until)"
        " VALUES (7, 'file:///in/c.7z', 'c', 'library:/out', 'expanding', FALSE, 0, FALSE,"
        " 4, FALSE, 20.0, 21.0, 0, 0.0, 'node-a', 99.0)"
    )
    read = being_read.replace("(7,", "(8,").replace(
        "'expanding', FALSE, 0, FALSE, 4, FALSE", "'active', FALSE, 0, FALSE, 9, TRUE"
    )
    async with _database(kind, tmp_path) as engine:
        await _run(engine, lambda c: migrate.migrate(c, 17))
        await _run(engine, _in_transaction(lambda c: c.exec_driver_sql(being_read)))
        await _run(engine, _in_transaction(lambda c: c.exec_driver_sql(read)))
        assert await _run(engine, migrate.migrate) == NEWEST
        await engine.dispose()
        rows = {r["id"]: r for r in (await _run(engine, _rows))["jobs"]}
        jobs = {n: await Store(engine).get_job(n) for n in (7, 8)}
    assert (rows[7]["state"], bool(rows[7]["read_done"]), rows[7]["cursor"]) == (
        "reading",
        False,
        4,
    )
    assert (rows[8]["state"], bool(rows[8]["read_done"]), rows[8]["cursor"]) == ("active", True, 9)
    assert rows[7]["owner"] == "node-a" and rows[7]["lease_until"] == 99.0
    assert (jobs[7].state, jobs[7].read_done) == (JobState.READING, False)
    assert (jobs[8].state, jobs[8].read_done) == (JobState.ACTIVE, True)


async def test_a_new_database_is_the_schema_at_the_newest_version(
    kind: str, tmp_path: Path
) -> None:
    """An empty database skips the steps (made from ``schema.py``); the steps from
    version 0 are the first case of the test above."""
    (tmp_path / "fresh").mkdir()
    async with _database(kind, tmp_path) as engine:
        assert await _run(engine, migrate.migrate) == NEWEST
        shape = await _run(engine, _shape)
        stamped = await _run(
            engine,
            lambda c: c.exec_driver_sql("SELECT version FROM schema_version").scalars().all(),
        )
        assert await _run(engine, migrate.migrate) == NEWEST  # again: nothing to do
    assert sorted(stamped) == list(range(1, NEWEST + 1))
    assert shape == await _fresh_shape(kind, tmp_path)


async def test_a_version_1_database_that_already_has_the_media_columns_upgrades(
    kind: str, tmp_path: Path
) -> None:
    """Step 1 once created ``items`` from the live schema: such a database is at version 1
    with version 2's columns (without ``segments``)."""
    (tmp_path / "fresh").mkdir()

    def legacy_v1(conn: Connection) -> None:
        conn.exec_driver_sql("DROP TABLE segments")
        conn.exec_driver_sql("DELETE FROM schema_version WHERE version = 2")

    async with _database(kind, tmp_path) as engine:
        await _run(engine, lambda c: migrate.migrate(c, 2))
        await _run(engine, _in_transaction(legacy_v1))
        assert await _run(engine, lambda c: migrate.current_version(c)) == 1
        await _run(engine, _fill(1))
        assert await _run(engine, migrate.migrate) == NEWEST
        # asyncpg keeps each connection's prepared `SELECT * FROM t`: a table the steps
        # altered since would fail it (InvalidCachedStatementError), as no store's would
        # (a store migrates before it reads). Fresh connections read the new shape.
        await engine.dispose()
        migrated = await _run(engine, _shape)
    assert migrated == await _fresh_shape(kind, tmp_path)


# (the constraint that refuses it, a row whose only fault is one unknown value)
_BAD_ROWS = (
    (
        "jobs_state_check",
        "INSERT INTO jobs (id, source, name, dest, state, paused, priority, blocked, cursor,"
        " read_done, created_at, updated_at, attempts, not_before) VALUES (100, '/x', 'x',"
        " 'library:', 'exploding', FALSE, 0, FALSE, 0, FALSE, 1.0, 1.0, 0, 0.0)",
    ),
    (
        "albums_state_check",
        "INSERT INTO albums (id, job_id, seq, grp, state, priority, created_at, attempts,"
        " not_before) VALUES (100, 1, 9, 'visual', 'lost', 0, 1.0, 0, 0.0)",
    ),
    (
        "albums_grp_check",
        "INSERT INTO albums (id, job_id, seq, grp, state, priority, created_at, attempts,"
        " not_before) VALUES (100, 1, 9, 'sticker', 'sealed', 0, 1.0, 0, 0.0)",
    ),
    (
        "items_state_check",
        "INSERT INTO items (id, job_id, seq, source_path, kind, state, priority, size,"
        " work_seconds, created_at, updated_at, attempts, not_before)"
        " VALUES (100, 1, 9, 'y', 'photo', 'teleported', 0, 1, 0.0, 1.0, 1.0, 0, 0.0)",
    ),
    (
        "items_kind_check",
        "INSERT INTO items (id, job_id, seq, source_path, kind, state, priority, size,"
        " work_seconds, created_at, updated_at, attempts, not_before)"
        " VALUES (100, 1, 9, 'y', 'hologram', 'ready', 0, 1, 0.0, 1.0, 1.0, 0, 0.0)",
    ),
    (
        "items_plan_check",
        "INSERT INTO items (id, job_id, seq, source_path, kind, state, priority, size,"
        " work_seconds, plan, created_at, updated_at, attempts, not_before)"
        " VALUES (100, 1, 9, 'y', 'photo', 'ready', 0, 1, 0.0, 'hope', 1.0, 1.0, 0, 0.0)",
    ),
    (
        "tg_inbox_state_check",
        "INSERT INTO tg_inbox (id, chat_id, message_id, sender_id, state, created_at,"
        " updated_at) VALUES (100, 1, 1, 1, 'misplaced', 1.0, 1.0)",
    ),
)


def _parents(conn: Connection) -> None:
    """Job 1, album 1 and item 1 as the newest code writes them (the bad rows' parents)."""
    conn.exec_driver_sql(_V1_ROWS[0].replace("expanded", "read_done"))
    conn.exec_driver_sql(_V1_ROWS[2])
    conn.exec_driver_sql(
        "INSERT INTO items (id, job_id, seq, source_path, kind, state, priority, size,"
        " work_seconds, created_at, updated_at, attempts, not_before)"
        " VALUES (1, 1, 1, 'p.jpg', 'photo', 'ready', 0, 1, 0.0, 1.0, 1.0, 0, 0.0)"
    )


@pytest.mark.parametrize("start", [0, 1, 3])
async def test_the_database_refuses_a_value_no_enum_has(
    kind: str, start: int, tmp_path: Path
) -> None:
    """A new database and migrated ones alike: every checked column refuses a stranger."""
    async with _database(kind, tmp_path) as engine:
        await _run(engine, lambda c: migrate.migrate(c, start))
        await _run(engine, _fill(start))
        await _run(engine, migrate.migrate)
        if start == 0:
            await _run(engine, _in_transaction(_parents))
        for constraint, bad in _BAD_ROWS:
            with pytest.raises(IntegrityError, match=constraint):
                await _run(engine, _in_transaction(lambda c, sql=bad: c.exec_driver_sql(sql)))
        # The same rows with a known value go in: the refusals were the values' doing.
        for bad, good in (
            ("'exploding'", "'queued'"),
            ("'hope'", "'remux'"),
            ("'misplaced'", "'done'"),
        ):
            row = next(sql for _, sql in _BAD_ROWS if bad in sql).replace(bad, good)
            await _run(engine, _in_transaction(lambda c, sql=row: c.exec_driver_sql(sql)))


async def test_an_unknown_value_stops_the_migration_and_changes_nothing(
    kind: str, tmp_path: Path
) -> None:
    async with _database(kind, tmp_path) as engine:
        await _run(engine, lambda c: migrate.migrate(c, 3))
        await _run(engine, _fill(3))
        at_3 = _BAD_ROWS[0][1].replace("read_done", "expanded")  # its name until step 18
        await _run(engine, _in_transaction(lambda c: c.exec_driver_sql(at_3)))
        before = await _run(engine, _rows)
        with pytest.raises(FerrymanError) as caught:
            await _run(engine, migrate.migrate)
        assert caught.value.code == "store.migration_failed"
        assert "jobs.state" in caught.value.message and "exploding" in caught.value.message
        assert await _run(engine, lambda c: migrate.current_version(c)) == 3
        assert await _run(engine, _rows) == before


async def test_a_database_newer_than_the_code_is_refused(kind: str, tmp_path: Path) -> None:
    def from_the_future(conn: Connection) -> None:
        conn.exec_driver_sql(
            f"INSERT INTO schema_version (version, applied_at) VALUES ({NEWEST + 1}, 1.0)"
        )

    async with _database(kind, tmp_path) as engine:
        await _run(engine, migrate.migrate)
        await _run(engine, _in_transaction(from_the_future))
        with pytest.raises(FerrymanError, match="knows") as caught:
            await _run(engine, migrate.migrate)
    assert caught.value.code == "store.migration_failed"


def test_the_steps_are_numbered_files_that_never_import_the_live_schema() -> None:
    files = sorted(p.stem for p in MIGRATIONS_DIR.glob("v[0-9][0-9][0-9][0-9]_*.py"))
    assert [int(stem[1:5]) for stem in files] == list(range(1, NEWEST + 1))
    assert [step.__module__.rsplit(".", 1)[1] for step in migrations.STEPS] == files
    live = {"ferryman.store.schema", "ferryman.model"}
    for stem in files:
        tree = ast.parse((MIGRATIONS_DIR / f"{stem}.py").read_text())
        imported = {
            *(n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module),
            *(a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names),
        }
        assert not imported & live, f"{stem} imports {imported & live}: freeze it instead"
        names = {
            alias.name
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module == "ferryman.store"
            for alias in n.names
        }
        assert "schema" not in names, stem


async def test_after_step_21_a_removed_persons_number_is_never_given_again(
    kind: str, tmp_path: Path
) -> None:
    """People and tokens made at version 20, upgraded: removing the newest person (or
    token, or session) and adding another gave SQLite's newcomer the removed one's number
    (who then inherited their cookies, cached results and open stream). From step 21 on,
    each number is new; the rows the rebuild carried are whole. (A number removed before
    the upgrade is not known to it: a new account starts with none of that number's
    files, ``web/accounts/removal``.)"""
    async with _database(kind, tmp_path) as engine:
        await _run(engine, lambda c: migrate.migrate(c, 20))

        def people(conn: Connection) -> None:
            with conn.begin():
                for n in (1, 2, 3):
                    conn.exec_driver_sql(
                        "INSERT INTO users (name, admin, settings, created_at)"
                        f" VALUES ('p{n}', FALSE, '{{}}', 1.0)"
                    )
                conn.exec_driver_sql(
                    "INSERT INTO user_tokens (user_id, hash, label, created_at)"
                    " VALUES (2, 'sha256:aa', 't', 1.0), (3, 'sha256:bb', 't', 1.0)"
                )

        await _run(engine, people)
        await _run(engine, migrate.migrate)
        store = Store(engine)
        assert await store.remove_user(3)
        newcomer = await store.add_user("p4", None)
        token = await store.add_user_token(newcomer.id, "sha256:cc", "t")
        first = await store.add_session("sha256:dd", newcomer.id, None, 1e12)
        await store.end_sessions(newcomer.id)
        second = await store.add_session("sha256:ee", newcomer.id, None, 1e12)
        kept = await store.user_of_token("sha256:aa")
    assert newcomer.id == 4
    assert token == 3
    assert second > first
    assert kept is not None and kept.name == "p2"
