"""The ``.part`` file's blocking side: append, fsync, finish by rename, and recover.

Every function here blocks; the downloader calls them on a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import replace
from pathlib import Path

from ferryman.errors import FerrymanError
from ferryman.fsutil import fsync_dir
from ferryman.net.sidecar import PartRecord, part_path, read_record, remove_part, write_record

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class PartWriter:
    """Appends to a ``.part`` that holds exactly ``offset`` bytes; ENOSPC is ``space.low``."""

    def __init__(self, path: Path, offset: int) -> None:
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        size = os.fstat(self._file.fileno()).st_size
        if size > offset:  # bytes the record does not vouch for
            self._file.truncate(offset)
        elif size < offset:
            self._file.close()
            raise FerrymanError.internal(
                RuntimeError(f"{path} holds {size} bytes, expected {offset}")
            )

    def write(self, data: bytes, *, sync: bool) -> None:
        try:
            self._file.write(data)
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                message = f"disk full while writing {self._file.name}"
                raise FerrymanError("space.low", message) from exc
            raise

    def size(self) -> int:
        return os.fstat(self._file.fileno()).st_size

    def close(self) -> None:
        self._file.close()


def start_over(folder: Path, old: PartRecord | None, new: PartRecord) -> None:
    """Drop the old bytes, then record the new content: never a record over stale bytes."""
    if old is not None and old.name != new.name:
        remove_part(folder, old.name)
    with contextlib.suppress(FileNotFoundError):
        part_path(folder, new.name).unlink()
    fsync_dir(folder)
    write_record(folder, new)


def drop_bytes(folder: Path, record: PartRecord) -> None:
    """Keep the record (its validators still hold), lose the bytes: resume from zero."""
    with contextlib.suppress(FileNotFoundError):
        part_path(folder, record.name).unlink()
    fsync_dir(folder)


def finish(folder: Path, record: PartRecord) -> PartRecord | None:
    """Rename the part to its name once its size matches; None when it does not.

    The record is marked complete afterwards, so a crash between the two is
    recognised by :func:`recover` (the part gone, the file there at its size).
    """
    part = part_path(folder, record.name)
    with open(part, "rb") as handle:
        os.fsync(handle.fileno())
        size = os.fstat(handle.fileno()).st_size
    if record.size is not None and size != record.size:
        return None
    os.replace(part, folder / record.name)
    fsync_dir(folder)
    done = replace(record, size=size, complete=True)
    write_record(folder, done)
    return done


def recover(folder: Path) -> tuple[PartRecord | None, int]:
    """The folder's record and the offset to resume from, after any crash.

    A part longer than the record's size is not trusted and starts over. A complete
    record (or a finished file at the record's size) returns offset == size.
    """
    folder.mkdir(parents=True, exist_ok=True)
    record = read_record(folder)
    if record is None:
        return None, 0
    final = folder / record.name
    part = part_path(folder, record.name)
    if not part.exists():
        if final.is_file() and (record.complete or record.size is not None):
            size = final.stat().st_size
            if record.size is None or size == record.size:
                if not record.complete:
                    record = replace(record, size=size, complete=True)
                    write_record(folder, record)
                return record, size
        return replace(record, complete=False), 0
    length = part.stat().st_size
    if record.size is not None and length > record.size:
        part.unlink()
        fsync_dir(folder)
        return record, 0
    return record, length


def held(folder: Path) -> tuple[int, int | None]:
    """Bytes a download in ``folder`` already holds, and its total when known; it reads
    and changes nothing else (``recover`` decides what is trusted)."""
    record = read_record(folder)
    if record is None:
        return 0, None
    with contextlib.suppress(OSError):
        return part_path(folder, record.name).stat().st_size, record.size
    with contextlib.suppress(OSError):
        if record.complete:
            return (folder / record.name).stat().st_size, record.size
    return 0, record.size


def read_head(path: Path, limit: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(limit)
