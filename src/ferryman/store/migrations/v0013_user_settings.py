"""Step 13 (frozen): each chat user's own settings (``/settings``): where their files go,
what a link becomes, media or documents, a caption template, a thumbnail; one row per
key the user changed (``tg_user_settings``), the rest being ferryman's defaults."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, Float, MetaData, String, Table, Text

_meta = MetaData()
_tg_user_settings = Table(
    "tg_user_settings",
    _meta,
    Column("user_id", BigInteger, primary_key=True),
    Column("key", String(32), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)


def apply(conn: Connection) -> None:
    _meta.create_all(conn)
