"""Two engines on one PostgreSQL store check the same watch of a feed that gains
entries: each entry becomes one job, delivered once, whichever node looked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.engine.runner import Engine
from ferryman.model import Batch
from ferryman.store import Store
from tests.conftest import PG_DSN, _reset_postgres
from tests.support.httpserve import serving
from tests.support.waiting import eventually
from tests.watch.test_watch_feed import delivered_names, serve_feed, until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def _names(settings: Settings) -> list[str]:
    return await asyncio.to_thread(delivered_names, settings)


async def _left(store: Store, settings: Settings) -> str:
    """The library's names, each job's state and its items' states, and the fetches'
    (a fetch stuck in `fetching` with a live lease was how a lost cancel showed)."""
    from sqlalchemy import select

    from ferryman.store.schema import fetches

    listed = [
        f"{j.id} {j.name} {j.state.value} {[i.state.value for i in await store.job_items(j.id)]}"
        for j in await store.list_jobs()
    ]
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(fetches))).mappings().all()
    fetched = [(r["job_id"], r["state"], r["owner"], r["lease_until"]) for r in rows]
    return (
        f"delivered {await _names(settings)}; jobs {listed}; "
        f"fetches (job, state, owner, lease until) {fetched}; now {store.clock()}"
    )


async def test_two_engines_checking_one_watch_make_each_entry_once(
    settings: Settings, tmp_path: Path
) -> None:
    if not PG_DSN:
        pytest.skip("PostgreSQL tests need FERRYMAN_TEST_PG_DSN (CI sets it)")
    await _reset_postgres(PG_DSN)
    shared = settings.model_copy(update={"database_url": PG_DSN, "lease_seconds": 5})
    stores = [await Store.open(PG_DSN) for _ in range(2)]
    engines = [Engine(store, shared) for store in stores]
    with serving() as server:
        serve_feed(server, tmp_path, ["n1", "n2"])
        watch = await stores[0].add_watch(
            kind="feed",
            source=server.url("/feed.xml"),
            dest="library:",
            every_seconds=0.05,  # both nodes find it due almost all the time
            since="all",
            next_check_at=0.0,
        )
        running = [asyncio.create_task(e.run()) for e in engines]
        try:
            names = [f"n{n}" for n in range(1, 3)]
            for more in range(3, 9):
                names.append(f"n{more}")
                serve_feed(server, tmp_path, names)
                # It grows again once checked (by either node): each growth is seen, not
                # passed over by a pace the machine's load decides.
                asked = len(server.requests_for("/feed.xml"))
                await eventually(
                    lambda asked=asked: len(server.requests_for("/feed.xml")) > asked,  # type: ignore[misc]
                    f"the feed with n{more} checked",
                    within=90,
                )
            expected = sorted(f"{name}.jpg" for name in names)
            try:
                await until(lambda: _names(shared), lambda n: n == expected, "all delivered")
            except AssertionError as exc:  # what was left, for a failure seen only under load
                raise AssertionError(f"{exc}; {await _left(stores[0], shared)}") from None
            before = (await stores[0].get_watch(watch.id)).last_check_at or 0
            await until(
                lambda: stores[0].get_watch(watch.id),
                lambda w: (w.last_check_at or 0) > before + 0.5,
                "more looks",
            )
            await until(
                stores[0].list_jobs,
                lambda jobs: all(j.state.value == "done" for j in jobs),
                "every job ended",
            )
            owners = {r.owner for r in await stores[0].node_runs()}
            assert len(owners) == 2
        finally:
            for engine in engines:
                engine.stop()
            await asyncio.gather(*running)
    try:
        jobs = await stores[0].list_jobs()
        inputs = [item.title for j in jobs for item in Batch.parse(j.source).items]
        assert sorted(inputs) == sorted(f"Episode {name}" for name in names)  # each once
        assert await _names(shared) == expected
        seen = await stores[0].watch_seen_rows(watch.id)
        assert sorted(e for e, _ in seen) == names
        assert {j for _, j in seen} == {j.id for j in jobs}  # a look's entries: one job
    finally:
        for store in stores:
            await store.close()
