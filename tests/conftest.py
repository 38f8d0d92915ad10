"""Shared fixtures: a store on each engine, settings in a temp data dir."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import os
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ferryman.config import Settings, load_settings
from ferryman.store import Store, schema
from ferryman.store.connect import normalise_url
from tests.support.s3serve import S3Server, running_s3
from tests.support.shared_box import SharedBox

# What each test costs (wall, CPU, children started) when FERRYMAN_TEST_COSTS names a
# folder: docs/testing.md, "How long". Nothing otherwise.
pytest_plugins = ["tests.support.cost"]

# The tests written before library layouts read albums (``<job>/0001/manifest.json``):
# they keep that layout, named; tests/engine/test_library_layout.py tests the default. A child
# process given a clean environment (the crash loops) runs with the default.
os.environ.setdefault("FERRYMAN_LIBRARY_LAYOUT", "albums")
# Likewise the tests written while a library converted its media to play anywhere (they
# test the conversions through it) keep that; tests/media/test_library_originals.py
# tests the default, originals kept.
os.environ.setdefault("FERRYMAN_MEDIA__LIBRARY_CONVERT", "true")
# And the tests written while a library kept media alone (a note beside the photos
# skipped as ``not_media``) keep that; tests/engine/test_camera_card.py tests the
# default, every file of an input kept.
os.environ.setdefault("FERRYMAN_LIBRARY_MEDIA_ONLY", "true")


def _worker_database(dsn: str | None, worker: str | None, slot: int = 0) -> str | None:
    """``dsn`` with the database renamed for a pytest-xdist worker (``test`` -> ``test_gw0``):
    workers that reset the schema under each other's tests would fail at random. A
    ``slot`` past 0 names another run's copy (``test_gw0_1``): see ``_claim_database``."""
    if not dsn or (not worker and not slot):
        return dsn
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/") or "postgres"
    if worker:
        name = f"{name}_{worker}"
    if slot:
        name = f"{name}_{slot}"
    return urlunsplit(parts._replace(path=f"/{name}"))


def _claim_database(dsn: str | None, worker: str | None) -> tuple[str | None, int | None]:
    """The database this process tests on, and the lock that keeps it its own.

    Two test runs on one machine (two checkouts, or a run beside a benchmark) would
    otherwise share ``test_gw0`` and drop each other's tables mid-test: every
    PostgreSQL test of both then fails at random ("claiming failed" in a loop). So a
    process takes the first numbered slot no live process holds, by an ``flock`` on a
    file named after the server and the database, held until it exits (the kernel
    lets go of it when the process dies, however it dies): the first run keeps the
    plain names, a second one at the same time gets ``…_1``, made on first use."""
    if not dsn:
        return None, None
    server = urlsplit(dsn).netloc.rsplit("@", 1)[-1].replace(":", "_") or "local"
    for slot in range(64):
        name = _worker_database(dsn, worker, slot)
        assert name is not None
        database = urlsplit(name).path.lstrip("/")
        path = Path(tempfile.gettempdir()) / f"ferryman-test-pg-{server}-{database}.lock"
        lock = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # open until the process ends
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            continue
        return name, lock
    return _worker_database(dsn, worker), None  # 64 runs at once: share, as before


async def _create_database(dsn: str) -> None:
    """Create ``dsn``'s database if it is missing, through the server's ``postgres`` one.

    Its commits do not wait for the server's WAL flush (``synchronous_commit`` off): that
    flush guards against the database server crashing, which no test does (the crash
    tests kill ferryman, whose commits the server holds by then), and waiting for it
    made each test's schema (dropped and made again) and each engine commit cost about
    twice as long."""
    import asyncpg

    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres", query=""))
    conn = await asyncpg.connect(admin)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name) is None:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a run beside ours
                await conn.execute(f'CREATE DATABASE "{name}"')
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):  # then as it is
            await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await conn.close()


# A person's own settings file (~/.config/ferryman/config.toml, read by default) is not
# the tests': every test, and every CLI it starts, looks in an empty folder instead.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="ferryman-test-config-")

# Under pytest-xdist each worker (PYTEST_XDIST_WORKER=gw0, gw1, ...) has a database of its
# own, made on first use, and each run beside another its own numbered copies; tests
# read PG_DSN from here and so follow.
PG_DSN, _PG_LOCK = _claim_database(
    os.environ.get("FERRYMAN_TEST_PG_DSN"), os.environ.get("PYTEST_XDIST_WORKER")
)
if PG_DSN and os.environ.get("FERRYMAN_TEST_PG_DSN") != PG_DSN:
    try:
        asyncio.run(_create_database(PG_DSN))
    except Exception as exc:  # the PostgreSQL tests then fail, saying why
        warnings.warn(f"could not create the worker's database {PG_DSN}: {exc}", stacklevel=1)


# What makes a schema the same one: every column, index and constraint of every relation
# in the database's schema (their names, types and definitions), and the versions stamped.
_SCHEMA_PRINT = """
SELECT md5(string_agg(line, ',' ORDER BY line)) FROM (
    SELECT c.relname || '.' || a.attname || ':' || c.relkind::text || ':'
        || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull
        || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS line
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = current_schema()::regnamespace AND a.attnum > 0
        AND NOT a.attisdropped
    UNION ALL
    SELECT conrelid::regclass::text || ':' || conname || ':' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
    UNION ALL
    SELECT indexrelid::regclass::text || ':' || pg_get_indexdef(indexrelid)
    FROM pg_index JOIN pg_class c ON c.oid = indexrelid
    WHERE c.relnamespace = current_schema()::regnamespace
    UNION ALL
    SELECT 'trigger:' || tgname FROM pg_trigger JOIN pg_class c ON c.oid = tgrelid
    WHERE c.relnamespace = current_schema()::regnamespace AND NOT tgisinternal
    UNION ALL
    SELECT 'version:' || version::text FROM schema_version
) AS lines
"""

# Per process (a pytest-xdist worker), each database's schema print as the store made it,
# and the statements that empty it: see ``_reset_postgres``.
_PG_MADE: dict[str, tuple[str, str]] = {}


async def _reset_postgres(dsn: str) -> None:
    """``dsn``'s database as a new store finds it: the newest schema, no rows, every id
    sequence starting at 1 again (a test's ids never depend on the test before).

    Made once per process: every table dropped (a table an older schema had would keep
    rows whose ids the next test's rows reuse, and a database that is not empty is
    migrated step by step), then the schema made by ``Store.open``. After that each reset
    deletes the rows and restarts the sequences, when the schema's print (every column,
    index, constraint and stamped version) is still the one made: a fifth of the time of
    dropping and making the schema again (docs/testing.md). A test that changed the
    schema changes the print, and the next reset makes it again."""
    import asyncpg

    made = _PG_MADE.get(dsn)
    if made is not None:
        conn = await asyncpg.connect(dsn)
        try:
            # No schema_version, or a row a test left that a delete cannot take: made again.
            with contextlib.suppress(asyncpg.PostgresError):
                if await conn.fetchval(_SCHEMA_PRINT) == made[0]:
                    await conn.execute(made[1])
                    return
        finally:
            await conn.close()
    engine = create_async_engine(normalise_url(dsn))
    async with engine.begin() as conn:
        names = [t.name for t in reversed(schema.metadata.sorted_tables)]
        found = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
        others = sorted(set(found.scalars()) - set(names))
        for table in [*names, *others, "schema_version"]:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    await engine.dispose()
    await (await Store.open(dsn)).close()
    conn = await asyncpg.connect(dsn)
    try:
        printed = await conn.fetchval(_SCHEMA_PRINT)
        sequences = await conn.fetch(
            "SELECT oid::regclass::text FROM pg_class"
            " WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace"
        )
    finally:
        await conn.close()
    tables = [t.name for t in reversed(schema.metadata.sorted_tables) if t.name != "schema_version"]
    _PG_MADE[dsn] = (
        printed,
        "BEGIN; "
        + "".join(f"DELETE FROM {table}; " for table in tables)
        + "".join(f"ALTER SEQUENCE {name} RESTART; " for (name,) in sequences)
        + "COMMIT",
    )


def store_url(kind: str, tmp_path: Path) -> str:
    if kind == "postgres":
        if not PG_DSN:
            pytest.skip("PostgreSQL tests need FERRYMAN_TEST_PG_DSN (CI sets it)")
        return PG_DSN
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request.param, tmp_path)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    if db_url.startswith("postgres"):
        await _reset_postgres(db_url)
    opened = await Store.open(db_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "space_recheck_seconds": 0.1,
        },
    )


@pytest.fixture(scope="session", autouse=True)
def _one_media_box() -> Iterator[None]:
    """Every engine of this test process decodes in one warm box (``tests/support/
    shared_box``), ended with the session. Only where the collected tests loaded the
    engine (importing it costs a unit test run ~0.6 CPU-s a process); an engine given
    its own ``media_box`` keeps it, and one whose module loads later makes its own."""
    runner = sys.modules.get("ferryman.engine.runner")
    if runner is None:
        yield
        return
    shared = SharedBox()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "MediaBox", shared)
        try:
            yield
        finally:
            shared.end()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS for the whole run (it takes seconds to start); each test uses a
    bucket of its own."""
    with running_s3(tmp_path_factory.mktemp("s3")) as server:
        yield server


# The tests that take minutes (crash loops, several nodes, the API fuzz):
# under pytest-xdist they start first of all, the longest first. Then the longest of the
# `timing` run (make pytest's second, on two workers): 54 % of its summed time, and the
# two web stops ended it side by side when they came last.
LONGEST_FIRST = (
    "tests/crash/test_crash.py::test_sigkill_",
    "tests/engine/test_nodes_shared.py",
    "tests/crash/test_notify_crash.py",
    "tests/crash/",
    "tests/web/test_web_api.py::test_no_generated_request_gets_a_server_error",
    "tests/web/test_web_stop.py::test_web_stops_within_",
    "tests/sources/test_http_source.py::test_ctrl_c_",
)


def _start_rank(item: pytest.Item) -> int:
    """Where a test starts in a run on workers: the longest files' first, then the rest
    marked slow, then the others."""
    for rank, prefix in enumerate(LONGEST_FIRST):
        if item.nodeid.startswith(prefix) and item.get_closest_marker("slow") is not None:
            return rank
    return len(LONGEST_FIRST) + (item.get_closest_marker("slow") is None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the tests marked slow go first, and of those the crash loops and
    the other tests of minutes first of all (longest first: the longest job first keeps
    the end of a run from waiting on one of them while the other workers idle); ties keep
    their order. Every worker collects the same order, as xdist requires; a run in one
    process keeps the files' order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_start_rank)


# Files whose tests share what their module-scoped fixtures start (a Chromium, a `ferryman
# web` and its jobs): each goes whole to one worker, which starts them once. Spread test
# by test over three workers, each worker started its own, and again each time its next
# test came from another file (a Chromium launch: ~1.6 CPU-s; a web child: ~1).
ONE_WORKER_A_FILE = ("tests/browser/", "tests/web/test_web_bounds.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test``'s ``--dist load --maxschedchunk 1`` (a test at a time), but a file of
    ``ONE_WORKER_A_FILE`` is one unit of work, handed out where its first test comes in
    the order. (xdist's own ``loadgroup`` marks do not reach its scheduler under this
    pytest: it renames ``item._nodeid``, which pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "load" or config.getvalue("maxschedchunk") != 1:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FilesTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.startswith(ONE_WORKER_A_FILE) else nodeid

    config.option.loadscopereorder = False  # the slow-first order stands
    return FilesTogether(config, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The collected suite set aside from the collector, as a front door sets its start-up
    aside (``engine/plumbing/collector.py``): every test module, fixture and imported
    library is alive to the end, and each full collection walked them all again (a tenth
    of a worker's CPU went to the collector; docs/testing.md). What the tests make is
    collected as before."""
    gc.collect()
    gc.freeze()
