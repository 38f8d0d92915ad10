"""A tar read as it streams from a link is read by libarchive in its box
(``archive.box.stream``): a decoder that spins costs its child and ends the input with
``archive.decoder_failed`` while the job beside it completes; the network's stalls and
failures keep the network's codes; the pump never holds the whole download.

The spinning decoder is injected: the test makes libarchive's read callback loop
(``StreamSource._read``) once a marked tar's first bytes were handed over. The child is
a fork, so it loops there; in-process (the code before the box) the engine's reading
thread looped, until the test released it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.archive.box.stream import BoxedStreamReader
from ferryman.archive.libarchive import ffi
from ferryman.archive.reader import ArchiveLimits, EntryType, OpenOptions
from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.samples import make_photo_set, make_tar
from ferryman.store import Store
from tests.archive.test_archive_box import _children
from tests.support.engine_helpers import library_files
from tests.support.httpserve import Faults, FaultServer, serving

MARK = b"spin-here"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving() as started:
        yield started


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "archive": settings.archive.model_copy(update={"stall_seconds": 1.0}),
            "network": settings.network.model_copy(update={"stall_seconds": 1.5}),
            "retry": settings.retry.model_copy(update={"base_seconds": 0.05}),
        }
    )


@pytest.fixture
def spinning_decoder(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """libarchive's read callback loops for good on a tar whose first header names
    ``MARK``, after its first bytes; released by the event (in this process only)."""
    released = threading.Event()
    original = ffi.StreamSource._read

    def read(self: Any, archive: Any, context: Any, out: Any) -> int:
        if self.head is not None:
            self.spins = MARK in self.head
        elif getattr(self, "spins", False):
            while not released.is_set():
                pass
        return int(original(self, archive, context, out))

    monkeypatch.setattr(ffi.StreamSource, "_read", read)
    yield released
    released.set()


async def _run(
    settings: Settings, urls: list[str], spinning: threading.Event | None = None
) -> tuple[Store, list[int]]:
    """Run the links' jobs until idle; a decoder spinning in this process (the engine
    never idle) is released first, then the test fails."""
    store = await Store.open(settings.database)
    engine = Engine(store, settings)
    jobs = [(await intake.add_source(store, url, settings=settings)).id for url in urls]
    running = asyncio.ensure_future(engine.run(until_idle=True))
    finished, _ = await asyncio.wait({running}, timeout=90)
    if not finished:
        if spinning is not None:
            spinning.set()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await store.close()
        raise AssertionError("the engine was held: not idle within 90 s")
    try:
        running.result()
    except BaseException:
        await store.close()
        raise
    return store, jobs


async def test_a_streamed_tar_that_spins_its_decoder_ends_while_the_job_beside_completes(
    tmp_path: Path, quick: Settings, server: FaultServer, spinning_decoder: threading.Event
) -> None:
    spun = make_photo_set(tmp_path / "s", 12, size=(320, 240))
    beside = make_photo_set(tmp_path / "b", 6, start_seed=50, size=(320, 240))
    bad = make_tar(tmp_path / "bad.tar", [(f"{MARK.decode()}/{p.name}", p) for p in spun])
    good = make_tar(tmp_path / "good.tar", [(f"trip/{p.name}", p) for p in beside])
    server.add("/bad.tar", bad.read_bytes(), content_type="application/x-tar")
    server.add("/good.tar", good.read_bytes(), content_type="application/x-tar")
    before = _children()
    urls = [server.url("/bad.tar"), server.url("/good.tar")]
    store, (spinning, fine) = await _run(quick, urls, spinning_decoder)
    try:
        ended = await store.get_job(spinning)
        completed = await store.get_job(fine)
        fetched = await store.fetched(spinning)
    finally:
        await store.close()
    assert completed.state is JobState.DONE, completed
    assert ended.state is JobState.FAILED, ended
    assert ended.error_code == "archive.decoder_failed", ended
    assert fetched is not None and fetched.path is None  # it was read as it streamed
    delivered = sorted(e["disk_sha256"] for e in library_files(quick.library))
    assert delivered == sorted(_digest(p) for p in beside)
    assert _children() <= before  # the spinning child was ended and reaped


async def test_a_network_stall_longer_than_the_decoders_is_the_networks(
    tmp_path: Path, quick: Settings, server: FaultServer
) -> None:
    """The server says nothing for 3 s while the decoder's stall limit is 1 s: the child
    waits on its pipe for the pump, which waits on the network; the stream resumes."""
    photos = make_photo_set(tmp_path / "p", 20, size=(320, 240))
    data = make_tar(tmp_path / "t.tar", [(p.name, p) for p in photos]).read_bytes()
    server.add("/t.tar", data, content_type="application/x-tar")
    server.resources["/t.tar"].faults = Faults(stall_at=len(data) // 2, stall_seconds=3)
    store, (job,) = await _run(quick, [server.url("/t.tar")])
    try:
        done = await store.get_job(job)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done
    delivered = sorted(e["disk_sha256"] for e in library_files(quick.library))
    assert delivered == sorted(_digest(p) for p in photos)


class _Counted(io.RawIOBase):
    """``size`` random bytes of a tar, counting what was read of them."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        got = self._data.readinto(buffer)
        self.taken += got
        return got


class _Failing(_Counted):
    """Fails as a cut network does, after ``at`` bytes."""

    def __init__(self, data: bytes, at: int) -> None:
        super().__init__(data)
        self._at = at

    def readinto(self, buffer: Any) -> int:
        if self.taken >= self._at:
            raise FerrymanError("source.io", "the server went away")
        return super().readinto(memoryview(buffer)[: self._at - self.taken])


def _big_tar(tmp_path: Path) -> tuple[bytes, dict[str, bytes]]:
    rng = random.Random(7)
    files = {f"part{n}.bin": rng.randbytes(4 << 20) for n in range(8)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    tar = make_tar(tmp_path / "big.tar", [(name, tmp_path / name) for name in files])
    return tar.read_bytes(), files


def test_the_pump_holds_back_and_a_streamed_tar_arrives_byte_for_byte(tmp_path: Path) -> None:
    data, files = _big_tar(tmp_path)
    stream = _Counted(data)
    got: dict[str, bytes] = {}
    options = OpenOptions(limits=ArchiveLimits(stall_seconds=5.0))
    with BoxedStreamReader(io.BufferedReader(stream, 1 << 20), "big.tar", len(data), options) as r:
        entries = iter(r)
        first = next(entries)
        # the child holds the first entry's blocks; the pump waits on a full pipe
        assert stream.taken < 12 << 20 < len(data)
        got[first.info.path] = b"".join(first.read_blocks())
        for entry in entries:
            if entry.info.type is EntryType.FILE:
                got[entry.info.path] = b"".join(entry.read_blocks())
    assert got == files
    assert stream.taken == len(data)


def test_a_stream_that_fails_mid_way_keeps_its_own_code(tmp_path: Path) -> None:
    data, _ = _big_tar(tmp_path)
    stream = _Failing(data, len(data) // 2)
    before = _children()
    options = OpenOptions(limits=ArchiveLimits(stall_seconds=5.0))
    with (
        pytest.raises(FerrymanError) as caught,
        BoxedStreamReader(io.BufferedReader(stream, 1 << 20), "big.tar", len(data), options) as r,
    ):
        for entry in r:
            b"".join(entry.read_blocks())
    assert (caught.value.code, caught.value.message) == ("source.io", "the server went away")
    assert _children() <= before
