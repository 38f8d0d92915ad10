"""The node registry: runs with heartbeats, the work they hold, drains by node name; on
both store engines, then through the engine (a drained node claims nothing) and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text, update

from ferryman.config import Settings
from ferryman.engine.ops import intake, nodes
from ferryman.engine.plumbing.events import EngineStarted, JobReadDone
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import ItemState, JobState
from ferryman.samples import make_photo_set
from ferryman.store import Store, connect
from ferryman.store.schema import jobs
from tests.conftest import _reset_postgres, store_url
from tests.support import forked
from tests.support.clock import JumpingClock, ManualClock, engine_idle
from tests.support.waiting import eventually


async def test_runs_beat_hold_work_and_drain_by_node_name(store: Store, tmp_path: Path) -> None:
    clock = [1000.0]
    store.clock = lambda: clock[0]
    assert await store.node_beat("a:1:x", "alpha", 11, ("fetch", "read")) is False
    assert await store.node_beat("b:2:y", "beta", 22, ("deliver",)) is False
    photos = make_photo_set(tmp_path / "in", 2)
    job = await intake.add_source(store, photos[0].parent)
    claimed = await store.claim_job("a:1:x", 30)
    assert claimed is not None and claimed.id == job.id
    clock[0] = 1010.0
    await store.node_beat("a:1:x", "alpha", 11, ("fetch", "read"))

    runs = {r["node"]: r for r in await nodes.workers(store, 30, now=1011.0)}
    assert runs["alpha"]["held"] == 1 and runs["beta"]["held"] == 0
    assert runs["alpha"]["stages"] == ["fetch", "read"] and runs["alpha"]["pid"] == 11
    assert runs["alpha"]["state"] == runs["beta"]["state"] == "alive"
    assert runs["beta"]["heartbeat_age"] == 11.0

    with pytest.raises(FerrymanError) as unknown:
        await nodes.drain(store, "gamma")
    assert unknown.value.code == "node.unknown"
    await nodes.drain(store, "alpha")
    assert await store.node_beat("a:1:x", "alpha", 11, ("fetch",)) is True
    assert await store.node_beat("a:9:z", "alpha", 99, ("fetch",)) is True  # a restart too
    runs = {r["owner"]: r for r in await nodes.workers(store, 30, now=1011.0)}
    assert runs["a:1:x"]["state"] == "draining"  # holds the job still
    assert runs["a:9:z"]["state"] == "drained"

    await store.node_stopped("b:2:y")
    later = {r["owner"]: r["state"] for r in await nodes.workers(store, 30, now=1100.0)}
    assert later == {"a:1:x": "silent", "a:9:z": "silent", "b:2:y": "stopped"}
    await nodes.drain(store, "alpha", on=False)
    assert await store.node_beat("a:9:z", "alpha", 99, ("fetch",)) is False


async def test_a_stop_hands_back_what_its_run_holds_and_records_it_stopped_in_one_commit(
    store: Store, tmp_path: Path
) -> None:
    """A graceful stop's last writes (the hand-back and the run's stop) are one commit:
    three, one after another, were the end of every run."""
    store.clock = lambda: 1000.0
    await store.node_beat("a:1:x", "alpha", 11, ("read",))
    photos = make_photo_set(tmp_path / "in", 2)
    job = await intake.add_source(store, photos[0].parent)
    assert await store.claim_job("a:1:x", 30) is not None
    commits: list[object] = []

    def committed(conn: Any) -> None:
        commits.append(conn)

    event.listen(store.engine.sync_engine, "commit", committed)
    try:
        assert await store.release("a:1:x", stopped=True) == 1
    finally:
        event.remove(store.engine.sync_engine, "commit", committed)

    assert len(commits) == 1
    assert (await store.get_job(job.id)).state is JobState.QUEUED  # claimable at once
    runs = {r["owner"]: r["state"] for r in await nodes.workers(store, 30, now=1001.0)}
    assert runs == {"a:1:x": "stopped"}


async def test_a_drained_node_claims_nothing_until_undrained(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.model_copy(update={"node_name": "phone", "lease_seconds": 3.0})
    clock = ManualClock()
    store = await Store.open(settings.database, clock=clock.now)
    engine = Engine(store, settings, clock=clock)
    claiming = [0]  # the read's claims in flight
    claim_jobs = store.claim_jobs

    async def counted(*args: Any, **kwargs: Any) -> Any:
        claiming[0] += 1
        try:
            return await claim_jobs(*args, **kwargs)
        finally:
            claiming[0] -= 1

    monkeypatch.setattr(store, "claim_jobs", counted)
    running = asyncio.create_task(engine.run())
    try:
        await eventually(lambda: _has_run(store), "the engine beat")
        await nodes.drain(store, "phone")
        await eventually(lambda: _draining(engine), "the engine drained")
        # A claim begun before the drain was heard may still end after it (and take
        # the job added next, under load): the job comes once none is in flight.
        await eventually(lambda: _none(claiming), "the claims begun before the drain ended")
        photos = make_photo_set(tmp_path / "in", 3)
        job = await intake.add_source(store, photos[0].parent)
        await _polls(clock, settings, 20)  # wake-ups and 20 polls: nothing is taken
        assert (await store.get_job(job.id)).state is JobState.QUEUED
        assert (await nodes.workers(store, 3.0))[0]["state"] == "drained"
        await nodes.drain(store, "phone", on=False)
        await eventually(lambda: _done(store, job.id), "the job done", within=30)
    finally:
        engine.stop()
        await running
    (run,) = await nodes.workers(store, 3.0)
    assert run["state"] == "stopped" and run["held"] == 0
    await store.close()


async def test_a_drain_sent_as_the_engine_starts_listening_is_heard_without_a_beat(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drain whose wake-up came after the engine's first beat and before it listened
    reached no one, and a clock that stands still brings no next beat (a CI run waited
    30 s for it): the heartbeat looks again once the engine listens."""
    settings = settings.model_copy(update={"node_name": "phone", "lease_seconds": 300.0})
    clock = ManualClock()
    store = await Store.open(settings.database, clock=clock.now)
    engine = Engine(store, settings, clock=clock)
    listen = engine._listen

    async def drained_first() -> Any:
        await nodes.drain(store, "phone")  # its wake-up: nobody listens yet
        return await listen()

    monkeypatch.setattr(engine, "_listen", drained_first)
    running = asyncio.create_task(engine.run())
    try:
        await eventually(lambda: _draining(engine), "the drain heard", within=30)
    finally:
        engine.stop()
        await running
    await store.close()


async def _polls(clock: ManualClock, settings: Settings, polls: int) -> None:
    """``polls`` of every worker's poll, each worker back at its wait after them: what
    they would have taken by then, they have."""
    await engine_idle(clock, settings)
    await clock.advance(polls * settings.poll_seconds)
    await engine_idle(clock, settings)


async def _has_run(store: Store) -> bool:
    return bool(await store.node_runs())


async def _none(count: list[int]) -> bool:
    return count[0] == 0


async def _draining(engine: Engine) -> bool:
    return engine.ctx.run.draining


async def _done(store: Store, job_id: int) -> bool:
    return (await store.get_job(job_id)).state is JobState.DONE


@pytest.mark.slow  # about 15 CLI processes in a row: 24 s
def test_the_cli_lists_workers_and_drains_by_name(tmp_path: Path) -> None:
    from tests.support.webserve import web_env

    env = web_env(tmp_path / "data", FERRYMAN_NODE_NAME="box-1")
    make_photo_set(tmp_path / "in", 2)

    def ferryman(*args: str) -> subprocess.CompletedProcess[str]:
        return forked.run([*args], env=env, capture_output=True, text=True)

    empty = ferryman("workers")
    assert empty.returncode == 0 and "no worker has run" in empty.stdout
    assert str(tmp_path / "data" / "ferryman.db") in empty.stdout  # which store it read
    assert ferryman("add", str(tmp_path / "in")).returncode == 0
    assert ferryman("run", "--until-idle").returncode == 0
    listed = ferryman("workers")
    assert listed.returncode == 0 and "box-1" in listed.stdout and "stopped" in listed.stdout
    (run,) = json.loads(ferryman("workers", "--json").stdout)
    assert run["node"] == "box-1" and run["state"] == "stopped"
    unknown = ferryman("drain", "nobody")
    assert unknown.returncode == 1 and "node.unknown" in unknown.stderr
    drained = ferryman("drain", "box-1")  # not running: it is drained for its next start
    assert drained.returncode == 0 and "box-1 is drained: it is not running" in drained.stdout
    assert "stopped (drained)" in ferryman("workers").stdout
    assert ferryman("drain", "box-1", "--undo").returncode == 0
    assert "(drained)" not in ferryman("workers").stdout

    # --node-name is over the setting, and a name that could not be typed back is refused.
    assert ferryman("add", str(tmp_path / "in"), "--force").returncode == 0
    assert ferryman("run", "--until-idle", "--node-name", "box-2").returncode == 0
    names = {run["node"] for run in json.loads(ferryman("workers", "--json").stdout)}
    assert names == {"box-1", "box-2"}
    bad = ferryman("run", "--until-idle", "--node-name", "box 3")
    assert bad.returncode == 4 and "config.invalid" in bad.stderr and "node_name" in bad.stderr


async def test_a_node_drained_mid_delivery_does_not_chain_the_next_album(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery's record claims the next album; not on a drained node, which finishes
    the album it holds and takes nothing new."""
    from ferryman.sinks.library import LibrarySink

    settings = settings.model_copy(
        update={"node_name": "phone", "lease_seconds": 3.0, "backlog_items": 1000}
    )
    clock = ManualClock()
    store = await Store.open(settings.database, clock=clock.now)
    engine = Engine(store, settings, clock=clock)
    read = asyncio.Event()
    engine.bus.subscribe(lambda e: read.set() if isinstance(e, JobReadDone) else None)
    deliver = LibrarySink.deliver
    delivered: list[int] = []

    async def drained_first(sink: LibrarySink, delivery: Any) -> Any:
        if not delivered:
            await read.wait()  # every album is sealed before the first one goes
            await nodes.drain(store, "phone")
            await eventually(lambda: _draining(engine), "the engine drained")
        delivered.append(delivery.album.seq)
        return await deliver(sink, delivery)

    monkeypatch.setattr(LibrarySink, "deliver", drained_first)
    job = await intake.add_source(store, make_photo_set(tmp_path / "in", 30)[0].parent)
    running = asyncio.create_task(engine.run())
    try:
        await eventually(lambda: _albums_delivered(store, job.id, 1), "album 1", within=30)
        await _polls(clock, settings, 20)  # wake-ups and 20 polls: nothing more is taken
        assert delivered == [1]
        assert await _albums_delivered(store, job.id, 1)
        assert (await nodes.workers(store, 3.0))[0]["held"] == 0
        await nodes.drain(store, "phone", on=False)
        await eventually(lambda: _done(store, job.id), "the job done", within=30)
        assert delivered == [1, 2, 3]
    finally:
        engine.stop()
        await running
    await store.close()


async def _albums_delivered(store: Store, job_id: int, count: int) -> bool:
    """``count`` albums of 10 delivered, no more."""
    items = await store.job_items(job_id)
    return sum(1 for it in items if it.state is ItemState.DELIVERED) == 10 * count


class _Outage:
    """The store's database engine, unreachable while ``down`` (a network gone away)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.down = False
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        if self.down and name in ("begin", "connect"):
            self.refused += 1
            raise OSError(113, "No route to host")
        return getattr(self.real, name)


async def test_an_engine_goes_on_after_its_store_was_unreachable(
    settings: Settings, tmp_path: Path
) -> None:
    """Longer than the settings' one-second cache: no loop of the engine may end on it
    (they did: the node stayed up, silent, its work taken over by others for good)."""
    settings = settings.model_copy(update={"node_name": "phone", "lease_seconds": 3.0})
    store = await Store.open(settings.database)
    outage, reads = _Outage(store.engine), _Outage(store.reader)
    real = store.engine, store.reader
    clock = JumpingClock()
    engine = Engine(store, settings, clock=clock)
    started = asyncio.Event()  # its loops running: the first beat comes before start-up's
    # last store reads, and an outage then ends the start (a CI run), not a loop
    engine.bus.subscribe(lambda e: started.set() if isinstance(e, EngineStarted) else None)
    running = asyncio.create_task(engine.run())
    try:
        await eventually(started.is_set, "the engine started")
        store.engine, store.reader = outage, reads  # type: ignore[assignment]
        outage.down = reads.down = True
        clock.jump(2.5)  # longer than the settings' cache: the outage outlasts it

        def refused() -> bool:  # polls every 0.05 s: every loop asks and is refused, and
            # the settings, read again, are unreadable (the last ones stand)
            return outage.refused + reads.refused > 10 and engine.ctx._live.unreadable

        await eventually(refused, "claims and the settings' read refused")
        outage.down = reads.down = False
        assert not running.done()
        beat_before = (await store.node_runs())[0].heartbeat_at
        job = await intake.add_source(store, make_photo_set(tmp_path / "in", 3)[0].parent)
        await eventually(lambda: _done(store, job.id), "the job done after the outage", within=30)
        await eventually(
            lambda: _beat_after(store, beat_before), "a heartbeat after the outage", within=10
        )
    finally:
        engine.stop()
        await running
    store.engine, store.reader = real
    await store.close()


async def _beat_after(store: Store, before: float) -> bool:
    return (await store.node_runs())[0].heartbeat_at > before


async def test_a_drain_is_heard_at_once_not_at_the_next_heartbeat(
    settings: Settings, tmp_path: Path
) -> None:
    """Beats every 100 s of a clock that stands still here; a drain must still stop
    claims within moments (a trial saw a node unpack two jobs added right after its
    drain), and an undo restart them. So the drain heard and the job done at all, within
    the 30 s a loaded machine is given, show both came at once, not at a beat (no
    "within 2 s" bound to meet)."""
    settings = settings.model_copy(update={"node_name": "phone", "lease_seconds": 300.0})
    clock = ManualClock()
    store = await Store.open(settings.database, clock=clock.now)
    engine = Engine(store, settings, clock=clock)
    running = asyncio.create_task(engine.run())
    try:
        await eventually(lambda: _has_run(store), "the engine beat")
        await engine_idle(clock, settings)  # past its first beat: the next is 100 s away
        await nodes.drain(store, "phone")
        await eventually(lambda: _draining(engine), "the drain heard")
        job = await intake.add_source(store, make_photo_set(tmp_path / "in", 2)[0].parent)
        await _polls(clock, settings, 20)  # wake-ups and 20 polls: a drained node takes nothing
        assert (await store.get_job(job.id)).state is JobState.QUEUED
        await nodes.drain(store, "phone", on=False)
        await eventually(lambda: _done(store, job.id), "the job done after the undo")
    finally:
        engine.stop()
        await running
    with pytest.raises(FerrymanError) as unknown:
        await nodes.drain(store, "tablet", on=False)  # an undo names a real node too
    assert unknown.value.code == "node.unknown" and "known: phone" in unknown.value.message
    await store.close()


async def test_a_drain_outlives_its_nodes_rows_being_pruned(store: Store) -> None:
    """A drained node's rows go after a day; draining it again then says node.unknown,
    and must not take away the drain that is kept (it did: the node took work again)."""
    from sqlalchemy import delete, select

    from ferryman.store.schema import drains
    from ferryman.store.schema import nodes as node_rows

    await store.node_beat("a:1:x", "alpha", 11, ("fetch",))
    await nodes.drain(store, "alpha")
    async with store.engine.begin() as conn:
        await conn.execute(delete(node_rows))
    with pytest.raises(FerrymanError) as unknown:
        await nodes.drain(store, "alpha")
    assert unknown.value.code == "node.unknown"
    async with store.engine.connect() as conn:
        kept = (await conn.execute(select(drains.c.node))).scalars().all()
    assert kept == ["alpha"]
    assert await store.node_beat("a:2:y", "alpha", 12, ("fetch",)) is True  # still drained
    await nodes.drain(store, "alpha", on=False)  # an undo finds the kept drain: no error


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timing  # a wall-clock bound: the server's 1 s idle bound, not TCP's minutes
async def test_a_node_frozen_mid_transaction_does_not_hold_the_others_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node whose link froze inside a transaction holds row locks on the server. The
    others' housekeeping (handing back lapsed leases) updates those rows: without the
    server's idle-in-transaction bound it would wait as long as TCP takes to give up."""
    url = store_url("postgres", tmp_path)
    await _reset_postgres(url)
    monkeypatch.setattr(connect, "IDLE_IN_TRANSACTION_MS", 1000)
    clock = ManualClock()
    frozen, other = await Store.open(url, clock=clock.now), await Store.open(url, clock=clock.now)
    try:
        photos = make_photo_set(tmp_path / "in", 1)
        job = await intake.add_source(frozen, photos[0].parent)
        assert (await frozen.claim_job("frozen:1:x", 0.5)) is not None
        conn = await frozen.engine.connect()
        await conn.begin()
        # what recording a batch does first: the job's row, locked until the commit
        await conn.execute(update(jobs).where(jobs.c.id == job.id).values(cursor=jobs.c.cursor))
        await clock.advance(0.6)  # the lease lapses; the commit never comes

        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(other.reap(), 15) == 1
        assert asyncio.get_running_loop().time() - started < 8
        claimed = await other.claim_job("other:2:y", 30)
        assert claimed is not None and claimed.id == job.id

        with pytest.raises(Exception, match=r"idle-in-transaction|terminat|closed"):
            await conn.execute(text("SELECT 1"))  # the server ended the frozen session
        await conn.invalidate()
    finally:
        await frozen.close()
        await other.close()
