"""SQLite's way to change a table it cannot ALTER: build the new table under another
name, copy the rows, drop the old one, rename the new one, re-create the indexes
(https://sqlite.org/lang_altertable.html#otheralter).

A procedure, not a schema: the step that calls it passes its own frozen ``Table``.
Foreign keys must be off (``migrate`` turns them off around the migration and checks
them before it commits): dropping a table other rows point at would fail otherwise.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.schema import CreateTable

from ferryman.errors import FerrymanError


def rebuild(conn: Connection, table: Table) -> None:
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
    shared = ", ".join(c.name for c in table.columns if c.name in have)
    conn.exec_driver_sql(f"INSERT INTO {temporary} ({shared}) SELECT {shared} FROM {name}")
    conn.exec_driver_sql(f"DROP TABLE {name}")
    conn.exec_driver_sql(f"ALTER TABLE {temporary} RENAME TO {name}")
    for index in table.indexes:
        index.create(conn)
