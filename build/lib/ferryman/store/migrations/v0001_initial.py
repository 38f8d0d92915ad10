"""Step 1 (frozen): jobs, albums, items and runtime settings, as they were before media.

These definitions are this step's own copy; never import them from ``schema.py`` or
change them, or old databases and new ones stop ending up the same.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

_meta = MetaData()


def _lease_columns() -> list[Column[object]]:
    return [
        Column("owner", String(120)),
        Column("lease_until", Float),
        Column("attempts", Integer, nullable=False, default=0),
        Column("not_before", Float, nullable=False, default=0.0),
    ]


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
    *_lease_columns(),
)
Index("jobs_claim", _jobs.c.state, _jobs.c.priority, _jobs.c.id)

_albums = Table(
    "albums",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("grp", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("ref", Text),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    *_lease_columns(),
    UniqueConstraint("job_id", "seq", name="albums_job_seq"),
)
Index("albums_claim", _albums.c.state, _albums.c.priority, _albums.c.id)

_items = Table(
    "items",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("source_path", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("size", BigInteger, nullable=False, default=0),
    Column("sha256", String(64)),
    Column("work_path", Text),
    Column("original_path", Text),
    Column("plan", String(16)),
    Column("reason", Text),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("album_id", Integer, ForeignKey("albums.id")),
    Column("media", Text),
    Column("actions", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    *_lease_columns(),
    UniqueConstraint("job_id", "seq", name="items_job_seq"),
)
Index("items_job_state", _items.c.job_id, _items.c.state, _items.c.seq)
Index("items_claim", _items.c.state, _items.c.priority, _items.c.id)

_runtime_settings = Table(
    "runtime_settings",
    _meta,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


def apply(conn: Connection) -> None:
    # checkfirst: databases made before the steps were frozen may hold these already.
    _meta.create_all(conn, checkfirst=True)
