"""``ferryman web`` in this process, on a thread of its own, with a clock the test moves:
a browser test that needs a link past its life jumps the page's clock (and the
browser's, ``page.clock``) instead of sleeping out ``web.link_ttl``. A ``ferryman web``
child (``webserve.running_web``) keeps the machine's time, which no test can move."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from ferryman.clock import Clock
from ferryman.config import load_settings
from ferryman.engine.runner import Engine
from ferryman.store import Store
from ferryman.web.server import web_app
from tests.support.waiting import eventually
from tests.support.webserve import WEB_POLL_SECONDS

START_SECONDS = 60.0


@dataclass
class InProcessWeb:
    base: str

    def client(self, **options: Any) -> httpx.Client:
        # Plain HTTP on loopback: no certificate is checked, so no CA bundle is read
        # (httpx loads one for every client it makes: ~25 ms of CPU each).
        return httpx.Client(base_url=self.base, timeout=30, **{"verify": False, **options})


@contextlib.contextmanager
def web_in_process(data: Path, *, clock: Clock, **web: Any) -> Iterator[InProcessWeb]:
    """The app and the engine on ``data`` (the engine on the machine's clock, the page's
    links, sessions and limits on ``clock``), on loopback; ``web``: ``web.*`` settings."""
    settings = load_settings(
        None,
        {
            "data_dir": data,
            "poll_seconds": float(WEB_POLL_SECONDS),
            "space_floor": 0,
            "web": {"allow_private_links": True, **web},
        },
    )
    loop = asyncio.new_event_loop()
    listening: list[InProcessWeb] = []
    ready, failed = threading.Event(), []
    server: list[uvicorn.Server] = []

    async def main() -> None:
        store = await Store.open(settings.database)
        engine = Engine(store, settings)
        running = asyncio.create_task(engine.run())
        try:
            async with web_app(settings, store, engine.bus, lambda: True, clock=clock) as served:
                config = uvicorn.Config(served.app, host="127.0.0.1", port=0, log_level="warning")
                server.append(uvicorn.Server(config))
                serving = asyncio.create_task(server[0].serve())
                await eventually(  # uvicorn offers no event for it
                    lambda: server[0].started or serving.done(), "uvicorn listening", every=0.01
                )
                port = server[0].servers[0].sockets[0].getsockname()[1]
                listening.append(InProcessWeb(f"http://127.0.0.1:{port}"))
                ready.set()
                await serving
        finally:
            engine.stop()
            await running
            await store.close()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:
            failed.append(exc)
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=run, name="web-in-process", daemon=True)
    thread.start()
    try:
        assert ready.wait(START_SECONDS) and listening, failed or "the page never listened"
        yield listening[0]
    finally:
        if server:
            server[0].should_exit = True
        thread.join(START_SECONDS)
        assert not failed, failed
