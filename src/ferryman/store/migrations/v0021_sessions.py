"""Step 21 (frozen): accounts and credentials that end. A person's number, a token's
and a passkey's are never given again: SQLite gave a new row the largest id plus one,
so a person added after the newest one was removed became them (their cookies, cached
results, signed links, an open event stream); AUTOINCREMENT keeps the highest number
ever given (PostgreSQL's sequences never go back: no change there). ``sessions``: the
page's sign-ins, held in the store so that signing out, a new password and a removal
end them (the cookie was a signed grant good for 7 days, whatever happened)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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

from ferryman.store.migrations.sqlite_rebuild import rebuild

_meta = MetaData()
_users = Table(
    "users",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", Text),
    Column("admin", Boolean, nullable=False, default=False),
    Column("settings", Text, nullable=False, default="{}"),
    Column("tg_user_id", BigInteger, unique=True),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,
)
_user_tokens = Table(
    "user_tokens",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("hash", String(80), nullable=False, unique=True),
    Column("label", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,
)
_passkeys = Table(
    "passkeys",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("credential_id", String(512), nullable=False, unique=True),
    Column("public_key", Text, nullable=False),
    Column("sign_count", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,
)
_sessions = Table(
    "sessions",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hash", String(80), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE")),
    Column("token", String(80)),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    sqlite_autoincrement=True,
)
Index("sessions_user", _sessions.c.user_id)


def apply(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for table in (_users, _user_tokens, _passkeys):
            rebuild(conn, table)
    _sessions.create(conn)  # with its index
