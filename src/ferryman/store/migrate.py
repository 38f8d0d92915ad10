"""Schema migrations: an ordered list of steps, each applied once in its own transaction.

Version 1 creates the tables as ``schema.py`` defines them today. When the schema
changes, add step 2 with explicit DDL and freeze step 1 as literal DDL first, so an
old database and a new one end up the same.
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


STEPS: tuple[Step, ...] = (_v1_initial,)


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
