"""Step 7 (frozen): indexes for the lookups every album makes: an album's items (by
``album_id``) and a job's albums (by ``job_id``). Without them each album's delivery
scanned the whole ``items`` table, and a 100,000-item job slowed as it grew."""

from __future__ import annotations

from sqlalchemy import Connection, text


def apply(conn: Connection) -> None:
    conn.execute(text("CREATE INDEX items_album ON items (album_id)"))
    conn.execute(text("CREATE INDEX albums_job ON albums (job_id, seq)"))
