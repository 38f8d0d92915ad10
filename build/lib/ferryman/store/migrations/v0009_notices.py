"""Step 9 (frozen): notices. ``jobs.notify`` and ``watches.notify`` (a per-job or
per-watch override of where notices go: URLs, or ``none``), and ``notices``, the
outbox: a notice is written when its event happens and sent by the engine's notifier,
claimed with a lease like other work, so one that cannot be delivered waits and is
tried again instead of being lost or holding the job up."""

from __future__ import annotations

from sqlalchemy import (
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
    text,
)

_meta = MetaData()

_notices = Table(
    "notices",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("job_id", Integer),
    Column("watch_id", Integer),
    Column("digest", Integer, nullable=False, default=0),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("error_message", Text),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("owner", String(120)),
    Column("lease_until", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", Float, nullable=False, default=0.0),
    CheckConstraint("state IN ('queued', 'sending', 'sent', 'failed')", name="notices_state_check"),
)
Index("notices_claim", _notices.c.state, _notices.c.not_before)


def apply(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE jobs ADD COLUMN notify TEXT"))
    conn.execute(text("ALTER TABLE watches ADD COLUMN notify TEXT"))
    _notices.create(conn)
