"""A job's magnet is added to its debrid service once, however many workers fetch it at
once: two on one machine (the fetch folder's lock), two nodes sharing one store (the
store's claim, ``store/fetches/calls``), one that takes over the claim a killed node left
(the service's items asked first). The race is made, not waited for: the fake service
holds the first add on its way (``fakedebrid.Gate``) until the second worker is where
it must wait."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.ops import nodes as node_ops
from ferryman.engine.plumbing import once_calls
from ferryman.engine.plumbing.once_calls import StoreCalls
from ferryman.engine.runner import Engine
from ferryman.errors import ServerWait
from ferryman.model import JobState
from ferryman.net import abort
from ferryman.samples import make_photo_set
from ferryman.sources.base import Fetched, FetchPlan, OnceCalls
from ferryman.sources.magnet import ITEM, MagnetSource
from ferryman.store import Store
from ferryman.store.memory.store import MemoryStore
from ferryman.store.schema import fetches
from tests.sources.test_debrid_source import KINDS, cdn, with_service
from tests.support.clock import ManualClock
from tests.support.engine_helpers import library_files
from tests.support.fakedebrid import FakeDebrid, Gate, Torrent, debrid_serving
from tests.support.httpserve import FaultServer
from tests.support.two_nodes import Stores, nodes, own_database
from tests.support.waiting import eventually

__all__ = ["cdn", "nodes"]


def _torrent() -> Torrent:
    return Torrent("Trip 2024", [("Trip 2024/notes.txt", b"the trip's notes\n", "text/plain")])


def _magnet(digest: str) -> str:
    return f"magnet:?xt=urn:btih:{digest}&dn=Trip%202024"


def _plan(folder: Path, settings: Settings, once: OnceCalls | None = None) -> FetchPlan:
    return FetchPlan(
        folder=folder,
        network=settings.network,
        retry=settings.retry,
        client=lambda: None,  # type: ignore[arg-type,return-value]
        settings=settings,
        once=once,
    )


def _kept(folder: Path) -> str:
    return str(json.loads((folder / "debrid.json").read_text())["item"])


def _waits_for_lock(lock: Path) -> bool:
    """Whether a process waits for an ``flock`` on ``lock`` now (the kernel's own list,
    ``/proc/locks``: a waiter's line is marked ``->``)."""
    inode = str(os.stat(lock).st_ino)
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        waiter = "->" in fields and "FLOCK" in fields
        if waiter and any(f.count(":") == 2 and f.rsplit(":", 1)[1] == inode for f in fields):
            return True
    return False


@pytest.fixture(params=KINDS)
def fake(request: pytest.FixtureRequest, cdn: FaultServer) -> Iterator[FakeDebrid]:
    with debrid_serving(request.param, cdn) as served:
        served.gate = Gate()
        yield served


async def test_two_workers_on_one_machine_add_a_jobs_magnet_once(
    fake: FakeDebrid, settings: Settings, tmp_path: Path
) -> None:
    """The second waits at the fetch folder's lock while the first's add is on its way,
    then finds the first one's item kept: one add, one item for both."""
    digest = secrets.token_hex(20)
    fake.swarm[digest] = _torrent()
    plan = _plan(tmp_path / "fetch", with_service(settings, fake))
    source = MagnetSource()
    assert fake.gate is not None
    first = asyncio.create_task(source.fetch(_magnet(digest), plan))
    assert await asyncio.to_thread(fake.gate.arrived.wait, 30)
    second = asyncio.create_task(source.fetch(_magnet(digest), plan))
    lock = plan.folder / ".adding.lock"
    await eventually(lambda: _waits_for_lock(lock), "the second worker waiting at the lock")
    assert fake.added() == 0  # the first add is still held on its way
    fake.gate.release.set()
    one, two = await asyncio.gather(first, second)
    assert fake.added() == 1
    assert len(fake.items) == 1
    (item,) = fake.items
    assert _kept(plan.folder) == item
    assert one.name == two.name == "Trip 2024"


@pytest.mark.parametrize("kind", ["alldebrid", "premiumize"])
async def test_two_nodes_sharing_a_store_add_a_jobs_magnet_once(
    kind: str,
    cdn: FaultServer,
    nodes: tuple[Stores, Stores, ManualClock],
    settings: Settings,
    tmp_path: Path,
) -> None:
    """Node B took the fetch over while node A's add was on its way (A's lease lost to a
    stall): B's folder has nothing kept, and the service does not list the item yet. B
    finds A's claim in the store and waits (``debrid.adding``), without a call to the
    service; once A's add is kept, B goes on with A's item."""
    one, two, clock = nodes
    digest = secrets.token_hex(20)
    with debrid_serving(kind, cdn) as fake:
        fake.swarm[digest], fake.gate = _torrent(), Gate()
        configured = with_service(settings, fake)
        job = await intake.add_source(one, _magnet(digest), settings=configured)
        a = _plan(tmp_path / "a" / "fetch", configured, StoreCalls(one, job.id, "a:1:x", clock, 60))
        b = _plan(tmp_path / "b" / "fetch", configured, StoreCalls(two, job.id, "b:2:y", clock, 60))
        first = asyncio.create_task(MagnetSource().fetch(_magnet(digest), a))
        assert await asyncio.to_thread(fake.gate.arrived.wait, 30)
        calls = sum(fake.calls.values())
        node_b = MagnetSource()
        with pytest.raises(ServerWait) as waits:
            await node_b.fetch(_magnet(digest), b)
        assert waits.value.code == "debrid.adding"
        assert sum(fake.calls.values()) == calls  # B asked the service nothing
        fake.gate.release.set()
        got_a = await first
        got_b = await node_b.fetch(_magnet(digest), b)
        assert fake.added() == 1
        (item,) = fake.items
        assert _kept(a.folder) == _kept(b.folder) == item
        assert got_a.name == got_b.name == "Trip 2024"
        memos = await two.source_memos(job.id)
        assert json.loads(memos[ITEM])["item"] == item
        assert ITEM + ".claim" not in memos  # the claim ended with the add


async def test_a_claim_a_killed_node_left_is_taken_over_after_its_hold_and_the_item_found(
    cdn: FaultServer, nodes: tuple[Stores, Stores, ManualClock], settings: Settings, tmp_path: Path
) -> None:
    """A node killed mid-add leaves its claim, and maybe an item at the service. Until
    the claim's hold runs out the other node waits; then it takes the claim over, asks
    the service first, and finds the item by its hash: no second add."""
    one, two, clock = nodes
    digest = secrets.token_hex(20)
    with debrid_serving("alldebrid", cdn) as fake:
        fake.swarm[digest] = _torrent()
        configured = with_service(settings, fake)
        job = await intake.add_source(one, _magnet(digest), settings=configured)
        await one.claim_call(job.id, ITEM, "killed:1:x", 60)
        there = fake.add(digest, _magnet(digest))  # the killed node's add had reached it
        b = _plan(tmp_path / "b" / "fetch", configured, StoreCalls(two, job.id, "b:2:y", clock, 60))
        with pytest.raises(ServerWait) as waits:
            await MagnetSource().fetch(_magnet(digest), b)
        assert waits.value.code == "debrid.adding"
        await clock.advance(61)
        got = await MagnetSource().fetch(_magnet(digest), b)
        assert fake.added() == 0
        assert _kept(b.folder) == there.id
        assert got.name == "Trip 2024"
        assert json.loads((await two.source_memos(job.id))[ITEM])["item"] == there.id


@pytest.mark.postgres
@pytest.mark.slow  # two engines through a whole job: some seconds
async def test_two_engines_on_postgresql_one_losing_its_fetch_mid_add_add_the_magnet_once(
    cdn: FaultServer, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engine A's add is on its way when its fetch is handed back (its lease lapsed: a
    stall) and engine B, another node with its own fetch folder, claims it. A's step is
    cut as its lease is found lost (its socket shut, the add's outcome unknown to it),
    while the service still makes the add. B waits (``debrid.adding``) for A's claim:
    A's item kept, or the claim run out and the account searched first. One add, the
    job done, each file delivered once. The claim's hold is cut short (4 s) to keep the
    test short; A, drained, claims nothing more."""
    monkeypatch.setattr(once_calls, "MIN_HOLD", 3.0)  # hold: four 1 s leases
    digest = secrets.token_hex(20)
    photos = make_photo_set(tmp_path / "p", 2, size=(96, 72))
    files = [(f"Trip 2024/{p.name}", p.read_bytes(), "image/jpeg") for p in photos]
    async with own_database("postgres", tmp_path) as url:
        await _two_engines_one_add(cdn, settings, tmp_path, url, digest, photos, files)


async def _two_engines_one_add(
    cdn: FaultServer,
    settings: Settings,
    tmp_path: Path,
    url: str,
    digest: str,
    photos: list[Path],
    files: list[tuple[str, bytes, str]],
) -> None:
    with debrid_serving("alldebrid", cdn) as fake:
        fake.swarm[digest], fake.gate = Torrent("Trip 2024", files), Gate()
        on = with_service(settings, fake).model_copy(update={"database": url, "lease_seconds": 1})
        node_a = on.model_copy(update={"data_dir": tmp_path / "a", "node_name": "a"})
        node_b = on.model_copy(update={"data_dir": tmp_path / "b", "node_name": "b"})
        store_a, store_b = await Store.open(url), await Store.open(url)
        engine_a, engine_b = Engine(store_a, node_a), Engine(store_b, node_b)
        running = [asyncio.create_task(engine_a.run())]
        try:
            job = await intake.add_source(store_a, _magnet(digest), settings=on)
            assert await asyncio.to_thread(fake.gate.arrived.wait, 30)  # A's add on its way
            await node_ops.drain(store_a, "a")
            await eventually(lambda: engine_a.ctx.run.draining, "engine A drained")
            async with store_a.engine.begin() as conn:  # its lease lapsed, handed back
                await conn.execute(
                    update(fetches)
                    .where(fetches.c.job_id == job.id)
                    .values(state="queued", owner=None, lease_until=None)
                )
            running.append(asyncio.create_task(engine_b.run()))

            async def waits_for_the_add() -> bool:
                return (await store_b.get_job(job.id)).wait_reason == "debrid.adding"

            await eventually(waits_for_the_add, "engine B waiting for A's add", within=30)
            assert fake.added() == 0
            fake.gate.release.set()

            async def done() -> bool:
                return (await store_b.get_job(job.id)).state is JobState.DONE

            await eventually(done, "the job done by engine B", within=60)
            kept = json.loads((await store_b.source_memos(job.id))[ITEM])["item"]
        finally:
            fake.gate.release.set()
            for engine in (engine_a, engine_b):
                engine.stop()
            await asyncio.gather(*running)
            await store_a.close()
            await store_b.close()
        assert fake.added() == 1
        (item,) = fake.items
        assert kept == item  # B went on with A's item
        wanted = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in photos)
        assert sorted(e["disk_sha256"] for e in library_files(node_b.library)) == wanted


async def test_an_add_cut_on_its_way_holds_every_worker_off_until_its_claim_runs_out(
    cdn: FaultServer, settings: Settings, tmp_path: Path
) -> None:
    """A lost lease cuts its step's sockets (``net.abort``): the worker's add fails, yet
    the service got it and makes it. The fetch folder's lock is free again, nothing is
    kept; the next worker (this machine's, with the same owner) must not add: it waits
    for the claim to run out, then finds the item by its hash."""
    clock = ManualClock()
    store = MemoryStore(clock=clock.now)
    digest = secrets.token_hex(20)
    with debrid_serving("alldebrid", cdn) as fake:
        fake.swarm[digest], fake.gate = _torrent(), Gate()
        configured = with_service(settings, fake)
        job = await intake.add_source(store, _magnet(digest), settings=configured)
        plan = _plan(tmp_path / "fetch", configured, StoreCalls(store, job.id, "a:1:x", clock, 60))
        cut = abort.Abort()

        async def cut_short() -> Fetched:
            abort.current.set(cut)  # as the fetch stage's step sets it (``until_stopped``)
            return await MagnetSource().fetch(_magnet(digest), plan)

        first = asyncio.create_task(cut_short())
        assert await asyncio.to_thread(fake.gate.arrived.wait, 30)
        cut.trigger()  # the lease found lost: the step's sockets shut
        with pytest.raises(BaseException):  # noqa: B017  (its socket's error, or Aborted)
            await first
        fake.gate.release.set()
        await eventually(lambda: fake.added() == 1, "the service making the cut add")
        source = MagnetSource()
        with pytest.raises(ServerWait) as waits:
            await source.fetch(_magnet(digest), plan)
        assert waits.value.code == "debrid.adding"
        await clock.advance(61)
        got = await source.fetch(_magnet(digest), plan)
        assert fake.added() == 1
        (item,) = fake.items
        assert _kept(plan.folder) == item
        assert got.name == "Trip 2024"
