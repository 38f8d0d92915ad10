"""Step 12 (frozen): job numbers are never reused. SQLite gave a new row the largest
id plus one, so removing the newest job handed its number to the next one added (old
notices, reports and scripts then named another job); AUTOINCREMENT keeps the highest
number ever given in ``sqlite_sequence``. PostgreSQL's sequence never goes back: no
change there."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from ferryman.store.migrations.sqlite_rebuild import rebuild

_STATES = ("queued", "expanding", "active", "needs_password", "done", "failed", "cancelled")

_meta = MetaData()
_jobs = Table(
    "jobs",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("dest", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("password", Text),
    Column("dedupe_key", String(128), unique=True),
    Column("wait_reason", String(64)),
    Column("blocked", Boolean, nullable=False, default=False),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("cursor", Integer, nullable=False, default=0),
    Column("expanded", Boolean, nullable=False, default=False),
    Column("summary", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("owner", String(120)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", Float, nullable=False, default=0.0),
    Column("notify", Text),
    CheckConstraint(
        "state IN (" + ", ".join(f"'{s}'" for s in _STATES) + ")", name="jobs_state_check"
    ),
    sqlite_autoincrement=True,
)
Index("jobs_claim", _jobs.c.state, _jobs.c.priority.desc(), _jobs.c.cursor, _jobs.c.id)


def apply(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        rebuild(conn, _jobs)
