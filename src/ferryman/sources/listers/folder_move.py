"""``--then move:DIR``: a person's file moved out of a watched folder, never over a file.

On one filesystem the move is a hard link, then the old name's removal: a link never
replaces a file that took the name meanwhile. Across filesystems (a phone's SD card, a
USB disk, often exFAT, which holds no hard links) the file is copied under a hidden name
beside its target, made durable and read back (its size and sha256 against the
original's), then put in place, never over a file: a name taken while it was copied (a
second watch moving into the same DIR, the person) keeps its file, and this one takes
the next free name (``IMG_1 (2).jpg``). Only then does the original go. A copy that
fails (a full disk) takes its hidden file with it: nothing half-written stays behind.
A move a kill cut short on one filesystem (the file linked into DIR, its original's
name still in the folder) is ended at the next look by removing that name, not by a
second name ``IMG_1 (2).jpg``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from pathlib import Path

from ferryman.errors import FerrymanError
from ferryman.fsutil import fsync_dir

# A hard link cannot be made here: another filesystem, or one without links (exFAT).
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def free_name(target: Path) -> Path:
    """``target``, or ``name (2).ext``… when a file there has its name."""
    found, n = target, 1
    while os.path.lexists(found):
        n += 1
        found = _numbered(target, n)
    return found


def move_file(path: Path, wanted: Path) -> Path:
    """``path`` moved to ``wanted``, or the next free name beside it; where it went. A
    name there that is this very file already (a move a kill cut between its link and
    the original's removal) ends the move: the original's name goes, no second copy is
    made."""
    there = _already(path, wanted)
    if there is not None:
        path.unlink()
        return there
    target = free_name(wanted)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, target, follow_symlinks=False)  # never over a file that appeared
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        target = _copied(path, target)
    path.unlink()
    return target


def _already(path: Path, wanted: Path) -> Path | None:
    """The name of ``wanted``'s (``wanted``, ``wanted (2)``…, as far as they are taken)
    that is ``path``'s own file (its inode: the link a move made before a kill), if
    one is. A file of the same bytes but its own inode is not: it may be the library's
    copy (DIR inside the library), and the person's file would be one copy less."""
    found, n = wanted, 1
    while os.path.lexists(found):
        try:
            if os.path.samefile(path, found):
                return found
        except OSError:
            pass
        n += 1
        found = _numbered(wanted, n)
    return None


def _numbered(target: Path, n: int) -> Path:
    return target.with_name(f"{target.stem} ({n}){target.suffix}")


def _copied(path: Path, target: Path) -> Path:
    """``path`` copied beside ``target``, read back, and put in place under a free name;
    the folder made durable before the caller lets the original go."""
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        shutil.copy2(path, part, follow_symlinks=False)
        with part.open("rb+") as handle:
            os.fsync(handle.fileno())
        if _digest(part) != _digest(path):
            raise FerrymanError(
                "watch.move_failed",
                f"{target}: the copy does not hold what {path} holds (the disk or another"
                " program changed it); the file is left where it is",
            )
        placed = _put(part, target)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    fsync_dir(placed.parent)
    return placed


def _put(part: Path, target: Path) -> Path:
    """The copy renamed to ``target``'s first free name, never over a file."""
    while True:
        target = free_name(target)
        try:
            os.link(part, target)
        except FileExistsError:
            continue  # taken since it was looked at: the next one
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
            if os.path.lexists(target):  # no links on this disk: a look, then a rename
                continue
            os.rename(part, target)
            return target
        part.unlink()
        return target


def _digest(path: Path) -> tuple[int, str]:
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return os.fstat(handle.fileno()).st_size, digest
