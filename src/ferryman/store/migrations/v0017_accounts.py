"""Step 17 (frozen): accounts. The people of one ferryman (``users``), their own API
tokens, passkeys, Telegram link codes and the audit of sign-ins and administrators'
actions; whose job and whose watch (``account_id``, NULL: the administrator's, as every
row before this step was), with an index for a person's jobs by state."""

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
    text,
)

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
)
Table(
    "user_tokens",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("hash", String(80), nullable=False, unique=True),
    Column("label", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
Table(
    "passkeys",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("credential_id", String(512), nullable=False, unique=True),
    Column("public_key", Text, nullable=False),
    Column("sign_count", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
)
Table(
    "link_codes",
    _meta,
    Column("code", String(80), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", Float, nullable=False),
)
_audit = Table(
    "audit",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("address", Text, nullable=False),
)
Index("audit_at", _audit.c.at)


def apply(conn: Connection) -> None:
    _meta.create_all(conn)
    for table in ("jobs", "watches"):
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN account_id INTEGER"))
    conn.execute(text("CREATE INDEX jobs_account ON jobs (state, account_id)"))
