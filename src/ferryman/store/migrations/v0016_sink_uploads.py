"""Step 16 (frozen): ``sink_uploads``, big uploads under way, so a crash costs only the
parts that were not acknowledged (issue 59). A new table: nothing is carried."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

_meta = MetaData()

_sink_uploads = Table(
    "sink_uploads",
    _meta,
    Column("sink", String(32), primary_key=True),
    Column("account", String(64), primary_key=True),
    Column("key", String(1000), primary_key=True),
    Column("file_id", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("part_size", Integer, nullable=False),
    Column("done", Text, nullable=False),
    Column("checks", LargeBinary, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)


def apply(conn: Connection) -> None:
    _sink_uploads.create(conn)
