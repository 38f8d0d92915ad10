"""Step 8 (frozen): ``watches``, sources checked on a schedule, and ``watch_seen``,
what each has seen (deleted with its watch)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
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
)

_meta = MetaData()

_watches = Table(
    "watches",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("dest", Text, nullable=False),
    Column("profile", Text),
    Column("every_seconds", Float, nullable=False),
    Column("window", String(16)),
    Column("since", String(16), nullable=False),
    Column("match", Text),
    Column("skip_match", Text),
    Column("min_duration", Float),
    Column("max_duration", Float),
    Column("state", String(16), nullable=False),
    Column("paused", Boolean, nullable=False, default=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("primed", Boolean, nullable=False, default=False),
    Column("next_check_at", Float, nullable=False),
    Column("last_check_at", Float),
    Column("last_ok_at", Float),
    Column("last_code", String(64)),
    Column("last_message", Text),
    Column("failures", Integer, nullable=False, default=0),
    Column("found", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("owner", String(120)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", Float, nullable=False, default=0.0),
    CheckConstraint("state IN ('idle', 'checking')", name="watches_state_check"),
)
Index("watches_due", _watches.c.state, _watches.c.next_check_at)

_watch_seen = Table(
    "watch_seen",
    _meta,
    Column("watch_id", Integer, ForeignKey("watches.id", ondelete="CASCADE"), primary_key=True),
    Column("entry_key", String(64), primary_key=True),
    Column("entry_id", Text, nullable=False),
    Column("title", Text),
    Column("job_id", Integer),
    Column("seen_at", Float, nullable=False),
)


def apply(conn: Connection) -> None:
    _watches.create(conn)
    _watch_seen.create(conn)
