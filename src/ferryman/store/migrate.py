"""Schema migrations: the frozen steps of ``migrations/``, each applied once, in order.

``schema_version`` records the steps applied. ``migrate`` runs every pending step in
one transaction; PostgreSQL takes an advisory lock first so two workers starting
together do not both migrate. A database with no tables at all is made from
``schema.py`` at once (on SQLite from the DDL generated from it) and stamped with every
version (a fraction of the time the steps take); ``tests/store/test_migrations.py``
proves the steps build the same thing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Float, Integer, MetaData, Table, inspect, select, text

from ferryman.errors import FerrymanError
from ferryman.store import schema
from ferryman.store.startup.sqlite3_schema import SCHEMA_VERSION, STATEMENTS

if TYPE_CHECKING:
    from ferryman.store.migrations import Step

# The newest version: the number of steps (``tests/store/test_light_store.py`` holds the
# two equal). The steps themselves (fourteen modules of frozen tables, ~50 ms) load only
# when a database is behind: a store already at the newest version, every start but
# an upgrade's, never needs them.
NEWEST = SCHEMA_VERSION

# Frozen like the steps: the version table never changes shape.
_meta = MetaData()
_schema_version = Table(
    "schema_version",
    _meta,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Float, nullable=False),
)

_ADVISORY_LOCK = 7316548


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    found = conn.execute(select(_schema_version.c.version)).scalars().all()
    return max(found, default=0)


def upgrade(conn: Connection, target: int | None = None) -> int:
    """Apply the steps after the database's version up to ``target`` (default: the
    newest) inside the caller's transaction; returns the version reached.

    On SQLite the caller must have turned foreign keys off (``migrate`` does), since a
    step may rebuild a table.
    """
    newest = NEWEST if target is None else target
    if newest == NEWEST and not inspect(conn).get_table_names():
        _create_newest(conn)
        for number in range(1, newest + 1):
            conn.execute(_schema_version.insert().values(version=number, applied_at=time.time()))
        return newest
    _schema_version.create(conn, checkfirst=True)
    version = current_version(conn)
    if version > NEWEST:
        raise FerrymanError(
            "store.migration_failed",
            f"the database is at schema version {version}, made by a newer ferryman; this"
            f" one knows {NEWEST}: run that newer ferryman, or upgrade this one",
        )
    for number, step in enumerate(_steps() if version < newest else (), start=1):
        if version < number <= newest:
            step(conn)
            conn.execute(_schema_version.insert().values(version=number, applied_at=time.time()))
            version = number
    return version


def _create_newest(conn: Connection) -> None:
    """The newest schema in an empty database. On SQLite from its DDL as text
    (``sqlite3_schema.STATEMENTS``, the light store's: a test compares it with what
    ``schema.py`` makes): SQLAlchemy's ``create_all`` asked for each table first and
    compiled each statement, 13 of the 35 ms of CPU a new store's open took."""
    if conn.dialect.name == "sqlite":
        for statement in STATEMENTS:
            conn.exec_driver_sql(statement)
    else:
        schema.metadata.create_all(conn)


def _steps() -> tuple[Step, ...]:
    """Every step, in order (loaded now: a database is behind)."""
    from ferryman.store.migrations import STEPS

    if len(STEPS) != NEWEST:
        raise AssertionError(f"{len(STEPS)} steps, sqlite_ddl stands for {NEWEST}")
    return STEPS


def migrate(conn: Connection, target: int | None = None) -> int:
    """``upgrade`` in a transaction of its own; ``conn`` must not be in one yet.

    SQLite: foreign keys are off for the migration (SQLite's way to rebuild a table; the
    pragma is ignored inside a transaction) and checked before the commit.
    """
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(conn, on=False)
    try:
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})"))
            version = upgrade(conn, target)
            if sqlite:
                _sqlite_check_foreign_keys(conn)
    finally:
        if sqlite:
            _sqlite_foreign_keys(conn, on=True)
    return version


def _sqlite_foreign_keys(conn: Connection, *, on: bool) -> None:
    # On the DB-API connection: a statement through SQLAlchemy would begin a transaction.
    cursor = conn.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _sqlite_check_foreign_keys(conn: Connection) -> None:
    dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if dangling:
        raise FerrymanError(
            "store.migration_failed",
            f"rows point at rows that do not exist (table, rowid, parent): {dangling[:5]}",
        )
