"""SQLite's way to change a table it cannot ALTER: build the new table under another
name, copy the rows, drop the old one, rename the new one, re-create the indexes
(https://sqlite.org/lang_altertable.html#otheralter).

A procedure, not a schema: the step that calls it passes its own frozen ``Table``.
Foreign keys must be off (``migrate`` turns them off around the migration and checks
them before it commits): dropping a table other rows point at would fail otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.schema import CreateTable

from ferryman.errors import FerrymanError


def rebuild(conn: Connection, table: Table, copied: Mapping[str, str] | None = None) -> None:
    """Rebuild ``table`` as defined, its rows copied column by column (a column of the same
    name); ``copied`` gives a new column its value from the old row instead (an SQL
    expression over the old columns: a renamed column, a value renamed)."""
    if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise FerrymanError(
            "store.migration_failed",
            f"rebuilding {table.name} needs foreign keys off: run it through migrate()",
        )
    name, temporary = table.name, f"{table.name}_rebuilt"
    ddl = str(CreateTable(table).compile(dialect=conn.dialect)).strip()
    head = f"CREATE TABLE {name} ("
    if not ddl.startswith(head):
        raise FerrymanError("store.migration_failed", f"unexpected DDL for {name}: {ddl[:80]}")
    conn.exec_driver_sql(f"CREATE TABLE {temporary} ({ddl.removeprefix(head)}")
    have = {c["name"] for c in inspect(conn).get_columns(name)}
    given = dict(copied or {})
    kept = [c.name for c in table.columns if c.name in given or c.name in have]
    into, values = ", ".join(kept), ", ".join(given.get(c, c) for c in kept)
    conn.exec_driver_sql(f"INSERT INTO {temporary} ({into}) SELECT {values} FROM {name}")
    conn.exec_driver_sql(f"DROP TABLE {name}")
    conn.exec_driver_sql(f"ALTER TABLE {temporary} RENAME TO {name}")
    for index in table.indexes:
        index.create(conn)
