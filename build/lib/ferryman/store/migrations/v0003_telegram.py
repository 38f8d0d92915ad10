"""Step 3 (frozen): Telegram. Media references, planned sends with their ``random_id``s,
imposed waits, the chat's inbox and its status messages."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
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
for _target in ("jobs", "albums", "items"):  # the foreign keys' targets; not created here
    Table(_target, _meta, Column("id", Integer, primary_key=True))

_tg_media = Table(
    "tg_media",
    _meta,
    Column("item_id", Integer, ForeignKey("items.id"), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("media", Text, nullable=False),
    Column("family", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
)

_tg_sends = Table(
    "tg_sends",
    _meta,
    Column("album_id", Integer, ForeignKey("albums.id"), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Column("part", Integer, nullable=False),
    Column("random_id", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("message_id", BigInteger),
    Column("peer", Text),
    Column("updated_at", Float, nullable=False),
)

_tg_waits = Table(
    "tg_waits",
    _meta,
    Column("scope", String(200), primary_key=True),
    Column("not_before", Float, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)

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
)

_tg_status = Table(
    "tg_status",
    _meta,
    Column("job_id", Integer, ForeignKey("jobs.id"), primary_key=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("percent", Integer, nullable=False, default=0),
    Column("text", Text),
    Column("edited_at", Float, nullable=False),
)


def apply(conn: Connection) -> None:
    for table in (_tg_media, _tg_sends, _tg_waits, _tg_inbox, _tg_status):
        table.create(conn, checkfirst=True)
