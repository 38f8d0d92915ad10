"""Step 4 (frozen): CHECK constraints on every column that holds one of a fixed set of
values (states, kinds, plans, album groups, Telegram's send and inbox states).

The values are written out here as ``model.py``'s enums held them when this step was
made; a new enum value needs a step of its own. PostgreSQL adds the constraints in
place; SQLite cannot, so each table is rebuilt from the definition below. Both drop the
default a version-2 ``ALTER TABLE`` gave ``items.work_seconds`` (a new database has none).
"""

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

from ferryman.errors import FerrymanError
from ferryman.store.migrations.sqlite_rebuild import rebuild

_JOB_STATES = (
    "queued",
    "expanding",
    "active",
    "needs_password",
    "done",
    "failed",
    "cancelled",
)
_ITEM_STATES = (
    "convert",
    "converting",
    "ready",
    "grouped",
    "delivered",
    "skipped",
    "quarantined",
    "failed",
    "cancelled",
)
_ALBUM_STATES = ("sealed", "delivering", "delivered", "failed")
_KINDS = ("photo", "video", "audio", "animation", "document", "archive", "other")
_GROUPS = ("visual", "document", "audio")
_PLANS = (
    "as_is",
    "remux",
    "audio_transcode",
    "image",
    "animation",
    "transcode",
    "split",
    "document",
    "quarantine",
)
_SEND_STATES = ("pending", "sent", "dropped")
_INBOX_STATES = ("downloading", "done", "failed", "duplicate")


def _one_of(table: str, column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{table}_{column}_check")


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
    _one_of("jobs", "state", _JOB_STATES),
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
    _one_of("albums", "grp", _GROUPS),
    _one_of("albums", "state", _ALBUM_STATES),
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
    Column("thumb_path", Text),
    Column("parts", Text),
    Column("source_size", BigInteger),
    Column("work_seconds", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    *_lease_columns(),
    UniqueConstraint("job_id", "seq", name="items_job_seq"),
    _one_of("items", "kind", _KINDS),
    _one_of("items", "state", _ITEM_STATES),
    _one_of("items", "plan", _PLANS),
)
Index("items_job_state", _items.c.job_id, _items.c.state, _items.c.seq)
Index("items_claim", _items.c.state, _items.c.priority, _items.c.id)

_tg_media = Table(
    "tg_media",
    _meta,
    Column("item_id", Integer, ForeignKey("items.id"), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("media", Text, nullable=False),
    Column("family", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    _one_of("tg_media", "family", _GROUPS),
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
    _one_of("tg_sends", "state", _SEND_STATES),
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
    _one_of("tg_inbox", "state", _INBOX_STATES),
)

_CHECKED = (_jobs, _albums, _items, _tg_media, _tg_sends, _tg_inbox)


def apply(conn: Connection) -> None:
    for table in _CHECKED:
        for check in _checks(table):
            _refuse_unknown_values(conn, table.name, check)
    if conn.dialect.name == "sqlite":
        for table in _CHECKED:
            rebuild(conn, table)
        return
    for table in _CHECKED:
        for check in _checks(table):
            # Literal DDL: SQLAlchemy's AddConstraint would mark the shared constraint
            # object as added, and a later CREATE TABLE (SQLite's rebuild) would omit it.
            conn.exec_driver_sql(
                f"ALTER TABLE {table.name} ADD CONSTRAINT {check.name} CHECK ({check.sqltext})"
            )
    conn.exec_driver_sql("ALTER TABLE items ALTER COLUMN work_seconds DROP DEFAULT")


def _checks(table: Table) -> list[CheckConstraint]:
    found = [c for c in table.constraints if isinstance(c, CheckConstraint)]
    return sorted(found, key=lambda c: str(c.name))


def _refuse_unknown_values(conn: Connection, table: str, check: CheckConstraint) -> None:
    """A value the constraint would refuse stops the migration with a message naming it,
    instead of the database's bare integrity error (nothing is changed: one transaction)."""
    column = str(check.name).removeprefix(f"{table}_").removesuffix("_check")
    sql = f"SELECT DISTINCT {column} FROM {table} WHERE NOT ({check.sqltext})"
    bad = conn.exec_driver_sql(sql).scalars().all()
    if bad:
        raise FerrymanError(
            "store.migration_failed",
            f"{table}.{column} holds values this version does not know: {sorted(bad)}",
        )
