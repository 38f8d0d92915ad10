"""The claims' order has an index (schema step 11): each claim of a job, an album or a
conversion reads its first row in (state, priority DESC, turn, id) order from its
``*_claim`` index without sorting the queue, on SQLite and PostgreSQL, in a new
database and in one upgraded from version 10."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from ferryman.store import Store, migrate
from ferryman.store.jobs.fair_share import PEOPLE
from tests.store.test_migrations import ENGINES, _database, _run

CLAIMED = {"jobs": "jobs_claim", "albums": "albums_claim", "items": "items_claim"}


def _picks(store: Store) -> dict[str, Any]:
    """Each claim's inner ``SELECT id … ORDER BY … LIMIT 1``, as the store built it: the
    plain one (the people-first one, used only while two people's rows wait, reads every
    claimable row by design: ``store.fair_share``)."""
    return {
        key[0]: statement.whereclause.right.element
        for key, statement in store._claims.items()
        if not key[4].endswith(PEOPLE)
    }


def _plans(conn: Connection, picks: dict[str, Any]) -> dict[str, str]:
    postgres = conn.dialect.name == "postgresql"
    if postgres:  # empty tables: a scan and a sort would be cheaper, so rule them out
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_sort = off")
    plans = {}
    for table, pick in picks.items():
        sql = pick.params(claim_now=0.0).compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True}
        )
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        rows = conn.exec_driver_sql(explain + str(sql)).all()
        plans[table] = "\n".join(str(row[-1]) for row in rows)
    return plans


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize("start", ["new", "version 10"])
async def test_each_claim_reads_its_index_in_order(kind: str, start: str, tmp_path: Path) -> None:
    async with _database(kind, tmp_path) as engine:
        if start == "version 10":
            assert await _run(engine, lambda c: migrate.migrate(c, 10)) == 10
        await _run(engine, migrate.migrate)
        store = Store(engine)
        assert await store.claim_job("w", 30) is None
        assert await store.claim_delivery("w", 30) is None
        assert await store.claim_conversion("w", 30) is None
        picks = {t: p for t, p in _picks(store).items() if t in CLAIMED}
        assert picks.keys() == CLAIMED.keys()
        plans = await _run(engine, lambda c: _plans(c, picks))
    for table, index in CLAIMED.items():
        plan = plans[table]
        assert index in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan  # the order is the index's
