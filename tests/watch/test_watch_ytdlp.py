"""Watching what yt-dlp lists (its generic extractor on loopback pages and feeds): a
page of videos that gains one while ferryman runs gives each video once, made as the
watch's output profile asks (MP3 here); a feed of media links is listed by guid."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from ferryman.config import Settings
from ferryman.engine.runner import Engine
from ferryman.model import Batch
from ferryman.sources.listers.ytdlp import YtdlpLister
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.httpserve import FaultServer, serving
from tests.support.mediaserve import write_media
from tests.support.waiting import eventually
from tests.watch.test_watch_feed import delivered_names

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

T = TypeVar("T")
pytestmark = pytest.mark.slow  # yt-dlp in a child process, and MP3s made


async def until(get: Callable[[], Awaitable[T]], ok: Callable[[T], bool], what: str) -> T:
    async def check() -> tuple[T] | None:
        value = await get()
        return (value,) if ok(value) else None

    return (await eventually(check, what, within=90))[0]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("clips")
    made = {}
    for n in (1, 2, 3):
        path = folder / f"c{n}.mp4"
        write_media(path, size=(160, 90), audio=True, seconds=1.0 + n / 2)
        made[f"/c{n}.mp4"] = path.read_bytes()
    return made


def page(names: list[str]) -> bytes:
    videos = "".join(f'<video src="/{name}.mp4"></video>' for name in names)
    return (
        "<!doctype html><html><head><title>Shows</title></head>"
        f"<body>{videos}</body></html>".encode()
    )


def _serve(server: FaultServer, clips: dict[str, bytes]) -> None:
    for path, data in clips.items():
        server.add(path, data, content_type="video/mp4")


async def _files(settings: Settings) -> list[str]:
    found = await asyncio.to_thread(delivered_names, settings)
    return sorted(Path(name).suffix for name in found)


async def test_a_page_that_gains_a_video_gives_each_once_as_mp3(
    store: Store, settings: Settings, clips: dict[str, bytes]
) -> None:
    with serving() as server:
        _serve(server, clips)
        server.add("/shows.html", page(["c1"]), content_type="text/html")
        watch = await store.add_watch(
            kind="ytdlp",
            source=server.url("/shows.html"),
            dest="library:",
            profile="mp3-96",
            every_seconds=0.5,
            since="all",
            next_check_at=0.0,
        )
        engine = Engine(store, settings)
        running = asyncio.create_task(engine.run())
        try:
            await until(lambda: _files(settings), lambda f: f == [".mp3"], "the first MP3")
            server.replace("/shows.html", page(["c2", "c1"]))  # the new one comes first
            await until(lambda: _files(settings), lambda f: f == [".mp3", ".mp3"], "the second")
            before = (await store.get_watch(watch.id)).last_check_at or 0
            await until(
                lambda: store.get_watch(watch.id),
                lambda w: (w.last_check_at or 0) > before + 1,
                "more looks",
            )
            await until(
                store.list_jobs,
                lambda jobs: all(j.state.value == "done" for j in jobs),
                "every job ended",
            )
        finally:
            engine.stop()
            await running
    jobs = await store.list_jobs()
    assert len(jobs) == 2 and all(j.state.value == "done" for j in jobs)
    inputs = [item.uri for j in jobs for item in Batch.parse(j.source).items]
    assert len(inputs) == 2 and all(i.startswith("media:mp3-96:") for i in inputs)
    seen = await store.watch_seen_rows(watch.id)
    assert [entry.rsplit("/", 1)[1] for entry, _ in seen] == ["c1.mp4", "c2.mp4"]


async def test_a_feed_yt_dlp_reads_is_listed_by_its_guids(
    settings: Settings, clips: dict[str, bytes]
) -> None:
    with serving() as server:
        _serve(server, clips)
        items = "".join(
            f"<item><title>Show {n}</title><link>{server.base}/c{n}.mp4</link>"
            f"<guid>show-{n}</guid></item>"
            for n in (3, 2)
        )
        rss = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>s</title>'
            f"<link>{server.base}/</link>{items}</channel></rss>"
        )
        server.add("/shows.rss", rss.encode(), content_type="application/rss+xml")
        entries = await YtdlpLister().entries(server.url("/shows.rss"), settings)
    assert [(e.id.rsplit(":", 1)[1], e.title) for e in entries] == [
        ("show-3", "Show 3"),
        ("show-2", "Show 2"),
    ]
    assert [e.input for e in entries] == [f"{server.base}/c3.mp4", f"{server.base}/c2.mp4"]
