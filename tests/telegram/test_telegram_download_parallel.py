"""Downloads from Telegram at the speed of the link: a big file's ``getFile`` requests go
many at once over several connections (one connection carries a chunk a round trip), an
album's files are fetched at once, and the engine's downloads share one set of
connections instead of opening their own for each file."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions

from faketg import FakeTelegram
from faketg.people import channel_posts, stored_document
from ferryman.net.progress import DownloadProgress
from ferryman.telegram.download import CHUNK, IN_FLIGHT
from tests.support.waiting import eventually
from tests.telegram.test_telegram_links import SOURCE, world_at

SERVER_TIME = 0.01  # the fake's time to answer one getFile: requests sent together overlap


@dataclass
class InFlight:
    """``getFile`` requests the fake is answering at once, at most, and on which
    connections they came."""

    now: int = 0
    peak: int = 0
    connections: set[int] = field(default_factory=set)


def count_reads(server: FakeTelegram, hold: int = 0) -> InFlight:
    """Counts the getFile requests in flight. ``hold``: the first requests are held
    until that many are in flight together (released after 10 s whatever came), so
    the peak shows what the client asks at once, not how fast a loaded machine
    answered the first ones."""
    seen = InFlight()
    handle: Callable[[Any, Any], Any] = server.handle
    server.processing_delay[functions.upload.GetFileRequest] = SERVER_TIME
    together = asyncio.Event()

    async def counted(call: Any, request: Any) -> Any:
        if not isinstance(request, functions.upload.GetFileRequest):
            return await handle(call, request)
        seen.now += 1
        seen.peak = max(seen.peak, seen.now)
        seen.connections.add(call.sender.id)
        if seen.now >= hold:
            together.set()
        try:
            if not together.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(together.wait(), 10)
                together.set()
            return await handle(call, request)
        finally:
            seen.now -= 1

    server.handle = counted  # type: ignore[method-assign]
    return seen


async def test_a_big_file_is_asked_for_many_chunks_at_once_over_eight_connections(
    tmp_path: Path,
) -> None:
    """A 40 MiB document: two dozen chunks in flight at once over eight connections (one
    connection alone carries a chunk a round trip: four of them, one each, filled a fifth
    of a 800 Mbit/s link), each chunk asked once, the file whole."""
    async with world_at(tmp_path) as w:
        data = hashlib.sha256(b"big").digest() * (40 * CHUNK // 32) + b"tail"
        at = w.post(w.private, data, "big.bin", "application/octet-stream")
        seen = count_reads(w.server, hold=16)
        got = await SOURCE.fetch(f"tg:c/{w.private.id}/{at}", w.plan(tmp_path / "fetch"))
        assert got.path.read_bytes() == data
        assert w.server.stats.requests["GetFileRequest"] == -(-len(data) // CHUNK)
        assert seen.peak >= 16, seen
        assert len(seen.connections) == 8, seen


async def test_an_albums_files_are_fetched_at_once(tmp_path: Path) -> None:
    """An album of five (as a watch makes it one input): its five files are asked for
    together, not one after another; each lands in its place, and progress ends at the
    album's whole size."""
    async with world_at(tmp_path) as w:
        files = [hashlib.sha256(bytes([n])).digest() * (2000 + n) for n in range(5)]
        posts = [
            ("", stored_document(w.server, w.poster, data, f"{n}.bin", "application/zip"))
            for n, data in enumerate(files)
        ]
        sent = channel_posts(w.server, w.poster, w.private, posts, album=True)
        uri = f"tg:c/{w.private.id}/{','.join(str(m.id) for m in sent)}"
        seen = count_reads(w.server, hold=len(files))
        progress: list[DownloadProgress] = []
        got = await SOURCE.fetch(uri, w.plan(tmp_path / "fetch", on_progress=progress.append))
        assert seen.peak == len(files), seen
        for place, data in enumerate(files, 1):
            assert (got.path / str(place) / f"{place - 1}.bin").read_bytes() == data
        assert progress[-1].done == sum(len(f) for f in files)


async def test_the_engines_downloads_share_their_connections(tmp_path: Path) -> None:
    """Three messages fetched one after another through the engine's shared resources
    open one download connection between them, not one each."""
    async with world_at(tmp_path) as w:
        dialer = w.shared.dialer
        ids = [
            w.post(w.private, bytes([n]) * 5000, f"{n}.bin", "application/zip") for n in range(3)
        ]
        for n, at in enumerate(ids):
            got = await SOURCE.fetch(f"tg:c/{w.private.id}/{at}", w.plan(tmp_path / str(n)))
            assert got.path.read_bytes() == bytes([n]) * 5000
        assert dialer.opened == 1


async def test_chunks_that_arrived_ahead_are_written_in_one_go_once_the_first_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first chunk's answer is held until the next seven are in: they wait in order
    and go to the file in one write with it (one thread hop, not eight), the file whole.

    "In" is the downloader's: the server's answers travel on several connections, and the
    first could overtake one the server gave before it (a [7, 2] once, under load), so
    the first is let go once the downloader has the seven, not once the server sent them."""
    from ferryman.telegram import download

    writes: list[int] = []
    real = download._append
    monkeypatch.setattr(
        download, "_append", lambda path, *data: (writes.append(len(data)), real(path, *data))
    )
    rest_in = asyncio.Event()
    arrived: set[int] = set()
    fetch = download.Download._fetch

    async def noted(self: download.Download, offset: int) -> bytes:
        got = await fetch(self, offset)
        arrived.add(offset)  # the worker files it as ready next, with no wait between
        if arrived >= {n * CHUNK for n in range(1, 8)}:
            rest_in.set()
        return got

    monkeypatch.setattr(download.Download, "_fetch", noted)
    async with world_at(tmp_path) as w:
        data = hashlib.sha256(b"ahead").digest() * (8 * CHUNK // 32) + b"tail"
        at = w.post(w.private, data, "big.bin", "application/octet-stream")
        handle: Callable[[Any, Any], Any] = w.server.handle

        async def first_last(call: Any, request: Any) -> Any:
            if isinstance(request, functions.upload.GetFileRequest) and request.offset == 0:
                await asyncio.wait_for(rest_in.wait(), 10)
            return await handle(call, request)

        w.server.handle = first_last  # type: ignore[method-assign]
        got = await SOURCE.fetch(f"tg:c/{w.private.id}/{at}", w.plan(tmp_path / "fetch"))
        assert got.path.read_bytes() == data
        assert writes[0] >= 8, writes  # the first write carries those that came ahead
        assert sum(writes) == -(-len(data) // CHUNK)


async def test_a_slow_write_does_not_stop_the_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the first write is stuck (a busy disk, a starved thread), the other workers
    go on asking for their next chunks, up to the window, instead of queueing behind
    the write; the file is whole once the write goes on."""
    from ferryman.telegram import download

    stuck = threading.Event()
    real = download._append

    def slow(path: Path, *data: bytes) -> None:
        stuck.wait(10)
        real(path, *data)

    monkeypatch.setattr(download, "_append", slow)
    async with world_at(tmp_path) as w:
        chunks = 40  # more than in flight (24), within the window (48 ahead of the file)
        data = hashlib.sha256(b"slow").digest() * (chunks * CHUNK // 32)
        at = w.post(w.private, data, "big.bin", "application/octet-stream")
        fetch = asyncio.ensure_future(
            SOURCE.fetch(f"tg:c/{w.private.id}/{at}", w.plan(tmp_path / "fetch"))
        )
        try:
            await eventually(
                lambda: w.server.stats.requests.get("GetFileRequest", 0) >= chunks,
                "every chunk asked while the first write is stuck",
            )
        finally:
            stuck.set()
        got = await fetch
        assert got.path.read_bytes() == data


async def test_albums_fetched_at_once_share_the_requests_in_flight(tmp_path: Path) -> None:
    """Three albums of ten fetched together (a watch's look fetches several at once):
    their requests share one window of ``IN_FLIGHT`` over the engine's connections, not
    one window each, so a look of many albums holds the chunks of a few files."""
    async with world_at(tmp_path) as w:
        uris = []
        for a in range(3):
            posts = [
                ("", stored_document(w.server, w.poster, bytes([a, n]) * 900, f"{n}.bin", "a/b"))
                for n in range(10)
            ]
            sent = channel_posts(w.server, w.poster, w.private, posts, album=True)
            uris.append(f"tg:c/{w.private.id}/{','.join(str(m.id) for m in sent)}")
        seen = count_reads(w.server, hold=IN_FLIGHT)
        got = await asyncio.gather(
            *(SOURCE.fetch(uri, w.plan(tmp_path / str(a))) for a, uri in enumerate(uris))
        )
        assert seen.peak == IN_FLIGHT, seen  # 30 wanted at once
        for a, fetched in enumerate(got):
            assert (fetched.path / "10" / "9.bin").read_bytes() == bytes([a, 9]) * 900
