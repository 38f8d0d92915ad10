"""Schema migrations: an ordered list of steps, each applied once in its own transaction.

Step 1 creates the tables as ``schema.py`` defines them today, so a new database is
complete after it. Later steps only add: each adds what an older database lacks and
skips what is already there, so an old database and a new one end up the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, inspect, select

from ferryman.store import schema

Step = Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[schema.jobs, schema.albums, schema.items, schema.runtime_settings],
    )


# Columns added to ``items`` in version 2 (media: thumbnails, split parts, report figures).
_V2_ITEM_COLUMNS = ("thumb_path", "parts", "source_size", "work_seconds")


def _v2_media(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("items")}
    dialect = conn.dialect
    for name in _V2_ITEM_COLUMNS:
        if name in have:
            continue
        column = schema.items.c[name]
        ddl = f"ALTER TABLE items ADD COLUMN {name} {column.type.compile(dialect=dialect)}"
        if not column.nullable:
            ddl += " NOT NULL DEFAULT 0"
        conn.exec_driver_sql(ddl)
    schema.segments.create(conn, checkfirst=True)


def _v3_telegram(conn: Connection) -> None:
    for table in (
        schema.tg_media,
        schema.tg_sends,
        schema.tg_waits,
        schema.tg_inbox,
        schema.tg_status,
    ):
        table.create(conn, checkfirst=True)


STEPS: tuple[Step, ...] = (_v1_initial, _v2_media, _v3_telegram)


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    found = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    return max(found, default=0)


def upgrade(conn: Connection) -> int:
    """Bring the schema to the newest version; returns the version reached."""
    schema.schema_version.create(conn, checkfirst=True)
    version = current_version(conn)
    for number, step in enumerate(STEPS, start=1):
        if number <= version:
            continue
        step(conn)
        conn.execute(schema.schema_version.insert().values(version=number, applied_at=time.time()))
        version = number
    return version
