"""Step 2 (frozen): media. The items' thumbnail, split parts and report figures; the
finished parts of a resumable transcode (``segments``).

Skips what is already there: step 1 once created ``items`` from the live schema, so a
database made then may hold these columns at version 1.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
    inspect,
)
from sqlalchemy.types import TypeEngine

_meta = MetaData()
Table("items", _meta, Column("id", Integer, primary_key=True))  # the foreign key's target

_segments = Table(
    "segments",
    _meta,
    Column("item_id", Integer, ForeignKey("items.id"), primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("reports", Integer, nullable=False, default=1),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# name, type, the DDL's tail (NOT NULL columns need a default for the rows already there)
_ITEM_COLUMNS: tuple[tuple[str, TypeEngine[Any], str], ...] = (
    ("thumb_path", Text(), ""),
    ("parts", Text(), ""),
    ("source_size", BigInteger(), ""),
    ("work_seconds", Float(), " NOT NULL DEFAULT 0"),
)


def apply(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("items")}
    for name, kind, tail in _ITEM_COLUMNS:
        if name not in have:
            ddl = kind.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE items ADD COLUMN {name} {ddl}{tail}")
    _segments.create(conn, checkfirst=True)
