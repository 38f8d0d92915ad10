"""The page that plays a Telegram job's video from Telegram's storage, in Chromium.

The engine sends a clip to a channel through a pool (the real Telethon against the
fake); ``ferryman web``'s app (uvicorn on loopback, on a thread with the fake and the
store) serves ``/p/<token>``; Chromium plays it, asking ``/d/<token>`` by ranges, the
bytes read from the fake's storage by the accounts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from faketg.client import FakeDialer
from ferryman.engine.ops import intake
from ferryman.model import JobState
from ferryman.resources import Shared
from ferryman.samples import make_video
from ferryman.web.server import web_app
from tests.support.browser import NEEDS_CHROMIUM
from tests.support.waiting import eventually
from tests.telegram.test_telegram_pool import Pool

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@dataclass
class Served:
    base: str
    token: str
    pool: Pool


@contextmanager
def telegram_web(tmp_path: Path) -> Iterator[Served]:
    """A clip delivered to the fake's channel, and the web app over it, on a thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    out: list[Served] = []
    failed: list[BaseException] = []
    servers: list[uvicorn.Server] = []

    async def main() -> None:
        w = Pool(tmp_path)
        await w.log_in_all()
        clip = make_video(tmp_path / "clip.mp4", 5, seconds=4.0, size=(320, 240))
        store = await w.store()
        shared = Shared(w.settings, FakeDialer(w.server))
        try:
            job = await intake.add_source(store, clip, dest="telegram:@dest")
            await w.run(store)
            job = await store.get_job(job.id)
            assert job.state is JobState.DONE
            async with web_app(w.settings, store, None, None, shared=shared) as served:
                [link] = (await served.web.links_of(job))["files"]
                config = uvicorn.Config(served.app, host="127.0.0.1", port=0, log_level="warning")
                servers.append(uvicorn.Server(config))
                serving = asyncio.create_task(servers[0].serve())
                await eventually(lambda: servers[0].started or serving.done(), "uvicorn")
                port = servers[0].servers[0].sockets[0].getsockname()[1]
                token = link["url"].removeprefix("/d/")
                out.append(Served(f"http://127.0.0.1:{port}", token, w))
                ready.set()
                await serving
        finally:
            await shared.close()
            await store.close()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:
            failed.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(180)
    try:
        if failed or not out:
            raise AssertionError(f"the web app did not start: {failed}")
        yield out[0]
    finally:
        if servers:
            servers[0].should_exit = True
        thread.join(60)


def test_a_telegram_jobs_video_plays_in_the_browser_from_telegram(
    tmp_path: Path, page: Any
) -> None:
    ranges: list[str] = []
    page.on(
        "request",
        lambda r: ranges.append(r.headers.get("range", "")) if "/d/" in r.url else None,
    )
    with telegram_web(tmp_path) as served:
        page.goto(f"{served.base}/p/{served.token}")
        expect(page.get_by_role("heading")).to_have_text("clip.mp4")
        video = page.locator("video")
        video.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function(
            "() => { const v = document.querySelector('video');"
            " return v && v.readyState >= 3 && v.currentTime > 0.5; }",
            timeout=30_000,
        )
        assert abs(video.evaluate("v => v.duration") - 4.0) < 0.3
        assert any(r.startswith("bytes=") for r in ranges), ranges  # asked by ranges
        reads = [name for _who, name in served.pool.server.log if name == "GetFileRequest"]
        assert reads  # the bytes came from Telegram's storage
        page.screenshot(path=f"{tmp_path}/player.png")
