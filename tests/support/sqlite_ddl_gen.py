"""Writes ``src/ferryman/store/startup/sqlite3_schema.py`` from ``schema.py``: run
``python -m tests.support.sqlite_ddl_gen`` after changing the schema
(``tests/store/test_light_store.py`` fails until the light store's statements make the
same database as the full store)."""

from __future__ import annotations

from pathlib import Path

_HEAD = '''# ruff: noqa: E501
"""The schema as SQLite DDL, for the start-up store (``sqlite3_store.py``) to make a new database
without importing SQLAlchemy. Generated from ``schema.py`` by ``python -m
tests.support.sqlite_ddl_gen``; never edit by hand (``tests/store/test_light_store.py`` compares a
database made from these statements with one the full store makes).
"""

from __future__ import annotations

SCHEMA_VERSION = {version}  # the migration steps these statements stand for

STATEMENTS: tuple[str, ...] = (
{statements})
'''


def render() -> str:
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from ferryman.store import schema
    from ferryman.store.migrations import STEPS

    dialect = sqlite.dialect()
    found: list[str] = []
    for table in schema.metadata.sorted_tables:
        found.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            found.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    statements = "".join(f"    {' '.join(s.split())!r},\n" for s in found)
    return _HEAD.format(version=len(STEPS), statements=statements)


TARGET = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "ferryman"
    / "store"
    / "startup"
    / "sqlite3_schema.py"
)

if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
