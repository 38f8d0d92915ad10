"""The store's contract fixtures: each test runs on SQLite, PostgreSQL and the memory
store (``store/memory``). A test module imports ``db_url`` and ``store`` from here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ferryman.store import Store
from ferryman.store.memory.store import MemoryStore
from tests.conftest import _reset_postgres, store_url

MEMORY = "memory:"
# Either store: the contract is what both keep (the SQL one's own methods are skipped on
# memory by ``sql_only``).
ContractStore = Store | MemoryStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "memory"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return MEMORY if request.param == "memory" else store_url(request.param, tmp_path)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[ContractStore]:
    """The contract's store: SQLite, PostgreSQL, or the memory store."""
    if db_url == MEMORY:
        yield MemoryStore()
        return
    if db_url.startswith("postgres"):
        await _reset_postgres(db_url)
    opened = await Store.open(db_url)
    try:
        yield opened
    finally:
        await opened.close()


def sql_only(store: ContractStore, why: str) -> None:
    if isinstance(store, MemoryStore):
        pytest.skip(f"SQL only: {why}")


@pytest.fixture(name="store")
def memory_store() -> MemoryStore:
    """The memory store as a module's ``store``: an engine test that tests the engine,
    not the database, imports this and runs once, without a database file, instead of
    on SQLite and PostgreSQL."""
    return MemoryStore()
