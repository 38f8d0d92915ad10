"""One slow download holds nothing up: a quick link is delivered while a trickling one
still downloads (the engine, a loopback server), and a job in line says where it stands
(the API and the page, `ferryman web` in a child process)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import Settings
from ferryman.engine.ops import control, intake
from ferryman.engine.plumbing.events import Event, JobFinished, JobResumed, JobStarted
from ferryman.engine.runner import Engine
from ferryman.samples import make_photo_set
from ferryman.sinks.builtin import default_sinks
from ferryman.store import Store
from tests.support import forked
from tests.support.browser import CHROMIUM, DESKTOP, chromium
from tests.support.clock import ManualClock, driven
from tests.support.engine_helpers import library_files
from tests.support.httpserve import Faults, FaultServer, serving
from tests.support.memsink import MemKind
from tests.support.waiting import eventually_sync
from tests.support.webserve import running_web

SLOW_BYTES = 400_000
SLOW_RATE = 20_000.0  # bytes/s: the slow download takes 20 s


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FaultServer]:
    """Two quick photos and a slow file (noise: 20 s at its pace)."""
    with serving() as started:
        for n, photo in enumerate(make_photo_set(tmp_path / "photos", 2)):
            started.add(f"/quick{n}.jpg", photo.read_bytes(), content_type="image/jpeg")
        started.add(
            "/slow.jpg",
            os.urandom(SLOW_BYTES),
            content_type="image/jpeg",
            faults=Faults(trickle=SLOW_RATE),
        )
        yield started


async def test_a_quick_link_is_delivered_while_a_slow_download_goes_on(
    settings: Settings, server: FaultServer
) -> None:
    concurrency = settings.concurrency.model_copy(update={"fetch": 3})  # off a phone
    settings = settings.model_copy(update={"concurrency": concurrency})
    store = await Store.open(settings.database)
    engine = Engine(store, settings)
    finished = asyncio.Event()
    quick_ids: set[int] = set()

    def heard(event: Event) -> None:
        if isinstance(event, JobFinished) and event.job_id in quick_ids:
            quick_ids.discard(event.job_id)
            if not quick_ids:
                finished.set()

    engine.bus.subscribe(heard)
    running = asyncio.create_task(engine.run())
    try:
        slow = await intake.add_source(store, server.url("/slow.jpg"))  # claimed first
        for n in range(2):
            quick_ids.add((await intake.add_source(store, server.url(f"/quick{n}.jpg"))).id)
        await asyncio.wait_for(finished.wait(), 60)
        # Both quick ones are in the library, and the slow one is still on its way.
        assert server.served["/slow.jpg"] < SLOW_BYTES
        fetch = await store.fetched(slow.id)
        assert fetch is not None and fetch.state == "fetching"
        delivered = library_files(settings.library)
        assert len(delivered) == 2
        await control.cancel_job(store, slow.id)
    finally:
        engine.stop()
        await asyncio.wait_for(running, 60)
        await store.close()


def _in_line(client: Any, job_id: int, wanted: Any, within: float = 30) -> dict[str, Any]:
    """The job's view once its place is ``wanted`` (places are read a moment apart)."""
    seen: list[dict[str, Any]] = [{}]

    def placed() -> dict[str, Any] | None:
        seen[0] = client.get(f"/api/v1/jobs/{job_id}").json()
        return seen[0] if seen[0].get("in_line") == wanted else None

    try:
        return eventually_sync(placed, f"job {job_id} in line {wanted}", within=within, every=0.1)
    except AssertionError:
        raise AssertionError(seen[0]) from None


def _slow_then_two_quick(client: Any, server: FaultServer) -> list[int]:
    """Three link jobs, the slow one's download under way before the quick two are added
    (added together, a quick one could be claimed first on a busy machine)."""
    ids = []
    for path in ("/slow.jpg", "/quick0.jpg", "/quick1.jpg"):
        made = client.post("/api/v1/jobs", json={"source": server.url(path)})
        assert made.status_code == 202, made.text
        ids.append(int(made.json()["id"]))
        if path == "/slow.jpg":
            eventually_sync(lambda: server.served["/slow.jpg"], "the slow download begun")
    return ids


@pytest.mark.slow
def test_a_job_in_line_says_how_many_downloads_are_ahead(
    tmp_path: Path, server: FaultServer
) -> None:
    """One download at a time (a phone's default, set here): the slow one downloads,
    the two quick links wait, the second with two downloads ahead of it."""
    data = tmp_path / "data"
    with running_web(data, FERRYMAN_CONCURRENCY__FETCH="1") as web, web.client() as client:
        slow, first, second = ids = _slow_then_two_quick(client, server)
        assert _in_line(client, slow, None)["status"] == "queued"  # downloading: not in line
        _in_line(client, first, {"reason": "downloads", "ahead": 1})
        view = _in_line(client, second, {"reason": "downloads", "ahead": 2})
        assert view["status"] == "queued" and view["waiting"] is None
        for job_id in ids:
            client.post(f"/api/v1/jobs/{job_id}/cancel")
        assert web.wait_for(second, ("cancelled",))["in_line"] is None
        assert server.served["/slow.jpg"] < SLOW_BYTES  # it was in line all along


@pytest.fixture
def page() -> Iterator[Any]:
    """A page in Debian's Chromium (as tests/browser/test_web_page.py drives it)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at " + CHROMIUM)
    with chromium() as browser:
        yield browser.new_context(viewport=DESKTOP).new_page()


@pytest.mark.slow
def test_the_page_shows_a_queued_job_s_place(
    tmp_path: Path, server: FaultServer, page: Any
) -> None:
    data = tmp_path / "data"
    with running_web(data, FERRYMAN_CONCURRENCY__FETCH="1") as web, web.client() as client:
        ids = _slow_then_two_quick(client, server)
        page.goto(web.base)
        card = page.locator(f'li[data-job="{ids[2]}"]')
        from playwright.sync_api import expect

        expect(card).to_contain_text("waiting: 2 downloads ahead", timeout=20_000)
        expect(page.locator(f'li[data-job="{ids[1]}"]')).to_contain_text(
            "waiting: 1 download ahead", timeout=20_000
        )
        for job_id in ids:
            client.post(f"/api/v1/jobs/{job_id}/cancel")
        expect(card).not_to_contain_text("waiting:", timeout=20_000)


async def test_a_read_waiting_for_deliveries_lets_a_small_job_through(
    tmp_path: Path, settings: Settings
) -> None:
    """A 12-photo folder whose first album the destination holds back (a wait it asks
    for) fills its backlog: its read gives its turn, so a one-photo job added after it
    is read and delivered meanwhile. The big one then resumes where it was and every
    photo arrives once; it was started once (a resumed claim is not a second start).
    The engine and the store on one ``ManualClock``: the 15 s wait passes when the
    clock is moved past it, not in real time."""
    photos = make_photo_set(tmp_path / "big", 12)
    make_photo_set(tmp_path / "small", 1, start_seed=100)
    mem = MemKind(album_max=4, waits=[15])
    sinks = default_sinks().with_kind(mem)
    settings = settings.model_copy(update={"backlog_items": 2})
    clock = ManualClock(start=time.time())  # the engine's and the store's
    store = await Store.open(settings.database, clock=clock.now)
    engine = Engine(store, settings, sinks=sinks, clock=clock)
    ended: dict[int, str] = {}
    small_done = asyncio.Event()
    big_done = asyncio.Event()
    delivered_when_small_ended: list[int] = []
    big_id = small_id = -1
    started: list[int] = []
    resumed: list[int] = []

    def heard(event: Event) -> None:
        if isinstance(event, JobStarted):
            started.append(event.job_id)
        if isinstance(event, JobResumed):
            resumed.append(event.job_id)
        if isinstance(event, JobFinished):
            ended[event.job_id] = event.state
            if event.job_id == small_id:
                delivered_when_small_ended.append(sum(len(a.files) for a in mem.albums.values()))
                small_done.set()
            if event.job_id == big_id:
                big_done.set()

    engine.bus.subscribe(heard)
    running = asyncio.create_task(engine.run())
    try:
        big = await intake.add_source(store, tmp_path / "big", dest="mem:box", sinks=sinks)
        big_id = big.id

        async def backlog_full() -> bool:
            return await store.on_disk(big.id) >= 2

        await driven(clock, settings, backlog_full, "the big job's backlog full")
        small = await intake.add_source(store, tmp_path / "small")
        small_id = small.id
        await driven(clock, settings, small_done.is_set, "the small job ended")
        assert ended[small.id] == "done" and len(library_files(settings.library)) == 1
        assert delivered_when_small_ended == [0]  # the big one's first album still waits
        await driven(clock, settings, big_done.is_set, "the big job ended", step=1.0)
        assert ended[big.id] == "done"
        names = sorted(f.source_path for a in mem.albums.values() for f in a.files)
        assert names == sorted(p.name for p in photos)  # each once
        assert sorted(started) == sorted([big.id, small.id])  # one start each
        assert big.id in resumed  # its turn given, then taken again
    finally:
        engine.stop()
        await asyncio.wait_for(running, 60)
        await store.close()


@pytest.mark.parametrize(
    ("env", "fetch", "said"),
    [
        ({}, 3, "default here: not a phone"),
        ({"TERMUX_VERSION": "0.118.0"}, 1, "default here: on a phone"),
        ({"FERRYMAN_CONCURRENCY__FETCH": "2"}, 2, "as set"),
    ],
)
def test_doctor_says_how_many_downloads_run_at_once_and_why(
    tmp_path: Path, env: dict[str, str], fetch: int, said: str
) -> None:
    plain = {k: v for k, v in os.environ.items() if k not in ("TERMUX_VERSION", "PREFIX")}
    command = ["--data-dir", str(tmp_path), "doctor"]
    done = forked.run(
        [*command, "--json"], capture_output=True, text=True, env=plain | env, timeout=120
    )
    found = json.loads(done.stdout)["downloads_at_once"]
    assert found["fetch"] == fetch and said in found["why"]
    shown = forked.run(command, capture_output=True, text=True, env=plain | env, timeout=120)
    assert f"downloads at once: {fetch} (" in shown.stdout
