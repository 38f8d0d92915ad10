"""Step 15 (frozen): ``watches.after_delivery``, what a folder watch does with a file
once its job has delivered it whole (``delete``, ``move:DIR``), or NULL: nothing."""

from __future__ import annotations

from sqlalchemy import Connection, text


def apply(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE watches ADD COLUMN after_delivery TEXT"))
