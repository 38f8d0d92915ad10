"""An engine's start and stop, as short as their records allow.

- The first claims go in turns, one worker of each stage at a time: they queue for the
  store's writer, and started pool by pool, a job to read waited at every start behind
  the fetch pool's three claims (0.03-0.1 s: the first of each kind of claim builds its
  statement), though nothing was to be fetched.
- The reap and the heartbeat are recorded beside the work area's sweep, not before or
  after it.
- A stop hands the leases back while the sinks close (a Telegram client disconnects and
  saves its session): the two waited for each other's commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import load_settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.events import JobFinished, JobReadDone
from ferryman.engine.plumbing.wakeup import Wakeup
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.samples import make_photo
from ferryman.sinks.base import Delivered, Delivery, Sink, SinkEnv
from ferryman.sinks.builtin import default_sinks
from ferryman.store import Store
from tests.support.memsink import MemKind, MemSink
from tests.support.waiting import eventually


async def test_a_job_to_read_is_claimed_before_the_second_fetch_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims: list[str] = []
    claim_fetch, claim_job = Store.claim_fetch, Store.claim_job

    async def fetch(self: Store, *args: Any, **kwargs: Any) -> Any:
        claims.append("fetch")
        return await claim_fetch(self, *args, **kwargs)

    async def job(self: Store, *args: Any, **kwargs: Any) -> Any:
        claims.append("job")
        return await claim_job(self, *args, **kwargs)

    monkeypatch.setattr(Store, "claim_fetch", fetch)
    monkeypatch.setattr(Store, "claim_job", job)
    kind = MemKind()
    sinks = default_sinks().with_kind(kind)
    settings = load_settings(
        None,
        {"data_dir": tmp_path / "data", "space_floor": 0, "concurrency": {"fetch": 3}},
    )
    folder = tmp_path / "in"
    folder.mkdir()
    make_photo(folder / "p.jpg", 1, size=(32, 24))
    store = await Store.open(settings.database)
    try:
        await intake.add_source(store, folder, dest="mem:box", sinks=sinks)
        await asyncio.wait_for(Engine(store, settings, sinks=sinks).run(until_idle=True), 60)
    finally:
        await store.close()

    assert len(kind.albums) == 1
    assert claims[:2] == ["fetch", "job"]  # before: fetch, fetch, fetch, then the job


class _SlowClose:
    """A sink's resource whose close lasts until the leases were handed back (or 10 s)."""

    def __init__(self, released: list[str]) -> None:
        self.released = released
        self.saw: list[str] = []

    async def close(self) -> None:
        with contextlib.suppress(AssertionError):  # before: they came after the close
            await eventually(lambda: self.released, "the leases handed back", within=10)
        self.saw = list(self.released)


async def test_a_stop_hands_the_leases_back_while_the_sinks_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released: list[str] = []
    release = Store.release

    async def hand_back(self: Store, owner: str | None) -> int:
        released.append(str(owner))
        return await release(self, owner)

    monkeypatch.setattr(Store, "release", hand_back)
    settings = load_settings(None, {"data_dir": tmp_path / "data", "space_floor": 0})
    store = await Store.open(settings.database)
    try:
        engine = Engine(store, settings)
        slow = engine.ctx.resources.get("test.slow", lambda: _SlowClose(released))
        await asyncio.wait_for(engine.run(until_idle=True), 60)
    finally:
        await store.close()

    assert slow.saw == [engine.ctx.owner]


async def test_the_starts_reap_and_heartbeat_go_beside_the_work_areas_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep reads the store and walks the work area; the reap and the heartbeat
    are commits (fsyncs): one after the other, each start waited for all three in turn."""
    beats: list[str] = []
    swept: list[list[str]] = []  # what the sweep's read saw begun: the heartbeat
    reaped: list[bool] = []  # whether the reap saw the sweep begin before it ended
    node_beat, work_paths, reap = Store.node_beat, Store.work_paths, Store.reap

    async def beat(self: Store, *args: Any, **kwargs: Any) -> Any:
        beats.append("beat")
        return await node_beat(self, *args, **kwargs)

    async def paths(self: Store) -> Any:
        if not swept:
            with contextlib.suppress(AssertionError):  # before: the beat came after it
                await eventually(lambda: beats, "the heartbeat", within=10)
            swept.append(list(beats))
        return await work_paths(self)

    async def reap_beside(self: Store) -> int:
        if not reaped:
            with contextlib.suppress(AssertionError):  # before: the sweep came after it
                await eventually(lambda: swept, "the sweep", within=10)
            reaped.append(bool(swept))
        return await reap(self)

    monkeypatch.setattr(Store, "node_beat", beat)
    monkeypatch.setattr(Store, "work_paths", paths)
    monkeypatch.setattr(Store, "reap", reap_beside)
    settings = load_settings(None, {"data_dir": tmp_path / "data", "space_floor": 0})
    store = await Store.open(settings.database)
    try:
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 60)
    finally:
        await store.close()

    assert swept == [["beat"]]
    assert reaped == [True]


@dataclass(slots=True)
class _AfterTheRead(MemKind):
    """Delivers once the housekeeper sleeps (polls 30 s apart) after the job's read ended:
    only the delivery's own wake-up can end the job then."""

    asleep: asyncio.Event = field(default_factory=asyncio.Event)

    def open(self, target: str, env: SinkEnv) -> Sink:
        return _AfterTheReadSink(self, target, env.policy.caption_chars)


class _AfterTheReadSink(MemSink):
    async def deliver(self, delivery: Delivery) -> Delivered:
        assert isinstance(self.kind, _AfterTheRead)
        await asyncio.wait_for(self.kind.asleep.wait(), 30)
        return await MemSink.deliver(self, delivery)


async def test_a_jobs_end_does_not_wait_for_its_last_albums_work_files_to_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The housekeeper was told a job's last album was out only once its work files were
    unlinked (a staged 1 GiB copy: 20-100 ms, more under load); now as it is recorded."""
    from ferryman.engine.deliver import step as deliver_step

    finished = threading.Event()
    ended_first: list[bool] = []
    remove = deliver_step.remove_files

    def remove_files(paths: list[str]) -> None:
        ended_first.append(finished.wait(10))  # before: the job ended after this only
        remove(paths)

    monkeypatch.setattr(deliver_step, "remove_files", remove_files)
    # A big album's path (a staged 1 GiB copy), not a photo's, which goes in its record's hop.
    monkeypatch.setattr(deliver_step, "REMOVE_IN_RECORD_MAX", 0)
    kind = _AfterTheRead()
    read_ended: list[bool] = []
    wait = Wakeup.wait

    async def housekeeper_wait(
        self: Wakeup, seconds: float, since: Any = None, topic: Any = None
    ) -> None:
        if topic == "housekeeper" and read_ended and since == self.mark(topic):
            kind.asleep.set()  # it sleeps until a wake-up
        await wait(self, seconds, since, topic)

    monkeypatch.setattr(Wakeup, "wait", housekeeper_wait)
    sinks = default_sinks().with_kind(kind)
    settings = load_settings(
        None, {"data_dir": tmp_path / "data", "space_floor": 0, "poll_seconds": 30}
    )
    folder = tmp_path / "in"
    folder.mkdir()
    make_photo(folder / "p.jpg", 1, size=(32, 24))
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, folder, dest="mem:box", sinks=sinks)
        engine = Engine(store, settings, sinks=sinks)

        def seen(event: object) -> None:
            if isinstance(event, JobReadDone):
                read_ended.append(True)
            if isinstance(event, JobFinished):
                finished.set()

        engine.bus.subscribe(seen)
        await asyncio.wait_for(engine.run(until_idle=True), 60)
        done = await store.get_job(job.id)
    finally:
        await store.close()

    assert len(kind.albums) == 1
    assert done.state is JobState.DONE
    assert ended_first == [True]


async def test_a_stop_hands_leases_back_while_the_last_big_work_file_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big album's work files (a staged 1 GiB copy: 0.1-1.7 s to unlink here) go on a
    thread beside the deliver worker's next claims: an engine that stops once idle hands
    its leases back meanwhile, and returns once they are gone."""
    from ferryman.engine.deliver import step as deliver_step

    released = threading.Event()
    released_first: list[bool] = []
    remove = deliver_step.remove_files

    def remove_files(paths: list[str]) -> None:
        released_first.append(released.wait(10))  # before: the stop waited for this first
        remove(paths)

    monkeypatch.setattr(deliver_step, "remove_files", remove_files)
    monkeypatch.setattr(deliver_step, "REMOVE_IN_RECORD_MAX", 0)  # a big album's path
    settings = load_settings(None, {"data_dir": tmp_path / "data", "space_floor": 0})
    folder = tmp_path / "in"
    folder.mkdir()
    make_photo(folder / "p.jpg", 1, size=(32, 24))
    store = await Store.open(settings.database)
    release = store.release

    async def release_told(owner: str | None) -> int:
        released.set()
        return await release(owner)

    monkeypatch.setattr(store, "release", release_told)
    sinks = default_sinks().with_kind(MemKind())
    try:
        job = await intake.add_source(store, folder, dest="mem:box", sinks=sinks)
        await asyncio.wait_for(Engine(store, settings, sinks=sinks).run(until_idle=True), 60)
        done = await store.get_job(job.id)
    finally:
        await store.close()

    assert done.state is JobState.DONE
    assert released_first == [True]
    work = settings.work_dir
    assert not work.exists() or not [p for p in work.rglob("*") if p.is_file()]
