"""Big uploads that resume: a crash costs the parts not yet acknowledged, not the file.

Telegram keeps an upload's parts under the client's ``file_id`` for a while (less than a
day) before ``uploadMedia``/``sendMedia`` uses them, and has no call to list them. So
the uploader keeps, in the store (``SinkState.upload_*``, table ``sink_uploads``), the
file id it chose and the parts Telegram acknowledged, and a run after a crash sends
the same file id's missing parts only. What makes that safe:

- the record names the file (its path, size, part size) and each acknowledged part's
  CRC-32 as it was read; on resume every part is still read (the digest the caller
  asked for needs the whole file) and a part already sent whose CRC differs now means
  the file changed: the upload starts over under a new file id, and the parts already
  sent under the old one are never named in an ``InputFileBig``;
- a record older than ``PARTS_KEPT`` is not tried; one Telegram no longer holds
  (``FILE_PART_N_MISSING`` at ``uploadMedia``/``sendMedia``) starts over as well,
  by the sink's refresh, the record being gone once the upload returned.

Acknowledged parts are written in batches (``BATCH_PARTS``, or ``BATCH_SECONDS`` after
the first unwritten one) by a task of their own, never awaited by a part's send: a
crash re-sends at most the parts in flight plus one batch. Only big files (over 10 MB,
``saveBigFilePart``) are recorded; a small one costs less to send again than to track.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from ferryman.model import UploadBook, UploadRecord

log = logging.getLogger(__name__)

BATCH_PARTS = 16  # acknowledged parts per write (8 MiB of 512 KiB parts)
BATCH_SECONDS = 1.0  # or this long after the first unwritten one
# Telegram does not say how long it keeps parts ("less than a day" is what users see):
# a record older than this is not tried, and records not written for a day are pruned.
PARTS_KEPT = 6 * 3600.0
PRUNE_AFTER = 24 * 3600.0


def crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


class Changed(Exception):
    """A part already sent reads differently now: the file is not the one begun."""


@dataclass(slots=True)
class Resume:
    """One big upload's record: what was acknowledged, and its writer."""

    book: UploadBook
    account: str
    key: str
    file_id: int
    size: int
    part_size: int
    clock: Callable[[], float]
    started_at: float
    done: set[int] = field(default_factory=set)
    checks: bytearray = field(default_factory=bytearray)
    resumed: frozenset[int] = frozenset()  # acknowledged by an earlier run
    _unwritten: int = 0
    _first_unwritten: float | None = None
    _writer: asyncio.Task[None] | None = None
    _closed: bool = False

    @classmethod
    async def open(
        cls,
        book: UploadBook,
        account: str,
        key: str,
        size: int,
        part_size: int,
        clock: Callable[[], float],
        new_file_id: Callable[[], int],
    ) -> Resume:
        """The record left for this file if it can be resumed, else a fresh one."""
        now = clock()
        count = -(-size // part_size)
        try:
            found = await book.upload_get(account, key)
        except Exception as exc:  # a resume is a saving, never a reason to fail
            log.warning("upload record of %s unreadable: %s", key, exc)
            found = None
        if (
            found is not None
            and found.size == size
            and found.part_size == part_size
            and len(found.checks) == 4 * count
            and now - found.started_at < PARTS_KEPT
            and found.done
            and max(found.done) < count
        ):
            log.info("resuming the upload of %s: %d of %d parts sent", key, len(found.done), count)
            return cls(
                book, account, key, found.file_id, size, part_size, clock, found.started_at,
                set(found.done), bytearray(found.checks), frozenset(found.done),
            )  # fmt: skip
        return cls(
            book, account, key, new_file_id(), size, part_size, clock, now,
            checks=bytearray(4 * count),
        )  # fmt: skip

    def sent_before(self, index: int, data: bytes) -> bool:
        """True: Telegram holds this part from an earlier run (not to be sent); raises
        :class:`Changed` if the file reads differently there now."""
        if index not in self.resumed:
            return False
        want = int.from_bytes(self.checks[4 * index : 4 * index + 4], "little")
        if crc(data) != want:
            raise Changed(f"part {index} of {self.key} changed since it was sent")
        return True

    def acknowledged(self, index: int, data: bytes) -> None:
        """Telegram acknowledged the part: kept, written with the next batch."""
        self.done.add(index)
        self.checks[4 * index : 4 * index + 4] = crc(data).to_bytes(4, "little")
        self._unwritten += 1
        now = self.clock()
        if self._first_unwritten is None:
            self._first_unwritten = now
        due = self._unwritten >= BATCH_PARTS or now - self._first_unwritten >= BATCH_SECONDS
        if due and (self._writer is None or self._writer.done()) and not self._closed:
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        self._unwritten, self._first_unwritten = 0, None
        record = UploadRecord(
            self.account,
            self.key,
            self.file_id,
            self.size,
            self.part_size,
            frozenset(self.done),
            bytes(self.checks),
            self.started_at,
        )
        try:
            await self.book.upload_put(record, prune_before=self.clock() - PRUNE_AFTER)
        except Exception as exc:  # the next batch tries again; the upload goes on
            log.warning("upload record of %s not written: %s", self.key, exc)

    async def close(self, *, keep: bool) -> None:
        """The upload ended: its record goes (``keep`` False: it finished, or starts over),
        or stays with every part acknowledged so far (it failed: the next run resumes)."""
        self._closed = True
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        if keep:
            if self._unwritten and self.done:
                await self._write()
            return
        try:
            await self.book.upload_forget(self.account, self.key)
        except Exception as exc:
            log.warning("upload record of %s not removed: %s", self.key, exc)
