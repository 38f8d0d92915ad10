"""Step 10 (frozen): what sinks keep becomes generic, so a sink needs no table of its own.

``sink_records`` holds a sink's records per job (key, JSON value, the album or item it
is about), removed with their job, album or item by ``ON DELETE CASCADE``;
``sink_waits`` the waits a destination imposed. The Telegram sink's rows move over in
the shapes its ``TelegramState`` reads (written out here as they were at this step):

- ``tg_sends`` → ``send:<album>:<slot>`` (slot, item_id, part, random_id, state,
  message_id, peer), the job the album's;
- ``tg_media`` → ``media:<item>:<part>`` (part, media, family), the job the item's;
- ``tg_waits`` → ``sink_waits`` of sink ``telegram``.

Then those three tables are dropped (``tg_inbox`` and ``tg_status`` are the chat front
door's, not the sink's, and stay). A row whose album or item is gone (possible only
where foreign keys were off) points at nothing and is not carried.
"""

from __future__ import annotations

from sqlalchemy import (
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

_SINK = "telegram"

_meta = MetaData()
for _target in ("jobs", "albums", "items"):  # the foreign keys' targets; not created here
    Table(_target, _meta, Column("id", Integer, primary_key=True))

_sink_records = Table(
    "sink_records",
    _meta,
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("sink", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("album_id", Integer, ForeignKey("albums.id", ondelete="CASCADE")),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE")),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)
Index("sink_records_album", _sink_records.c.album_id, _sink_records.c.sink, _sink_records.c.job_id)
Index("sink_records_item", _sink_records.c.item_id, _sink_records.c.sink, _sink_records.c.job_id)

_sink_waits = Table(
    "sink_waits",
    _meta,
    Column("sink", String(32), primary_key=True),
    Column("scope", String(200), primary_key=True),
    Column("not_before", Float, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)


def _number(column: str) -> str:
    """A JSON number (or null) from an integer column, in SQL both engines speak."""
    return f"COALESCE(CAST({column} AS TEXT), 'null')"


def _string(column: str) -> str:
    """A JSON string (or null) from a text column, backslash and quote escaped (the
    values are ids, states and base64: no control characters)."""
    escaped = rf"""REPLACE(REPLACE({column}, '\', '\\'), '"', '\"')"""
    return f"""CASE WHEN {column} IS NULL THEN 'null' ELSE '"' || {escaped} || '"' END"""


def _object(fields: dict[str, str]) -> str:
    """A JSON object from SQL values, keys sorted as the live code writes them."""
    parts = [
        f"""'{"," if n else "{"}"{key}":' || {value}"""
        for n, (key, value) in enumerate(fields.items())
    ]
    return " || ".join([*parts, "'}'"])


_SEND_VALUE = _object(
    {
        "item_id": _number("s.item_id"),
        "message_id": _number("s.message_id"),
        "part": _number("s.part"),
        "peer": _string("s.peer"),
        "random_id": _number("s.random_id"),
        "slot": _number("s.slot"),
        "state": _string("s.state"),
    }
)
_MEDIA_VALUE = _object(
    {"family": _string("m.family"), "media": _string("m.media"), "part": _number("m.part")}
)

# In SQL (INSERT … SELECT), not row by row in Python: years of albums move without
# being held in memory. The joins leave out rows whose album or item is gone.
_INSERTS = (
    "INSERT INTO sink_records (sink, job_id, key, album_id, item_id, value, updated_at)"
    f" SELECT '{_SINK}', a.job_id,"
    " 'send:' || CAST(s.album_id AS TEXT) || ':' || CAST(s.slot AS TEXT),"
    f" s.album_id, s.item_id, {_SEND_VALUE}, s.updated_at"
    " FROM tg_sends s JOIN albums a ON a.id = s.album_id JOIN items i ON i.id = s.item_id",
    "INSERT INTO sink_records (sink, job_id, key, album_id, item_id, value, updated_at)"
    f" SELECT '{_SINK}', i.job_id,"
    " 'media:' || CAST(m.item_id AS TEXT) || ':' || CAST(m.part AS TEXT),"
    f" NULL, m.item_id, {_MEDIA_VALUE}, m.created_at"
    " FROM tg_media m JOIN items i ON i.id = m.item_id",
    "INSERT INTO sink_waits (sink, scope, not_before, reason, updated_at)"
    f" SELECT '{_SINK}', scope, not_before, reason, updated_at FROM tg_waits",
)


def apply(conn: Connection) -> None:
    _sink_records.create(conn)
    _sink_waits.create(conn)
    for statement in _INSERTS:
        conn.exec_driver_sql(statement)
    for table in ("tg_sends", "tg_media", "tg_waits"):
        conn.exec_driver_sql(f"DROP TABLE {table}")
