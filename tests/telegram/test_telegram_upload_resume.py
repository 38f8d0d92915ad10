"""Big uploads that resume (``telegram/resume.py``) against the fake, through the real
Telethon client: an upload that failed part-way sends only the missing parts under the
same file id next time; a file that changed, or a record past its parts' time, starts
over; a small file is never recorded."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions, types

from faketg import FakeTelegram
from faketg.client import FakeDialer, logged_in_client
from ferryman.errors import FerrymanError
from ferryman.model import Window
from ferryman.store.sinks.uploads_memory import MemoryUploads
from ferryman.telegram import resume
from ferryman.telegram.upload import Uploader

PART = 512 * 1024
BIG = functions.upload.SaveBigFilePartRequest
PARTS = 24  # 12 MiB: a big file (saveBigFilePart)


class World:
    def __init__(self, server: FakeTelegram, client: Any, tmp: Path) -> None:
        self.server, self.client, self.tmp = server, client, tmp
        self.now = [1000.0]
        self.book = MemoryUploads(lambda: self.now[0])
        self.path = tmp / "big.bin"
        self.data = bytes(range(256)) * (PARTS * PART // 256 - 7)
        self.path.write_bytes(self.data)

    def uploader(self) -> Uploader:
        return Uploader(
            self.client,
            FakeDialer(self.server),
            connections=2,
            max_in_flight=4,
            book=self.book,
            clock=lambda: self.now[0],
        )

    async def kept(self, handle: Any) -> bytes:
        media = types.InputMediaUploadedDocument(handle, "application/octet-stream", [])
        got = await self.client(functions.messages.UploadMediaRequest(types.InputPeerSelf(), media))
        return bytes(self.server.media[got.document.id].file.data)


@pytest.fixture
async def world(tmp_path: Path) -> Any:
    server = FakeTelegram()
    me = server.add_user("Ann", phone="+15550001")
    client = await logged_in_client(server, me, flood_sleep_threshold=0)
    try:
        yield World(server, client, tmp_path)
    finally:
        await client.disconnect()


async def _fail_after(w: World, parts: int) -> None:
    """An upload that fails once ``parts`` parts were acknowledged (a refusal that no
    retry helps), leaving its record behind."""
    w.server.inject(BIG, "FILE_PART_INVALID", skip=parts, times=100)
    uploader = w.uploader()
    try:
        with pytest.raises(FerrymanError):
            await uploader.upload(w.path)
    finally:
        await uploader.close()
    w.server.faults.clear()


async def test_a_failed_upload_resumes_with_the_missing_parts_only(world: World) -> None:
    w = world
    await _fail_after(w, 10)
    record = await w.book.upload_get(str(w.client.session.auth_key.key_id), str(w.path))
    assert record is not None and len(record.done) == 10  # every acknowledged part kept
    sent_before = w.server.parts.received
    digest = hashlib.sha256()
    uploader = w.uploader()
    try:
        handle = await uploader.upload(w.path, digest=digest)
    finally:
        await uploader.close()
    stats = uploader.last_stats
    assert stats is not None and stats.resumed_parts == 10
    assert handle.id == record.file_id  # the same file id: Telegram holds its parts
    assert w.server.parts.received - sent_before == PARTS - 10
    assert w.server.parts.repeats == 0
    assert digest.hexdigest() == hashlib.sha256(w.data).hexdigest()  # read whole all the same
    assert await w.kept(handle) == w.data
    assert await w.book.upload_get(record.account, record.key) is None  # done: forgotten


async def test_a_file_changed_since_is_never_finished_with_old_parts(world: World) -> None:
    w = world
    await _fail_after(w, 6)
    changed = bytearray(w.data)
    changed[3 * PART + 5] ^= 0xFF  # a part already sent reads differently now
    w.path.write_bytes(changed)
    uploader = w.uploader()
    try:
        with pytest.raises(FerrymanError, match="changed since it was sent"):
            await uploader.upload(w.path)
        handle = await uploader.upload(w.path)  # the next try starts over: a new file id
    finally:
        await uploader.close()
    assert uploader.last_stats is not None and uploader.last_stats.resumed_parts == 0
    assert await w.kept(handle) == bytes(changed)


async def test_a_record_past_the_parts_time_is_not_tried(world: World) -> None:
    w = world
    await _fail_after(w, 6)
    w.now[0] += resume.PARTS_KEPT + 1
    uploader = w.uploader()
    try:
        handle = await uploader.upload(w.path)
    finally:
        await uploader.close()
    assert uploader.last_stats is not None and uploader.last_stats.resumed_parts == 0
    assert await w.kept(handle) == w.data


async def test_parts_are_recorded_in_batches_as_they_are_acknowledged(world: World) -> None:
    """A SIGKILL runs no clean-up: what the batches wrote is what the next run finds."""
    w = world
    writes: list[int] = []
    put = w.book.upload_put

    async def counted(record: Any, **kw: Any) -> None:
        writes.append(len(record.done))
        await put(record, **kw)

    w.book.upload_put = counted  # type: ignore[method-assign]
    uploader = w.uploader()
    try:
        await uploader.upload(w.path)
    finally:
        await uploader.close()
    assert writes and all(n >= resume.BATCH_PARTS for n in writes)  # never part by part
    assert len(writes) <= PARTS // resume.BATCH_PARTS


async def test_a_small_file_is_not_recorded(world: World) -> None:
    w = world
    small = w.tmp / "small.bin"
    small.write_bytes(b"x" * (3 * PART))
    seen: list[Any] = []
    w.book.upload_put = lambda record, **kw: seen.append(record)  # type: ignore[assignment,method-assign,return-value]
    uploader = w.uploader()
    try:
        await uploader.upload(small)
    finally:
        await uploader.close()
    assert seen == []


async def test_a_piece_read_in_place_resumes_under_its_own_window(world: World) -> None:
    """A piece of a file cut by bytes (``model.Window``) is read in place from the one
    file: its resume record is keyed by the window (the same on the next run), its
    parts' checks are of the window's bytes, and it resumes with the missing parts
    only, under the same file id; the other piece's upload is apart."""
    w = world
    w.data = random.Random(82).randbytes(2 * 22 * PART + 2_827)  # two pieces, each over 10 MB
    w.path.write_bytes(w.data)
    half = 22 * PART  # over 10 MB: a big upload, resumable
    first, second = Window(str(w.path), 0, half), Window(str(w.path), half, len(w.data) - half)
    w.server.inject(BIG, "FILE_PART_INVALID", skip=7, times=100)
    uploader = w.uploader()
    try:
        with pytest.raises(FerrymanError):
            await uploader.upload(w.path, window=first)
    finally:
        await uploader.close()
    w.server.faults.clear()
    account = str(w.client.session.auth_key.key_id)
    record = await w.book.upload_get(account, f"{w.path}@0+{half}")
    assert record is not None and len(record.done) == 7 and record.size == half
    sent_before = w.server.parts.received
    uploader = w.uploader()
    try:
        handle = await uploader.upload(w.path, window=first)  # the next run: same window
        assert uploader.last_stats is not None and uploader.last_stats.resumed_parts == 7
        other = await uploader.upload(w.path, window=second)
    finally:
        await uploader.close()
    assert handle.id == record.file_id
    count = -(-half // PART)
    assert w.server.parts.received - sent_before == count - 7 + -(-(len(w.data) - half) // PART)
    assert w.server.parts.repeats == 0
    assert await w.kept(handle) == w.data[:half]
    assert await w.kept(other) == w.data[half:]
    assert not (w.tmp / "big.bin.piece1").exists() and sorted(w.tmp.iterdir()) == [w.path]
