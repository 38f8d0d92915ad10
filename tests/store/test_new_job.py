"""One way to add a job (``store/jobs/new``): the light store and the full one write
through the same insert, so the rows they make are the same, column for column."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ferryman.errors import FerrymanError
from ferryman.store import Store
from ferryman.store.jobs.writer import SqlJobWriter
from ferryman.store.startup.sqlite3_store import open_sqlite3
from tests.support.contract import db_url, sql_only, store

__all__ = ["db_url", "store"]  # the contract's fixtures: SQLite, PostgreSQL, memory

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
    light_store = open_sqlite3(
        f"sqlite:///{tmp_path / 'light.db'}", create=True, clock=lambda: 1000.0
    )
    assert light_store is not None
    full = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}", clock=lambda: 1000.0)
    try:
        for add in ADDS:
            assert light_store.add_job(**add) == await full.add_job(**add)
    finally:
        light_store.close()
        await full.close()
    for table in ("jobs", "fetches", "source_memos"):
        made = _rows(tmp_path / "light.db", table)
        assert made == _rows(tmp_path / "full.db", table), table
        assert made, table  # each table was written
    assert len(_rows(tmp_path / "light.db", "source_memos")) == 1


def test_only_new_job_inserts_a_job() -> None:
    """The twin entry points are gone: no other store module writes a ``jobs`` row."""
    writers = []
    for path in sorted(STORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            text = ast.unparse(node) if isinstance(node, ast.Call) else ""
            if "insert(" in text.lower() and ("(jobs)" in text or "'jobs'" in text):
                writers.append(str(path.relative_to(STORE)))
    assert sorted(set(writers)) == ["jobs/new.py"]


async def test_an_add_racing_another_is_a_duplicate_not_a_crash(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two nodes add the same input at once: both look for its dedupe key before either
    inserts (PostgreSQL's read committed lets both through the look). The loser's
    insert hits the unique key; it is told ``source.duplicate`` naming the winner's job,
    not a raw IntegrityError. The race is made certain by a look that sees nothing."""
    sql_only(store, "the unique key of the SQL table is what catches the race")
    first = await store.add_job(source="/in/a.zip", name="a", dest="library:", dedupe_key="k")
    monkeypatch.setattr(SqlJobWriter, "holder", lambda self, key: None)
    with pytest.raises(FerrymanError) as lost:
        await store.add_job(source="/in/a.zip", name="a", dest="library:", dedupe_key="k")
    assert lost.value.code == "source.duplicate"
    assert lost.value.message == f"already job {first.id}"
    assert [j.id for j in await store.list_jobs()] == [first.id]  # nothing half-written


def test_every_store_adds_a_job_with_the_same_words() -> None:
    """The start-up store, the full one and the memory one take ``add_job``'s
    arguments alike (a word one lacked, such as whose job, was dropped on its way)."""
    from inspect import signature

    from ferryman.store.memory.store import MemoryStore
    from ferryman.store.startup.sqlite3_store import Sqlite3Store

    words = signature(Store.add_job).parameters
    assert signature(Sqlite3Store.add_job).parameters == words
    assert signature(MemoryStore.add_job).parameters == words
    assert "account" in words
