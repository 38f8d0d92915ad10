"""The SQLite store's file: made whole, and looked at for damage before it is opened.

SQLite takes a zero-byte file for a new database and a WAL whose header is garbage
for an empty one, and would write over both: state lost without a word (a phone's
filesystem can leave a zero-length file after a power cut). So a new store is made
under a temporary name and linked into place whole (a store of zero bytes is never
ferryman's own making, so one found is damage, not a store to start), and every open
looks first; the full store also runs ``PRAGMA quick_check`` once (about 1 ms per MB).
Each finding is ``store.corrupt``, naming the file and how to start afresh.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
from pathlib import Path
from typing import Any

from ferryman.errors import FerrymanError

HEADER = b"SQLite format 3\x00"
_WAL_MAGIC = (0x377F0682, 0x377F0683)  # little- and big-endian checksums
_WAL_HEADER = 32
# What SQLite says of a file that is not one of its databases, or a broken one.
_DAMAGE = ("file is not a database", "database disk image is malformed", "malformed database")


def make_whole(path: Path) -> None:
    """A missing store made as an empty WAL database, in one link: another process
    never sees it half made (zero bytes), and one made meanwhile is kept. OSError when
    it cannot be made (the caller says so as it did before)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        try:
            with contextlib.closing(sqlite3.connect(fresh)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")  # writes the header: a whole file
        except sqlite3.Error as exc:
            raise OSError(f"cannot make {fresh}: {exc}") from exc
        try:
            os.link(fresh, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links here (FAT, a phone's shared storage)
            _copy_if_missing(fresh, path)
    finally:
        for leftover in (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm")):
            leftover.unlink(missing_ok=True)


def _copy_if_missing(fresh: Path, path: Path) -> None:
    """``fresh``'s bytes as ``path``, made only if no one made it meanwhile."""
    data = fresh.read_bytes()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def damage(path: Path) -> str | None:
    """What is wrong with the store at ``path`` as its bytes show (None: nothing seen,
    no file yet, or one this process may not read). Reads 100 bytes of it and 32 of
    its WAL."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(100)
    except OSError:  # none yet, or unreadable: not damage (SQLite's own error says why)
        return None
    if not head:
        return "it has zero bytes: whatever it held is gone"
    if len(head) < 100 or not head.startswith(HEADER):
        return "it is not an SQLite database"
    return _wal_damage(Path(f"{path}-wal"))


def _wal_damage(wal: Path) -> str | None:
    try:
        with open(wal, "rb") as handle:
            head = handle.read(_WAL_HEADER)
    except OSError:
        return None
    if not head:
        return None  # emptied by a checkpoint: nothing waits in it
    if len(head) < _WAL_HEADER:
        return f"its -wal file ({wal.name}) is cut short"
    magic, version = struct.unpack(">II", head[:8])
    if magic not in _WAL_MAGIC or version != 3007000:
        return f"its -wal file ({wal.name}) is not SQLite's"
    words = struct.unpack(f"{'>' if magic & 1 else '<'}6I", head[:24])
    if _checksum(words) != struct.unpack(">II", head[24:32]):
        return f"its -wal file ({wal.name}) has a damaged header"
    return None


def _checksum(words: tuple[int, ...]) -> tuple[int, int]:
    """SQLite's WAL checksum over pairs of 32-bit words."""
    s0 = s1 = 0
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def is_damage(exc: BaseException) -> bool:
    """Whether SQLite's error ``exc`` (or the one it wraps) says the file is damaged."""
    told = str(getattr(exc, "orig", None) or exc).lower()
    return any(words in told for words in _DAMAGE)


def check_quickly(conn: sqlite3.Connection) -> str | None:
    """``PRAGMA quick_check``'s first finding, or None when the database is whole."""
    return quick_check_finding(conn.execute("PRAGMA quick_check(1)").fetchone())


def quick_check_finding(row: Any) -> str | None:
    """The finding in ``PRAGMA quick_check(1)``'s row: None for "ok"."""
    return None if row and row[0] == "ok" else str(row[0] if row else "no answer")


def corrupt(path: Path, detail: str, *, wal: bool = False) -> FerrymanError:
    """``store.corrupt`` for the store at ``path``; the message names what to move."""
    if wal:  # the database file is whole: without its WAL it opens as last checkpointed
        move = f"mv {path}-wal {path}-wal.damaged (the changes since its last checkpoint are lost)"
    else:
        move = f"mv {path} {path}.damaged (and its -wal and -shm files, if any)"
    return FerrymanError(
        "store.corrupt", f"the store {path} is damaged ({detail}); to start afresh: {move}"
    )


def check(path: Path) -> None:
    """Raise ``store.corrupt`` for damage ``damage`` finds."""
    found = damage(path)
    if found is not None:
        raise corrupt(path, found, wal="-wal file" in found)
