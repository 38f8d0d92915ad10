"""Streamed links to files Telegram keeps on another data centre, or sends to its CDN.

The engine sends a document to a channel through the pool (a user and two bots, the
real Telethon against the fake); the fake then keeps it on DC 4 (every account lives on
DC 2: ``upload.getFile`` answers ``FILE_MIGRATE_4``) or hands it to its CDN (a redirect,
encrypted bytes, hashes per 128 KiB part). The link reads it whole and by ranges, each
account on its own connection there, opened once and kept; a CDN part sent wrong never
reaches the reader.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from faketg.client import FakeDialer
from faketg.dcs import CDN_PART, corrupt_cdn_part, move_media, put_on_cdn
from ferryman.resources import Shared
from ferryman.sinks.telegram_files import telegram_files
from ferryman.telegram.stream import read_range
from ferryman.web.telegram_links import TelegramStreams
from tests.telegram.test_telegram_stream_links import MIB, SIZE, delivered

RANGES = [(0, 99), (MIB - 10, MIB + 10), (2 * MIB, SIZE - 1), (SIZE - 1000, SIZE - 1)]


async def _read(streams: TelegramStreams, kept: object, start: int, end: int) -> bytes:
    readers = await streams.readers(kept)  # type: ignore[arg-type]
    return b"".join([b async for b in read_range(readers, SIZE, start, end)])


def _asked(log: list[tuple[int | None, str]], mark: int, name: str) -> list[int | None]:
    return [who for who, asked in log[mark:] if asked == name]


async def test_a_file_on_another_dc_is_read_whole_and_by_ranges_through_each_accounts_own(
    tmp_path: Path,
) -> None:
    w, store, job, source = await delivered(tmp_path)
    shared = Shared(w.settings, FakeDialer(w.server))
    streams = TelegramStreams(shared)
    try:
        [kept] = await telegram_files(store.sink_state("telegram"), job.id)
        move_media(w.server.media[kept.document_id], 4)
        mark = len(w.server.log)
        whole = await _read(streams, kept, 0, SIZE - 1)
        assert hashlib.sha256(whole).digest() == hashlib.sha256(source).digest()
        migrated = w.server.dcs.migrated
        assert migrated >= 3  # each account told at least once
        for start, end in RANGES:
            assert await _read(streams, kept, start, end) == source[start : end + 1]
        assert w.server.dcs.migrated == migrated  # the ranges went straight to DC 4
        accounts = {w.me.id, w.bot1.id, w.bot2.id}
        # Each account logged in on DC 4 once, for the whole file and every range after.
        exported = _asked(w.server.log, mark, "ExportAuthorizationRequest")
        assert sorted(exported) == sorted(accounts), exported  # type: ignore[type-var]
        imported = _asked(w.server.log, mark, "ImportAuthorizationRequest")
        assert len(imported) == 3
        assert set(_asked(w.server.log, mark, "GetFileRequest")) == accounts
        on_dc4 = [s for s in w.server.senders.values() if s.dc_id == 4 and w.server.account_of(s)]
        assert {w.server.account_of(s).id for s in on_dc4} == accounts  # type: ignore[union-attr]
        assert len(on_dc4) == 3  # one connection each (streams use one), kept
    finally:
        await streams.close()
        await shared.close()
        await store.close()


async def test_a_cdn_file_is_read_whole_and_by_ranges_each_part_checked(tmp_path: Path) -> None:
    w, store, job, source = await delivered(tmp_path)
    shared = Shared(w.settings, FakeDialer(w.server))
    streams = TelegramStreams(shared)
    try:
        [kept] = await telegram_files(store.sink_state("telegram"), job.id)
        put_on_cdn(w.server, w.server.media[kept.document_id])
        mark = len(w.server.log)
        whole = await _read(streams, kept, 0, SIZE - 1)
        assert hashlib.sha256(whole).digest() == hashlib.sha256(source).digest()
        for start, end in RANGES:
            assert await _read(streams, kept, start, end) == source[start : end + 1]
        dcs = w.server.dcs
        assert dcs.redirects >= 3 and dcs.cdn_parts >= 11  # 8 head pieces + 3 blocks at least
        # The bytes came from the CDN, on connections logged in as nobody.
        assert set(_asked(w.server.log, mark, "GetCdnFileRequest")) == {None}
        # Past the redirect's first MiB of hashes, the master DC was asked for the rest.
        assert _asked(w.server.log, mark, "GetCdnFileHashesRequest")
    finally:
        await streams.close()
        await shared.close()
        await store.close()


async def test_a_file_not_yet_on_the_cdn_is_reuploaded_then_read(tmp_path: Path) -> None:
    w, store, job, source = await delivered(tmp_path)
    shared = Shared(w.settings, FakeDialer(w.server))
    streams = TelegramStreams(shared)
    try:
        [kept] = await telegram_files(store.sink_state("telegram"), job.id)
        put_on_cdn(w.server, w.server.media[kept.document_id], reupload_needed=True)
        mark = len(w.server.log)
        whole = await _read(streams, kept, 0, SIZE - 1)
        assert whole == source
        assert w.server.dcs.reuploads >= 1
        assert _asked(w.server.log, mark, "ReuploadCdnFileRequest")
    finally:
        await streams.close()
        await shared.close()
        await store.close()


async def test_a_cdn_part_with_wrong_bytes_never_reaches_the_reader(tmp_path: Path) -> None:
    """The CDN sends a head piece and a whole block's part wrong, again and again: each
    fails its hash and comes from the master DC instead; the reader gets the file."""
    w, store, job, source = await delivered(tmp_path)
    shared = Shared(w.settings, FakeDialer(w.server))
    streams = TelegramStreams(shared)
    try:
        [kept] = await telegram_files(store.sink_state("telegram"), job.id)
        media = w.server.media[kept.document_id]
        put_on_cdn(w.server, media)
        corrupt_cdn_part(w.server, media, 3 * CDN_PART, times=100)  # in the head pieces
        corrupt_cdn_part(w.server, media, 2 * MIB + CDN_PART, times=100)  # in a whole block
        readers = await streams.readers(kept)
        whole = b"".join([b async for b in read_range(readers, SIZE, 0, SIZE - 1)])
        assert hashlib.sha256(whole).digest() == hashlib.sha256(source).digest()
        assert w.server.dcs.corrupted == 2  # both were sent wrong, once each
        assert sum(r.way.refused for r in readers if r.way is not None) == 2
        part = await _read(streams, kept, 2 * MIB, 2 * MIB + 2 * CDN_PART)
        assert part == source[2 * MIB : 2 * MIB + 2 * CDN_PART + 1]
        assert w.server.dcs.corrupted == 3
    finally:
        await streams.close()
        await shared.close()
        await store.close()
