"""uvicorn serving the app over a store: kept live by the engine's bus when the engine
runs in the same process (``ferryman web``), or by looking at the store every second
(``--no-engine``: ``ferryman run`` workers elsewhere). The front door (``cli.web``)
starts and stops the engine; on SIGINT/SIGTERM uvicorn stops taking requests first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn as uv

from ferryman.clock import SYSTEM, Clock
from ferryman.errors import FerrymanError
from ferryman.media.box.pool import MediaBox
from ferryman.resources import Shared
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.builtin import default_sources
from ferryman.web import connections, guard
from ferryman.web.accounts.book import AccountBook
from ferryman.web.accounts.identify import recheck
from ferryman.web.api.events import MAX_MESSAGE
from ferryman.web.app import Web, create_app
from ferryman.web.live import Tracker
from ferryman.web.metrics import StageClock
from ferryman.web.results import open_results
from ferryman.web.signing import Signer, load_secret
from ferryman.web.stream import Stream
from ferryman.web.telegram_links import TelegramStreams
from ferryman.web.uploads import Uploads

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ferryman.config import Settings
    from ferryman.engine.plumbing.events import EventBus
    from ferryman.sinks.base import SinkRegistry
    from ferryman.sources.base import SourceRegistry
    from ferryman.store.ports import WebDoor

log = logging.getLogger(__name__)

SWEEP_SECONDS = 3600.0  # how often results past results.retention are deleted
POLL_SECONDS = 1.0  # --no-engine: how often the store is looked at for changes
ENGINE_POLL_SECONDS = 2.0  # with the engine: the bus tells; this flags stuck jobs


@dataclass(slots=True)
class Served:
    app: FastAPI
    web: Web


@contextlib.asynccontextmanager
async def web_app(
    settings: Settings,
    store: WebDoor,
    bus: EventBus | None,
    engine_alive: Callable[[], bool] | None,
    *,
    sources: SourceRegistry | None = None,
    sinks: SinkRegistry | None = None,
    clock: Clock = SYSTEM,
    shared: Shared | None = None,
) -> AsyncIterator[Served]:
    """The app over ``store``, kept live by ``bus`` (the engine's, in this process) or
    by polling; its background tasks end with the context. ``sources`` and ``sinks``:
    the kinds the API accepts (the engine's registries; the defaults when None);
    ``clock``: what links, sessions, limits and sweeps are timed by; ``shared``: the
    engine's resources (its Telegram accounts, which links read from; None: the web's
    own, closed with it)."""
    stream = Stream()
    uploads_root = settings.data_dir / "uploads"
    sources = sources or default_sources()
    sinks = sinks or default_sinks()
    shown = sources.describe

    def describe(source: str) -> str:
        """An upload by its name, not by where it lies on the server."""
        text = shown(source)
        if text.startswith(str(uploads_root) + "/"):
            return f"{text.rsplit('/', 1)[-1]} (uploaded)"
        return text

    holder: list[Web] = []
    tracker = Tracker(
        store,
        stream.publish,
        lambda job: holder[0].links_of(job),
        describe,
        stuck_after=settings.web.stuck_after,
        sinks=sinks,
        clock=clock,
    )
    web = Web(
        settings=settings,
        store=store,
        stream=stream,
        tracker=tracker,
        results=open_results(settings, clock),
        uploads=Uploads(uploads_root, settings.web.max_upload),
        signer=Signer(load_secret(settings.data_dir)),
        tokens=guard.Tokens(settings.web.tokens),
        limiter=guard.RateLimiter(settings.web.rate_limit),
        engine_alive=engine_alive,
        clock=clock,
        sources=sources,
        sinks=sinks,
        decoder=MediaBox(keep=1),
        book=AccountBook(clock=clock),
    )
    accounts = shared if shared is not None else Shared(settings, clock=clock)
    own = accounts if shared is None else None  # closed here, not by an engine
    web.telegram = TelegramStreams(accounts)
    holder.append(web)
    unsubscribe = []
    if bus is not None:
        web.stage_times = StageClock()
        unsubscribe = [bus.subscribe(tracker.on_event), bus.subscribe(web.stage_times.on_event)]
    poll = ENGINE_POLL_SECONDS if bus is not None else POLL_SECONDS
    tasks = [
        asyncio.create_task(tracker.run(poll), name="web-tracker"),
        asyncio.create_task(_sweep(web), name="web-results-sweep"),
        asyncio.create_task(web.held.run(lambda: recheck(web), clock), name="web-credentials"),
    ]
    try:
        yield Served(create_app(web), web)
    finally:
        for stop in unsubscribe:
            stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await tracker.close()
        await web.telegram.close()
        if own is not None:
            await own.close()
        await web.results.close()
        await asyncio.to_thread(web.decoder.close)


async def _sweep(web: Web) -> None:
    expiry = web.settings.web.upload_expiry
    while True:
        try:
            retention = web.settings.results.retention
            removed, freed = await web.results.sweep(retention, web.clock.now())
            if removed:
                log.info("results: %d jobs past retention deleted, %d bytes freed", removed, freed)
            await asyncio.to_thread(web.uploads.sweep, retention, web.clock.now(), abandoned=expiry)
        except FerrymanError as exc:  # a bucket out of reach or refusing: one line, not a trace
            log.warning("results sweep failed: %s (next: %s)", exc, exc.next_step)
        except Exception:
            log.exception("results sweep failed")
        # Often enough that an abandoned upload outlives web.upload_expiry by half at most.
        await web.clock.sleep(min(SWEEP_SECONDS, max(expiry / 2, 1.0)))


async def serve(
    settings: Settings,
    store: WebDoor,
    *,
    host: str,
    port: int,
    bus: EventBus | None = None,
    engine_alive: Callable[[], bool] | None = None,
    ready: Callable[[int], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    shared: Shared | None = None,
) -> None:
    """Serve ``store`` until SIGINT/SIGTERM, kept live by ``bus`` when the engine runs in
    this process (the caller starts and stops it, and checks the address first:
    ``guard.check_bind``). At the signal the event streams close at once and
    ``on_stop`` is called (to say "stopping…", to stop the engine meanwhile)."""
    # The address actually bound (``--host`` wins over web.host): a name it answers to.
    settings = settings.model_copy(update={"web": settings.web.model_copy(update={"host": host})})
    loop = asyncio.get_running_loop()
    for sig in _SIGNALS:  # uvicorn raises the signal it caught again once it stops
        loop.add_signal_handler(sig, lambda: None)
    try:
        async with web_app(settings, store, bus, engine_alive, shared=shared) as served:

            def stopping() -> None:
                served.web.stream.close()
                if on_stop is not None:
                    on_stop()

            trusted = settings.web.trusted_proxies
            await _uvicorn(served.app, host, port, ready, stopping, trusted)
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# After the signal, how long a response still under way (a results download) may take
# before it is cut: the event streams end at once, so only such a response waits.
GRACE_SECONDS = 1


async def _uvicorn(
    app: FastAPI,
    host: str,
    port: int,
    ready: Callable[[int], None] | None,
    stopping: Callable[[], None],
    trusted: list[str],
) -> None:

    config = uv.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ws_ping_interval=20,
        timeout_graceful_shutdown=GRACE_SECONDS,
        # Bounds before any route runs: a head's size and time, idle keep-alive, a
        # WebSocket message's size (the body's is ``web.limits``').
        http=connections.BoundedH11,
        h11_max_incomplete_event_size=connections.HEAD_BYTES,
        timeout_keep_alive=connections.KEEP_ALIVE_SECONDS,
        ws_max_size=MAX_MESSAGE,
        # X-Forwarded-For only from a proxy named in web.trusted_proxies; uvicorn's own
        # default believed it from any process on 127.0.0.1 (a sign-in budget per forged
        # address, a forged address in the audit).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=list(trusted),
    )
    loop = asyncio.get_running_loop()

    class Server(uv.Server):
        """uvicorn's server, telling ``stopping`` (on the loop) at the first signal:
        uvicorn waits for open connections, and an event stream never ends by itself."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            first = not self.should_exit
            super().handle_exit(sig, frame)
            if first:
                loop.call_soon_threadsafe(stopping)

    server = Server(config)
    telling = asyncio.create_task(_tell_ready(server, ready)) if ready is not None else None
    try:
        await server.serve()
    finally:
        if telling is not None:
            telling.cancel()


async def _tell_ready(server: object, ready: Callable[[int], None]) -> None:
    assert isinstance(server, uv.Server)
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
        await asyncio.sleep(0.05)
    sockets = [s for srv in server.servers for s in srv.sockets]
    ready(sockets[0].getsockname()[1] if sockets else 0)
