"""A big archive entry bound for Telegram is uploaded while it is staged.

Its parts go out as the reading thread writes them (``telegram/early_upload.py``); the
delivery takes that upload instead of sending the file again, and sends its message
only once the entry is staged and its album sealed. A staging that fails or stops
leaves no message, and the entry goes out once when it is read again.
"""

from __future__ import annotations

import asyncio
import errno
import os
import struct
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import functions

from faketg import FakeTelegram
from faketg.client import FakeDialer, logged_in_client
from ferryman.engine.ops import control, intake
from ferryman.engine.read import staging
from ferryman.engine.read.stage import AHEAD_BYTES, Staged, stage_entry
from ferryman.model import ItemState, JobState
from ferryman.telegram.early_upload import EarlyUploads
from ferryman.telegram.upload import Uploader
from tests.support.waiting import eventually
from tests.telegram.test_telegram_sink import World, sha
from tests.telegram.test_telegram_upload import Env

PART = 512 * 1024
BIG = AHEAD_BYTES + 3 * PART + 777  # uploaded ahead, in a few parts and a short last one


def _big_pdf() -> bytes:
    return b"%PDF-1.4\n" + os.urandom(BIG - 9)


def _zip_of_big_pdf(tmp_path: Path) -> tuple[Path, bytes]:
    data = _big_pdf()
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("big.pdf", data)
    return archive, data


def _folder_of_big_pdf(tmp_path: Path) -> tuple[Path, bytes, int]:
    """A person's folder holding one big PDF: the folder, its bytes, its inode."""
    folder = tmp_path / "in"
    folder.mkdir()
    data = _big_pdf()
    (folder / "big.pdf").write_bytes(data)
    return folder, data, (folder / "big.pdf").stat().st_ino


def _first_part(w: World) -> threading.Event:
    """Set once the first big file part reached the fake (from its thread)."""
    first = threading.Event()
    w.server.after_handle.append(
        lambda _c, request, _r: (
            isinstance(request, functions.upload.SaveBigFilePartRequest) and first.set()
        )
    )
    return first


class _SlowStaging:
    """The reading thread's ``stage_entry`` with a pause after each block: a slow
    input. Notes when the last block was handed over (the entry read whole)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, pause: float) -> None:
        self.pause = pause
        self.read_whole_at: float | None = None
        self.staged: list[Staged] = []
        monkeypatch.setattr(staging, "stage_entry", self._stage)

    def _blocks(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        for block in blocks:
            time.sleep(self.pause)  # a slow input's pace: not a wait
            yield block
        self.read_whole_at = time.monotonic()

    def _stage(self, blocks: Iterator[bytes], *args: Any, **kwargs: Any) -> Staged:
        staged = stage_entry(self._blocks(blocks), *args, **kwargs)
        self.staged.append(staged)
        return staged


def _parts_seen(w: World) -> list[float]:
    """When each big file part reached the fake (monotonic)."""
    seen: list[float] = []

    def note(call: Any, request: Any, result: Any) -> None:
        if isinstance(request, functions.upload.SaveBigFilePartRequest):
            seen.append(time.monotonic())

    w.server.after_handle.append(note)
    return seen


async def _delivered_once(w: World, store: Any, job_id: int, data: bytes) -> None:
    """Run the job to the end: its one entry delivered with its hash, sent once whole."""
    await w.run(store)
    (item,) = await store.job_items(job_id)
    assert item.state is ItemState.DELIVERED and item.sha256 == sha(data)
    (sent,) = _documents(w, len(data))
    assert sent.media.file.sha256 == sha(data)
    await store.close()


def _documents(w: World, size: int) -> list[Any]:
    return [m for m in w.server.chat(w.channel) if m.media.file.size == size]


async def test_a_big_entry_goes_up_while_it_is_staged_and_is_not_uploaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = _SlowStaging(monkeypatch, pause=0.02)
    w = await World.logged_in(tmp_path, send_documents=True)
    parts = _parts_seen(w)
    archive, data = _zip_of_big_pdf(tmp_path)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    await w.run(store)

    assert slow.read_whole_at is not None and parts
    assert parts[0] < slow.read_whole_at  # the first part went up before the entry was staged
    assert len(parts) == -(-len(data) // PART)  # each part once: the delivery sent none again
    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.DELIVERED and item.sha256 == sha(data)
    (sent,) = _documents(w, len(data))
    assert sent.media.file.sha256 == sha(data)
    assert sent.media.file.name == "big.pdf"
    await store.close()


async def test_an_entry_over_the_limit_is_not_uploaded_whole_ahead(tmp_path: Path) -> None:
    """A big entry over the destination's size limit goes in pieces (``link:telegram``):
    its whole is never sent, so it is not uploaded ahead either (its pieces, each under
    10 MB, go as small files: no big file's part is asked)."""
    archive, data = _zip_of_big_pdf(tmp_path)
    limit = len(data) // 2 + 1
    w = await World.logged_in(tmp_path, send_documents=True, media={"max_file_bytes": limit})
    parts = _parts_seen(w)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="link:telegram")
    await w.run(store)
    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.DELIVERED and item.sha256 == sha(data)
    saved = [m for m in w.server.chat(w.me) if m.media is not None]
    assert b"".join(m.media.file.data for m in saved) == data and len(saved) == 2
    assert parts == []  # no part of the whole went up
    await store.close()


async def test_a_persons_big_file_goes_up_once_linked_before_its_album_is_claimed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big file of a folder is linked whole: its upload starts then, not once its
    entry is recorded and its album sealed and claimed (transactions, each an fsync);
    the delivery takes that upload, and the hash it took is the item's."""
    w = await World.logged_in(tmp_path, send_documents=True)
    parts = _parts_seen(w)
    folder, data, _ = _folder_of_big_pdf(tmp_path)
    store = await w.store()
    claim = store.claim_delivery
    late: list[AssertionError] = []

    async def claimed_once_a_part_is_up(owner: str, lease: float) -> Any:
        found = await claim(owner, lease)
        if found is not None and not parts and not late:
            try:  # the old order: no part goes before this claim returns
                await eventually(lambda: bool(parts), "a part before the album's claim", within=10)
            except AssertionError as exc:
                late.append(exc)
        return found

    monkeypatch.setattr(store, "claim_delivery", claimed_once_a_part_is_up)
    job = await intake.add_source(store, folder, dest="telegram:@dest")
    await _delivered_once(w, store, job.id, data)

    assert late == []
    assert len(parts) == -(-len(data) // PART)  # each part once: the delivery sent none again


async def test_a_persons_big_file_goes_up_while_its_fsync_runs_and_counts_once_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big file just saved has its bytes still to write out: the fsync of its link
    (0.5-1.9 s for 1 GiB here) runs beside its upload, not before its first part; the
    entry is recorded only once that fsync is done."""
    w = await World.logged_in(tmp_path, send_documents=True)
    first_part = _first_part(w)
    folder, data, inode = _folder_of_big_pdf(tmp_path)
    fsync = os.fsync
    synced: list[bool] = []  # per fsync of the file done: whether a part went up before

    def fsync_once_a_part_is_up(fd: int) -> None:
        ours = os.fstat(fd).st_ino == inode
        went = ours and first_part.wait(timeout=10)  # the old order: no part before it
        fsync(fd)
        if ours:
            synced.append(went)

    monkeypatch.setattr(os, "fsync", fsync_once_a_part_is_up)
    store = await w.store()
    record = store.record_entries
    recorded_after_sync: list[bool] = []

    async def recorded(*args: Any, **kwargs: Any) -> Any:
        recorded_after_sync.append(bool(synced))
        return await record(*args, **kwargs)

    monkeypatch.setattr(store, "record_entries", recorded)
    job = await intake.add_source(store, folder, dest="telegram:@dest")
    await _delivered_once(w, store, job.id, data)

    assert synced == [True]
    assert recorded_after_sync and all(recorded_after_sync)


def _corrupt(archive: Path, data: bytes) -> None:
    """Flip a byte near the end of the stored entry: its CRC-32 no longer matches."""
    raw = bytearray(archive.read_bytes())
    name_len, extra_len = struct.unpack("<HH", raw[26:30])
    at = 30 + name_len + extra_len + len(data) - 100
    raw[at] ^= 0xFF
    archive.write_bytes(bytes(raw))


async def test_a_big_entry_found_corrupt_as_it_is_staged_sends_no_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _SlowStaging(monkeypatch, pause=0.01)
    w = await World.logged_in(tmp_path, send_documents=True)
    parts = _parts_seen(w)
    archive, data = _zip_of_big_pdf(tmp_path)
    _corrupt(archive, data)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    await w.run(store)

    assert parts  # the upload ahead had started
    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.FAILED and item.reason == "archive.entry_corrupt"
    assert _documents(w, len(data)) == []
    names = {name for _, name in w.server.log}
    assert not names & {"SendMediaRequest", "SendMultiMediaRequest", "UploadMediaRequest"}
    await store.close()


async def test_a_stop_while_a_big_entry_is_staged_sends_nothing_then_it_goes_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = _SlowStaging(monkeypatch, pause=0.03)
    w = await World.logged_in(tmp_path, send_documents=True)
    first_part = _first_part(w)
    archive, data = _zip_of_big_pdf(tmp_path)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    engine = w.engine(store)
    running = asyncio.create_task(engine.run())
    await asyncio.wait_for(asyncio.to_thread(first_part.wait, 60), 70)
    engine.stop()
    await asyncio.wait_for(running, 60)

    assert slow.read_whole_at is None  # stopped mid-staging
    assert w.server.chat(w.channel) == []
    (item,) = await store.job_items(job.id) or [None]
    assert item is None or item.state is not ItemState.DELIVERED

    slow.pause = 0.0
    await _delivered_once(w, store, job.id, data)


# ------------------------------------------------------------- the registry alone


@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[Env]:
    server = FakeTelegram()
    me = server.add_user("Ann", phone="+15550001")
    client = await logged_in_client(server, me, flood_sleep_threshold=0)
    try:
        yield Env(server, me, client, FakeDialer(server), tmp_path)
    finally:
        await client.disconnect()


def _registry(env: Env) -> tuple[EarlyUploads, Uploader]:
    """The uploads ahead, on an uploader of their own (closed by the test)."""
    uploader = Uploader(env.client, env.dialer, connections=2, max_in_flight=4)

    async def get() -> Uploader:
        return uploader

    return EarlyUploads(asyncio.get_running_loop(), get), uploader


async def _written_early(
    env: Env, path: Path, data: bytes, declared: int
) -> tuple[EarlyUploads, Uploader]:
    """``data`` written to ``path`` on a thread as an upload ahead of it runs."""
    uploads, uploader = _registry(env)

    def write() -> None:
        ahead = uploads.start(path, declared)
        assert ahead is not None
        tmp = path.with_name(path.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        ahead.attach(os.open(tmp, os.O_RDONLY))
        for at in range(0, len(data), PART // 2):
            os.write(fd, data[at : at + PART // 2])
            ahead.wrote(min(len(data), at + PART // 2))
        os.close(fd)
        os.replace(tmp, path)
        ahead.ended(len(data))

    await asyncio.to_thread(write)
    return uploads, uploader


async def test_an_early_upload_is_taken_once_for_the_file_it_read(tg: Env) -> None:
    data = os.urandom(3 * PART + 5)
    path = tg.tmp / "a.bin"
    uploads, uploader = await _written_early(tg, path, data, len(data))
    other = tg.tmp / "b.bin"
    assert await uploads.take(other) is None  # another path: nothing
    uploaded = await uploads.take(path)
    assert uploaded is not None and uploaded.sha256 == sha(data)
    assert await tg.uploaded_sha256(uploaded.named("a.bin")) == sha(data)
    assert await uploads.take(path) is None  # taken once
    await uploader.close()


async def test_a_linked_file_goes_up_whole_and_is_taken_once(tg: Env) -> None:
    data = os.urandom(3 * PART + 5)
    path = tg.tmp / "a.bin"
    path.write_bytes(data)
    uploads, uploader = _registry(tg)
    ahead = await asyncio.to_thread(uploads.start, path, len(data))
    assert ahead is not None
    await asyncio.to_thread(ahead.linked, path)
    await eventually(lambda: uploads._entries, "the upload ahead begun")
    uploaded = await uploads.take(path)
    assert uploaded is not None and uploaded.sha256 == sha(data)
    assert await tg.uploaded_sha256(uploaded.named("a.bin")) == sha(data)
    assert await uploads.take(path) is None
    await uploader.close()


async def test_an_early_upload_of_a_file_replaced_since_is_not_used(tg: Env) -> None:
    data = os.urandom(2 * PART)
    path = tg.tmp / "a.bin"
    uploads, uploader = await _written_early(tg, path, data, len(data))
    path.unlink()
    path.write_bytes(data)  # the same bytes, another file (staged again)
    assert await uploads.take(path) is None
    await uploader.close()


async def test_an_entry_shorter_than_declared_leaves_no_upload(tg: Env) -> None:
    data = os.urandom(2 * PART)
    path = tg.tmp / "a.bin"
    uploads, uploader = await _written_early(tg, path, data, len(data) + 1)
    assert await uploads.take(path) is None
    await uploader.close()


async def test_a_cancel_while_a_big_entry_is_staged_sends_nothing_and_a_retry_goes_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel does not cut the reading thread's entry short (the lost lease stops the
    step, the thread writes on until the work folder goes): the upload ahead stops with
    the step, part-way, and nothing is sent."""
    slow = _SlowStaging(monkeypatch, pause=0.3)  # ~5 s to stage: the cancel comes first
    w = await World.logged_in(tmp_path, send_documents=True, lease_seconds=1.0)
    parts = _parts_seen(w)
    archive, data = _zip_of_big_pdf(tmp_path)
    store = await w.store()
    job = await intake.add_source(store, archive, dest="telegram:@dest")
    engine = w.engine(store)
    running = asyncio.create_task(engine.run())  # stays up after the cancel
    try:
        await eventually(lambda: bool(parts), "the upload ahead under way")
        await control.cancel_job(store, job.id)
        await eventually(
            lambda: not any(t.get_name().startswith("upload ahead") for t in asyncio.all_tasks()),
            "the upload ahead ended",
        )
        assert len(parts) < -(-len(data) // PART)  # stopped part-way
    finally:
        engine.stop()
        await asyncio.wait_for(running, 60)
    assert (await store.get_job(job.id)).state is JobState.CANCELLED
    assert w.server.chat(w.channel) == []

    again = await intake.add_source(store, archive, dest="telegram:@dest", force=True)
    slow.pause = 0.0
    await _delivered_once(w, store, again.id, data)


async def test_a_persons_big_file_whose_fsync_fails_is_not_sent_from_that_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fsync now runs beside the upload ahead: when it fails, the upload made meanwhile
    is dropped and the entry counts as not staged (read again), so the file is sent once,
    from a staging that was made durable."""
    w = await World.logged_in(tmp_path, send_documents=True)
    folder, data, inode = _folder_of_big_pdf(tmp_path)
    fsync = os.fsync
    failed: list[int] = []

    def fails_once(fd: int) -> None:
        if os.fstat(fd).st_ino == inode and not failed:
            failed.append(fd)
            raise OSError(errno.EIO, "Input/output error")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", fails_once)
    store = await w.store()
    job = await intake.add_source(store, folder, dest="telegram:@dest")
    await _delivered_once(w, store, job.id, data)
    assert failed
