"""The SQLite store through the standard library, for commands that must answer at once.

``ferryman status``, ``config show`` and ``add`` open the store, read or write a few
rows and exit. Through SQLAlchemy that costs a quarter of a second of imports before
the first query (seconds on a phone); ``sqlite3`` costs a hundredth. So on SQLite these
commands use this module: the same rows (``rows.new_job_values``, ``job_from_mapping``),
the same locking (``BEGIN IMMEDIATE``, WAL, a 30 s busy timeout) as ``connect.py``.

It never migrates. ``open_sqlite3`` returns None when the database is not SQLite, or not
at the schema version this module was written for (``SCHEMA_VERSION``), and the caller
takes the full store, which migrates; a missing database is made from
``sqlite_ddl.STATEMENTS`` (the schema as SQLAlchemy would create it: a test compares
the two databases) only when the command writes, and a read sees an empty store.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ferryman.clock import SYSTEM
from ferryman.errors import FerrymanError
from ferryman.model import Job
from ferryman.naming import free_job_name
from ferryman.store import sqlite_file
from ferryman.store.jobs import queue_sql
from ferryman.store.jobs.new import NewJob, insert_job
from ferryman.store.shared.rows import Clock, job_from_mapping
from ferryman.store.startup.sqlite3_schema import SCHEMA_VERSION, STATEMENTS


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL (``sqlite[+driver]:///path``, the path
    percent-decoded, the query dropped), or None (another database, or in memory). The
    one parser: the light store, ``store/startup/queued_child_work`` and the CLI all ask it."""
    scheme, sep, rest = url.partition(":///")
    if not sep or not (scheme == "sqlite" or scheme.startswith("sqlite+")):
        return None
    path = urllib.parse.unquote(rest.partition("?")[0])
    return Path(path) if path and path != ":memory:" else None


class Sqlite3Store:
    """A few of ``Store``'s queries, synchronous, on one SQLite connection."""

    def __init__(
        self,
        conn: sqlite3.Connection | None,
        clock: Clock = SYSTEM.now,
        wake: str | None = None,  # a running engine's wake-up address (store.wake_engines)
    ) -> None:
        self.wake = wake
        self._conn = conn  # None: no database yet, every read is empty
        self.clock = clock

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    # reads

    def list_jobs(self) -> list[Job]:
        return [job_from_mapping(r) for r in self._rows("SELECT * FROM jobs ORDER BY id")]

    def fetching_jobs(self) -> set[int]:
        """Jobs whose input is being fetched now."""
        return {
            r["job_id"]
            for r in self._rows("SELECT job_id FROM fetches WHERE state = ?", "fetching")
        }

    def fetch_errors(self) -> dict[int, str]:
        """Per job, the last error of its fetch (a wait between tries says why)."""
        rows = self._rows(
            "SELECT job_id, error_message FROM fetches WHERE error_message IS NOT NULL"
        )
        return {r["job_id"]: r["error_message"] for r in rows}

    def item_counts(self) -> dict[int, dict[str, int]]:
        """Per job: how many items are in each state."""
        counts: dict[int, dict[str, int]] = {}
        for r in self._rows(
            "SELECT job_id, state, count(*) AS n FROM items GROUP BY job_id, state"
        ):
            counts.setdefault(r["job_id"], {})[r["state"]] = r["n"]
        return counts

    def queue_places(self) -> dict[int, dict[str, Any]]:
        """Where each queued job stands in line: the full store's query (``jobs/queue_sql``)."""
        now = {"now": self.clock()}
        in_fetch = [(r["job_id"], r["state"]) for r in self._rows(queue_sql.FETCH_LINE, now)]
        busy = self._rows(queue_sql.BUSY_READS)
        reading = int(busy[0][0]) if busy else 0
        to_read = [r["id"] for r in self._rows(queue_sql.READ_LINE, now)]
        return queue_sql.places_of(in_fetch, reading, to_read)

    def runtime_settings(self) -> dict[str, Any]:
        return {
            r["key"]: json.loads(r["value"]) for r in self._rows("SELECT * FROM runtime_settings")
        }

    def live_nodes(self, silent_after: float) -> list[str]:
        """Nodes with an engine running now that take work (``ferryman workers``'s
        alive): a job added here is theirs at once."""
        rows = self._rows(
            "SELECT DISTINCT node FROM nodes WHERE stopped_at IS NULL AND heartbeat_at >= ?"
            " AND node NOT IN (SELECT node FROM drains) ORDER BY node",
            self.clock() - silent_after,
        )
        return [r["node"] for r in rows]

    def unique_name(self, base: str, dest: str) -> str:
        """A library folder name no other job with this destination uses."""
        taken = {r["name"] for r in self._rows("SELECT name FROM jobs WHERE dest = ?", dest)}
        return free_job_name(base, taken)

    # writes

    def add_job(
        self,
        *,
        source: str,
        name: str,
        dest: str,
        priority: int = 0,
        password: str | None = None,
        dedupe_key: str | None = None,
        error: FerrymanError | None = None,
        fetch: bool = False,
        notify: str | None = None,
        memos: dict[str, str] | None = None,
        account: int | None = None,
    ) -> Job:
        """``Store.add_job``, row for row (``store.new_job``, which both call): the job
        (failed at once when its input is known bad, with its summary), its ``fetches``
        row when it is downloaded first, its starting memos."""
        if self._conn is None:
            raise FerrymanError("engine.internal", "the light store has no database to write")
        new = NewJob(
            source=source,
            name=name,
            dest=dest,
            priority=priority,
            password=password,
            dedupe_key=dedupe_key,
            error=error,
            fetch=fetch,
            notify=notify,
            memos=memos or {},
            account=account,
        )
        with self._write() as conn:
            job = insert_job(_Sqlite3Writer(conn), new, self.clock())
        if self.wake is not None and error is None:
            from ferryman.store.wakeup import send  # lazy: start-up

            send(self.wake)  # a running engine takes it now, not at its next poll
        return job

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        assert self._conn is not None
        self._conn.execute("BEGIN IMMEDIATE")  # wait for the writer, like connect.py
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        """Rows of ``sql`` with its ``?`` marks' values, or one dict of ``:name``'s."""
        if self._conn is None:
            return []
        params = args[0] if len(args) == 1 and isinstance(args[0], dict) else args
        return list(self._conn.execute(sql, params).fetchall())


# ``watch_records.holders``, for one key.
_HOLDER = (
    "SELECT id FROM jobs WHERE dedupe_key = ?"
    " UNION ALL SELECT job_id FROM job_inputs WHERE dedupe_key = ?"
)


class _Sqlite3Writer:
    """``new_job.JobWriter`` on the light store's open transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def holder(self, dedupe_key: str) -> int | None:
        found = self._conn.execute(_HOLDER, (dedupe_key, dedupe_key)).fetchone()
        return None if found is None else int(found[0])

    def insert(self, table: str, values: Mapping[str, Any]) -> int | None:
        return _insert(self._conn, table, values)

    def job(self, job_id: int) -> Job:
        return job_from_mapping(
            self._conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        )

    def set_summary(self, job_id: int, summary: str) -> None:
        self._conn.execute("UPDATE jobs SET summary = ? WHERE id = ?", (summary, job_id))


def _insert(conn: sqlite3.Connection, table: str, values: Mapping[str, Any]) -> int:
    names = ", ".join(f'"{k}"' for k in values)
    marks = ", ".join("?" for _ in values)
    cursor = conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(values.values()))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def open_sqlite3(url: str, *, create: bool, clock: Clock = SYSTEM.now) -> Sqlite3Store | None:
    """The light store on ``url``, or None: not SQLite, or not at ``SCHEMA_VERSION``
        (older: the full store migrates it; newer: the full store refuses it, clearly), or
    damaged (``sqlite_file``: the full store says so; a writing command also runs
    ``PRAGMA quick_check`` first, so it never writes into a broken file).

    ``create``: make a missing database (a command that writes); else a missing
    database reads as empty and nothing is made.
    """
    path = sqlite_path(url)
    if path is None:
        return None
    if not path.exists():
        if not create:
            return Sqlite3Store(None, clock)
        try:
            sqlite_file.make_whole(path)  # never a zero-byte store, even for a moment
        except OSError:
            return None  # the full store says what is wrong
    elif sqlite_file.damage(path) is not None:
        return None  # the full store says what is wrong with it
    try:
        conn = _connect(path)
    except sqlite3.Error:
        return None  # the full store says what is wrong with it
    try:
        if create and sqlite_file.check_quickly(conn) is not None:
            conn.close()  # not written to: the full store says what is wrong with it
            return None
        version = _version(conn)
        if version == 0 and create and not _has_tables(conn):
            _create(conn)
            version = SCHEMA_VERSION
    except sqlite3.Error:
        conn.close()
        return None  # the full store says what is wrong with it
    if version != SCHEMA_VERSION:
        conn.close()
        return None
    from ferryman.store.wakeup import sqlite_address  # lazy: start-up

    return Sqlite3Store(conn, clock, sqlite_address(path))


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a phone reboot is a power loss
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'").fetchone() is not None


def _version(conn: sqlite3.Connection) -> int:
    if not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone():
        return 0
    found = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(found[0] or 0)


def _create(conn: sqlite3.Connection) -> None:
    """The newest schema at once, stamped with every version, as ``migrate.upgrade``
    does for an empty database; in one transaction, so a second process starting at the
    same moment waits and then finds it made."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _has_tables(conn):  # another process made it while we waited
            conn.execute("ROLLBACK")
            return
        for statement in STATEMENTS:
            conn.execute(statement)
        now = time.time()
        conn.executemany(
            "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
            [(n, now) for n in range(1, SCHEMA_VERSION + 1)],
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
