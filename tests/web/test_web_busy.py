"""The API answers while the engine, in the same process, waits on slow servers: the app
on the test's store beside a running engine (httpx over ASGI), a watch's batch of zips
served on loopback by an origin that trickles (a few bytes a second, as the big feed's).

Before: each zip was probed where it lies (its central directory read by Range) on the
event loop's shared thread pool, where a trickling origin held a thread for minutes; a
watch's batch probes six inputs at once (twice the fetch workers), so one batch filled
the pool, and every quick blocking call queued behind it: ``POST /api/v1/jobs`` (its
link's check, ``understand``) got no answer until the downloads gave up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import httpx

from ferryman.config import Settings
from ferryman.engine.runner import Engine
from ferryman.model import Batch, BatchItem
from ferryman.store import Store
from ferryman.web.server import web_app
from tests.support.httpserve import Faults, FaultServer, serving
from tests.support.waiting import WITHIN, eventually

# The loop's shared pool, as small as a phone's (asyncio's own: cores + 4, up to 32), so
# that a batch of ZIPS probes fills it on any machine.
POOL = 4
ZIPS = POOL + 2  # one look's batch: window_of() probes six at once (three fetch workers)
TRICKLE = 8.0  # bytes/s: the first kilobyte of a range comes after two minutes


def _batch(server: FaultServer) -> Batch:
    """A look's job as a watch makes it (``store/watches/records``): one job of its
    entries, each a zip (by its bytes, its name and its type) on a trickling origin."""
    body = b"PK" + bytes(256 * 1024)
    for n in range(1, ZIPS + 1):
        server.add(
            f"/slow{n}.zip", body, content_type="application/zip", faults=Faults(trickle=TRICKLE)
        )
    items = tuple(BatchItem(server.url(f"/slow{n}.zip"), f"Drop {n}") for n in range(1, ZIPS + 1))
    return Batch("feed", items)


def _probing(server: FaultServer) -> int:
    """Zips whose central directory is being read (a Range GET in flight, none done)."""
    return sum(
        any(r.method == "GET" and "Range" in r.headers for r in server.requests_for(path))
        for path in server.resources
        if path.startswith("/slow")
    )


@contextlib.asynccontextmanager
async def _running(engine: Engine) -> AsyncIterator[None]:
    task = asyncio.create_task(engine.run(), name="engine")
    try:
        yield
    finally:
        engine.stop()  # its steps cut: the probes' sockets shut (``net.abort``)
        await asyncio.wait_for(task, WITHIN)


async def test_a_post_is_answered_while_a_watch_batch_probes_slow_zips(
    settings: Settings,
) -> None:
    shared = ThreadPoolExecutor(POOL, thread_name_prefix="shared")
    asyncio.get_running_loop().set_default_executor(shared)
    store = await Store.open(settings.database)
    try:
        with serving() as server:
            batch = _batch(server)
            made = await store.add_job(source=str(batch), name="feed", dest="library:", fetch=True)
            server.add("/quick.zip", b"PK" + bytes(1024), content_type="application/zip")
            engine = Engine(store, settings)
            async with (
                _running(engine),
                web_app(settings, store, engine.bus, lambda: True) as served,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
                ) as client,
            ):
                await eventually(lambda: _probing(server) >= POOL, "the batch's probes")
                added = await asyncio.wait_for(
                    client.post("/api/v1/jobs", json={"source": server.url("/quick.zip")}),
                    WITHIN,  # before: never, while the origin trickled (minutes)
                )
                assert added.status_code == 202, added.text
                still = await store.get_job(made.id)  # the batch is still being fetched
                assert not still.state.terminal, still
                slow = [path for path in server.resources if path.startswith("/slow")]
                assert not any(server.served[path] for path in slow)  # no probe got a byte
    finally:
        await store.close()
        shared.shutdown(wait=False, cancel_futures=True)
