"""Step 11 (frozen): the claim indexes in the claims' order since fair turns,
(state, priority DESC, turn, id), the turn being an album's or an item's ``seq`` and a
job's ``cursor``. The step-1 indexes (state, priority, id) found the rows of a state,
but every claim then sorted them all (SQLite's "temp B-tree for ORDER BY", a Sort under
PostgreSQL's LIMIT): a cost that grew with the queue, paid by every idle worker's poll.
The same names, so nothing else refers to the old ones."""

from __future__ import annotations

from sqlalchemy import Connection, text

_TURNS = (("jobs", "cursor"), ("albums", "seq"), ("items", "seq"))


def apply(conn: Connection) -> None:
    for table, turn in _TURNS:
        conn.execute(text(f"DROP INDEX {table}_claim"))
        conn.execute(
            text(f'CREATE INDEX {table}_claim ON {table} (state, priority DESC, "{turn}", id)')
        )
