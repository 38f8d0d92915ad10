"""One way to add a job (``store/new_job``): the light store and the full one write
through the same insert, so the rows they make are the same, column for column."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.store import Store
from ferryman.store.lite import open_lite

STORE = Path(__file__).resolve().parents[2] / "src" / "ferryman" / "store"

ADDS: list[dict[str, Any]] = [
    {"source": "file:///in/a.zip", "name": "a", "dest": "library:", "dedupe_key": "k1"},
    {"source": "https://h/b.zip", "name": "b", "dest": "library:", "fetch": True},
    {"source": "file:///c.zip", "name": "c", "dest": "library:", "memos": {"chosen": "[1, 2]"}},
    {
        "source": "file:///gone",
        "name": "gone",
        "dest": "telegram:me",
        "priority": 3,
        "password": "pw",
        "notify": "mailto://x",
        "error": FerrymanError("source.not_found", "/gone: no such file"),
    },
]


def _rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2"))


async def test_the_light_and_the_full_store_write_identical_rows(tmp_path: Path) -> None:
    """Every column, timestamps and summary included (one clock for both)."""
    lite = open_lite(f"sqlite:///{tmp_path / 'lite.db'}", create=True, clock=lambda: 1000.0)
    assert lite is not None
    full = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}", clock=lambda: 1000.0)
    try:
        for add in ADDS:
            assert lite.add_job(**add) == await full.add_job(**add)
    finally:
        lite.close()
        await full.close()
    for table in ("jobs", "fetches", "source_memos"):
        made = _rows(tmp_path / "lite.db", table)
        assert made == _rows(tmp_path / "full.db", table), table
        assert made, table  # each table was written
    assert len(_rows(tmp_path / "lite.db", "source_memos")) == 1


def test_only_new_job_inserts_a_job() -> None:
    """The twin entry points are gone: no other store module writes a ``jobs`` row."""
    writers = []
    for path in sorted(STORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            text = ast.unparse(node) if isinstance(node, ast.Call) else ""
            if "insert(" in text.lower() and ("(jobs)" in text or "'jobs'" in text):
                writers.append(path.name)
    assert sorted(set(writers)) == ["new_job.py"]
