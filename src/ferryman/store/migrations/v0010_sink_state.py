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

import json
from typing import Any

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
    text,
)

_SINK = "telegram"

_meta = MetaData()
for _target in ("jobs", "albums", "items"):  # the foreign keys' targets; not created here
    Table(_target, _meta, Column("id", Integer, primary_key=True))

_sink_records = Table(
    "sink_records",
    _meta,
    Column("sink", String(32), primary_key=True),
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
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


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _records(conn: Connection) -> list[dict[str, Any]]:
    sends = conn.execute(
        text(
            "SELECT s.album_id, s.slot, s.item_id, s.part, s.random_id, s.state,"
            " s.message_id, s.peer, s.updated_at, a.job_id"
            " FROM tg_sends s JOIN albums a ON a.id = s.album_id"
            " JOIN items i ON i.id = s.item_id"
        )
    ).all()
    media = conn.execute(
        text(
            "SELECT m.item_id, m.part, m.media, m.family, m.created_at, i.job_id"
            " FROM tg_media m JOIN items i ON i.id = m.item_id"
        )
    ).all()
    found = [
        {
            "sink": _SINK,
            "job_id": s.job_id,
            "key": f"send:{s.album_id}:{s.slot}",
            "album_id": s.album_id,
            "item_id": s.item_id,
            "value": _json(
                {
                    "slot": s.slot,
                    "item_id": s.item_id,
                    "part": s.part,
                    "random_id": s.random_id,
                    "state": s.state,
                    "message_id": s.message_id,
                    "peer": s.peer,
                }
            ),
            "updated_at": s.updated_at,
        }
        for s in sends
    ]
    found += [
        {
            "sink": _SINK,
            "job_id": m.job_id,
            "key": f"media:{m.item_id}:{m.part}",
            "album_id": None,
            "item_id": m.item_id,
            "value": _json({"part": m.part, "media": m.media, "family": m.family}),
            "updated_at": m.created_at,
        }
        for m in media
    ]
    return found


def apply(conn: Connection) -> None:
    _sink_records.create(conn)
    _sink_waits.create(conn)
    records = _records(conn)
    if records:
        conn.execute(_sink_records.insert(), records)
    waits = [
        {
            "sink": _SINK,
            "scope": w.scope,
            "not_before": w.not_before,
            "reason": w.reason,
            "updated_at": w.updated_at,
        }
        for w in conn.execute(
            text("SELECT scope, not_before, reason, updated_at FROM tg_waits")
        ).all()
    ]
    if waits:
        conn.execute(_sink_waits.insert(), waits)
    for table in ("tg_sends", "tg_media", "tg_waits"):
        conn.execute(text(f"DROP TABLE {table}"))
