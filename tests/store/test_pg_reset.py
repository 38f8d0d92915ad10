"""The PostgreSQL tests' reset (``tests/conftest.py``): each test finds what a new store
finds, though the schema is kept between tests and only its rows are deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from ferryman.store import Store, schema
from tests.conftest import _reset_postgres, store_url

pytestmark = pytest.mark.postgres


async def _count_rows(store: Store) -> dict[str, int]:
    async with store.engine.connect() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in schema.metadata.sorted_tables
            if table.name != "schema_version"
        }


async def test_a_reset_deletes_every_row_and_ids_start_at_1_again(tmp_path: Path) -> None:
    url = store_url("postgres", tmp_path)
    await _reset_postgres(url)
    store = await Store.open(url)
    try:
        for n in range(3):
            await store.add_job(source=f"/in{n}.zip", name=f"in{n}", dest="library:")
        assert (await _count_rows(store))["jobs"] == 3
    finally:
        await store.close()

    await _reset_postgres(url)
    store = await Store.open(url)
    try:
        assert set((await _count_rows(store)).values()) == {0}
        job = await store.add_job(source="/again.zip", name="again", dest="library:")
        assert job.id == 1  # the sequence restarted: no id depends on the test before
    finally:
        await store.close()


async def test_a_schema_a_test_changed_is_made_again(tmp_path: Path) -> None:
    url = store_url("postgres", tmp_path)
    await _reset_postgres(url)
    store = await Store.open(url)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE jobs ADD COLUMN left_behind TEXT"))
            await conn.execute(text("CREATE TABLE stray (id SERIAL PRIMARY KEY)"))
            await conn.execute(text("DELETE FROM schema_version WHERE version = 1"))
    finally:
        await store.close()

    await _reset_postgres(url)
    store = await Store.open(url)
    try:
        async with store.engine.connect() as conn:
            columns = await conn.execute(
                text("SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs'")
            )
            assert "left_behind" not in set(columns.scalars())
            tables = await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            assert "stray" not in set(tables.scalars())
            versions = await conn.execute(text("SELECT version FROM schema_version"))
            assert 1 in set(versions.scalars())
    finally:
        await store.close()
