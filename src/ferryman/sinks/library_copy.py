"""How a library writes a file: its own copy, checked, dated when it was taken.

A library is a backup: its file must never be the person's file under a second name.
A hard link is one file with two names (an editor saving in place, or ``: > a.jpg``,
changes "both"), so a file the work area shares with a person (a folder's file, linked
unread) is copied: a copy-on-write clone where the filesystem has one (``FICLONE`` on
Btrfs and XFS, ``clonefile`` on APFS: no bytes written, yet an independent file), else
a copy in the kernel (``copy_file_range``, ``sendfile``), then fsynced. A work file
that is ferryman's alone (written from an archive) is linked: nobody else holds it, and
a second copy of every photo on a full phone is not wanted. Hard links to a person's
file only when asked (``library_link = "hardlink"``): then the file keeps its dates.

Every file written is read back before its record says it is there: size and sha256
of what is on disk against the source's (``verify``)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ferryman.errors import FerrymanError

COPY = "copy"  # an independent copy (a clone where the filesystem has one): a backup
HARDLINK = "hardlink"  # the person's file linked (asked for): not a backup
MODES = (COPY, HARDLINK)
FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_CHUNK = 1 << 20
# A link cannot be made here (another filesystem, or one without links): copied instead.
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP})
# A kernel copy this filesystem or kernel does not do: the next way is tried.
_NOT_HERE = frozenset(
    {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOTTY}
)


def ours_alone(path: Path | str) -> bool:
    """Whether the work file is ferryman's alone: one name (a copy it wrote). A file
    linked from a person's folder has two, the person's and the work area's."""
    try:
        return os.stat(path).st_nlink == 1
    except OSError:
        return False


def place_copy(src: Path | str, dst: str, mode: str = COPY, taken: float | None = None) -> None:
    """``src`` written as ``dst`` (which must not exist), durable: linked when the work
    file is ferryman's alone or hard links are asked for, else an independent copy.
    ``taken``: the copy's modified time (when the photo was taken), set on ferryman's
    own file only; without it a copy keeps the source's own time."""
    alone = ours_alone(src)
    if alone or mode == HARDLINK:
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
        else:
            if alone and taken is not None:
                _date(dst, taken)  # ferryman's own inode: no person's date changes
            return
    independent_copy(src, dst, taken)


def independent_copy(src: Path | str, dst: str, taken: float | None = None) -> str:
    """``src`` copied as a new file ``dst``, fsynced; how (``clone``, ``kernel``,
    ``read``). Its modified time: ``taken``, else the source's."""
    if sys.platform == "darwin" and _clonefile(src, dst):  # pragma: no cover - macOS
        when = taken if taken is not None else os.stat(src).st_mtime
        with contextlib.suppress(OSError, OverflowError, ValueError):
            os.utime(dst, (when, when))
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return "clone"
    with open(src, "rb") as source:
        st = os.fstat(source.fileno())
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            how = _copy(source.fileno(), fd, st.st_size)
            when = taken if taken is not None else st.st_mtime
            with contextlib.suppress(OSError, OverflowError, ValueError):
                os.utime(fd, (when, when))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(dst)
            raise
        os.close(fd)
    return how


def _copy(src: int, dst: int, size: int) -> str:
    """The bytes of ``src`` into the empty ``dst``: cloned, else copied in the kernel,
    else read and written."""
    if _clone(src, dst):
        return "clone"
    done = 0
    for way in (_copy_file_range, _sendfile):
        try:
            done = _loop(way, src, dst, size, done)
        except OSError as exc:
            if exc.errno not in _NOT_HERE or done:
                raise
            continue
        return "kernel"
    while block := os.read(src, _CHUNK):
        view = memoryview(block)
        while view:
            view = view[os.write(dst, view) :]
    return "read"


def _clonefile(src: Path | str, dst: str) -> bool:  # pragma: no cover - macOS
    """APFS's ``clonefile(2)`` (paths, not descriptors), where libc has it."""
    import ctypes  # lazy: macOS only

    try:
        clonefile = ctypes.CDLL(None, use_errno=True).clonefile
    except (OSError, AttributeError):
        return False
    return bool(clonefile(os.fsencode(src), os.fsencode(dst), 0) == 0)


def _clone(src: int, dst: int) -> bool:
    """A copy-on-write clone, where the filesystem has one."""
    if sys.platform == "darwin":  # pragma: no cover - macOS: ``_clonefile`` was tried
        return False
    try:
        import fcntl  # lazy: not on every platform

        fcntl.ioctl(dst, FICLONE, src)
    except OSError:
        return False
    return True


def _copy_file_range(src: int, dst: int, count: int) -> int:
    return os.copy_file_range(src, dst, count)


def _sendfile(src: int, dst: int, count: int) -> int:
    return os.sendfile(dst, src, None, count)


def _loop(way: Callable[[int, int, int], int], src: int, dst: int, size: int, done: int) -> int:
    """``way`` called until the source is read to its end (it may have grown)."""
    while True:
        sent = way(src, dst, max(size - done, _CHUNK))
        if sent == 0:
            return done
        done += sent


def file_sha256(path: Path | str) -> tuple[int, str]:
    """The file's size and sha256, as it is on disk now."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        return os.fstat(handle.fileno()).st_size, digest.hexdigest()


def verify(path: Path | str, size: int, sha256: str) -> None:
    """``sink.io`` unless the file at ``path`` holds ``size`` bytes whose sha256 is
    ``sha256``: a write is checked before its record says it is there."""
    found = file_sha256(path)
    if found != (size, sha256):
        raise FerrymanError(
            "sink.io",
            f"{path} does not hold what was written (size {found[0]}, not {size}, or other"
            " bytes): the disk or another program changed it",
        )


def _date(path: str, taken: float) -> None:
    """A library file dated when it was taken (a file browser sorts a 2019 photo as
    2019's); a time the filesystem cannot hold leaves the file's own."""
    with contextlib.suppress(OSError, OverflowError, ValueError):
        os.utime(path, (taken, taken))


def holds_bytes(path: str, digest: tuple[int, str]) -> bool:
    """Whether the file at ``path`` holds these bytes (size first: most differ there)."""
    try:
        if os.stat(path).st_size != digest[0]:
            return False
        return file_sha256(path) == digest
    except OSError:
        return False


def put_new(source: str, target: str) -> bool:
    """``source`` renamed as ``target``, never over a file there: False, left, if one
    is, unless it is this very file (linked before a kill). Linked, then unlinked:
    a filesystem without links (exFAT, some shares) is renamed to after a look."""
    try:
        os.link(source, target)
    except FileExistsError:
        if os.path.samefile(source, target):
            os.unlink(source)
            return True
        return False
    except OSError:
        if os.path.lexists(target):
            return False
        os.rename(source, target)
        return True
    os.unlink(source)
    return True
