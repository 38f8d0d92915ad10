"""Step 5 (frozen): a job's input is a URI; fetch-first inputs have a ``fetches`` row;
sources keep what they must remember of an input in ``source_memos``.

Version 4 stored a local path in ``jobs.source``; the source registry reads URIs, so a
path becomes ``file:///…`` (percent-encoded, as ``Path.as_uri`` writes it). The
``fetches`` table holds the fetch stage's claimed, leased work: one row per job whose
input is downloaded before it is read.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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
    text,
)

_meta = MetaData()
Table("jobs", _meta, Column("id", Integer, primary_key=True))  # the foreign key's target

_fetches = Table(
    "fetches",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("path", Text),
    Column("size", BigInteger),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("owner", String(120)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", Float, nullable=False, default=0.0),
    CheckConstraint(
        "state IN ('queued', 'fetching', 'done', 'failed', 'cancelled')",
        name="fetches_state_check",
    ),
)
Index("fetches_claim", _fetches.c.state, _fetches.c.priority, _fetches.c.id)


_source_memos = Table(
    "source_memos",
    _meta,
    Column("job_id", Integer, ForeignKey("jobs.id"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)


def apply(conn: Connection) -> None:
    rows = conn.execute(text("SELECT id, source FROM jobs")).all()
    for job_id, source in rows:
        if source.startswith("/"):  # every version-4 source is an absolute path
            uri = PurePosixPath(source).as_uri()
            conn.execute(
                text("UPDATE jobs SET source = :uri WHERE id = :id"), {"uri": uri, "id": job_id}
            )
    _fetches.create(conn)
    _source_memos.create(conn)
