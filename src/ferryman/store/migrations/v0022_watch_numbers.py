"""Step 22 (frozen): a watch's number and a chat inbox row's are never given again.
SQLite gave a new row the largest id plus one, so a watch added after the newest one
was removed took its number: a look of the removed watch still running (its lease) then
made its jobs as the newcomer's person's, and a notice about it went to the newcomer's
places; an inbox row's number is in a button's data (``a:ROW:…``) and names its
download folder. AUTOINCREMENT keeps the highest number ever given (PostgreSQL's
sequences never go back: no change there)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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
    UniqueConstraint,
)

from ferryman.store.migrations.sqlite_rebuild import rebuild

_meta = MetaData()
_jobs = Table("jobs", _meta, Column("id", Integer, primary_key=True))  # for the foreign key
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
    Column("notify", Text),
    Column("after_delivery", Text),
    Column("account_id", Integer),
    CheckConstraint("state IN ('idle', 'checking')", name="watches_state_check"),
    sqlite_autoincrement=True,
)
Index("watches_due", _watches.c.state, _watches.c.next_check_at)
_tg_inbox = Table(
    "tg_inbox",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("sender_id", BigInteger, nullable=False),
    Column("file_key", String(120)),
    Column("name", Text),
    Column("size", BigInteger),
    Column("path", Text),
    Column("state", String(16), nullable=False),
    Column("job_id", Integer, ForeignKey("jobs.id")),
    Column("dest", Text),
    Column("error_code", String(64)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("chat_id", "message_id", name="uq_tg_inbox_message"),
    Index("ix_tg_inbox_file_key", "file_key"),
    CheckConstraint(
        "state IN ('downloading', 'done', 'failed', 'duplicate')", name="tg_inbox_state_check"
    ),
    sqlite_autoincrement=True,
)


def apply(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for table in (_watches, _tg_inbox):
            rebuild(conn, table)
