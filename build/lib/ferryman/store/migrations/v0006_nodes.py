"""Step 6 (frozen): ``nodes``, one row per engine run with its heartbeat, and ``drains``,
the nodes told to take no new work."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, Index, Integer, MetaData, String, Table, Text

_meta = MetaData()

_nodes = Table(
    "nodes",
    _meta,
    Column("owner", String(120), primary_key=True),
    Column("node", String(120), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("stages", Text, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("stopped_at", Float),
)
Index("nodes_node", _nodes.c.node)

_drains = Table(
    "drains",
    _meta,
    Column("node", String(120), primary_key=True),
    Column("since", Float, nullable=False),
)


def apply(conn: Connection) -> None:
    _nodes.create(conn)
    _drains.create(conn)
