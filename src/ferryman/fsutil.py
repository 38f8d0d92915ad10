"""File operations every layer needs: safe names, link-or-copy, durable renames, cleanup
(what a delivered file or a job is called: ``naming``)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import stat
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP)
# A safe name's most UTF-8 bytes: prefixes and suffixes added to it stay within 255.
_NAME_BYTES = 180
_EXT_BYTES = 16  # a longer "extension" is part of the name
_JOINERS = frozenset("\u200c\u200d")  # zero-width non-joiner and joiner: kept


def safe_name(name: str, fallback: str = "file") -> str:
    """A file or folder name that is safe on every filesystem ferryman writes to.

    Format characters (Unicode category Cf: bidi overrides and isolates, U+200E/F,
    U+061C, BOMs, soft hyphens) are dropped, so a name shows as it is spelled
    (``in_side\\u202egpj.mp4`` showed as ``in_side4pm.jpg``); the two joiners stay
    (an emoji family, Persian and Indic words need them, and they reorder nothing).
    Control characters (C0, DEL, C1) become ``_``.

    Cut to ``_NAME_BYTES`` UTF-8 bytes, not characters (NAME_MAX counts bytes: 180
    kanji are 540), keeping a short extension, so that the work area's
    ``000123-NAME.part`` still fits in 255 bytes and the file keeps its type.
    """
    if not name.isascii():  # ASCII is NFC already and holds no format character
        name = unicodedata.normalize("NFC", name)
        name = "".join(c for c in name if c in _JOINERS or unicodedata.category(c) != "Cf")
    name = re.sub(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]', "_", name).strip(" .")
    return _fit_bytes(name, _NAME_BYTES) or fallback


def _fit_bytes(name: str, limit: int) -> str:
    """``name`` within ``limit`` UTF-8 bytes, its stem cut on a character boundary and a
    short extension (``.jpg``, not a dotted sentence's tail) kept."""
    if len(name.encode()) <= limit:
        return name
    before, dot, ext = name.rpartition(".")
    tail = f".{ext}" if dot and before and len(ext.encode()) <= _EXT_BYTES else ""
    head = name[: len(name) - len(tail)]
    cut = head.encode()[: limit - len(tail.encode())].decode("utf-8", "ignore")
    return f"{cut.rstrip(' .')}{tail}".strip(" .")


def link_or_copy(src: Path, dst: Path | str) -> None:
    """Hard-link (no second copy on a full phone); copy and fsync across filesystems,
    the copy dated as the original (a library sorts by it)."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        shutil.copyfile(src, dst)
        with open(dst, "rb") as handle:
            with contextlib.suppress(OSError):
                st = os.stat(src)
                os.utime(handle.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
            os.fsync(handle.fileno())


def fsync_file(path: Path) -> None:
    """Make a file written without an fsync durable (before a rename puts it in place)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` survive a power cut (a folder opens read-only, as a
    file does: the same call)."""
    fsync_file(path)


def write_private(path: Path, text: str) -> None:
    """Put ``text`` at ``path`` whole or not at all, readable by this user alone (0600):
    a secret (a cookies file, an rclone.conf) is never seen half written, nor by others."""
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, path)


class PrivateFile:
    """A file the server keeps for a person or for itself (a cookies file, an
    rclone.conf): ``<data_dir>/<kind>/<name>``, or ``<kind>/people/<person>/<name>``,
    owner-only folders and file (blocking: off the event loop)."""

    def __init__(self, data_dir: Path, kind: str, name: str, person: int | None) -> None:
        """``person``: a person's own (``users.id``); None: the server's."""
        self.folder = data_dir / kind
        if person is not None:
            self.folder = self.folder / "people" / str(person)
        self.path = self.folder / name

    def keep(self, text: str) -> None:
        """Put ``text`` in place whole (``write_private``), its folder owner-only."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.folder, 0o700)  # made earlier with another mode: owner-only now
        write_private(self.path, text)

    def remove(self) -> bool:
        """Whether there was one to remove."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True


def make_durable(paths: list[Path]) -> None:
    """fsync files written by a library that does not (PyAV, Pillow), then their folders,
    so a record that names them never outlives them after a power cut (a phone reboot)."""
    for path in paths:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    for folder in {path.parent for path in paths}:
        fsync_dir(folder)


def remove_files(paths: list[str]) -> None:
    """Delete work files; one already gone is fine (a crash may have come between)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def sha256_file(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


async def write_whole(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``asyncio.to_thread(fn, …)`` for a write that a cancel must not leave running: the
    cancelled caller waits for the write to end, then the cancel goes on. Else its bytes
    land after the caller moved on: a cancelled download's last chunk was appended after
    the next fetch had measured the file (that chunk asked for twice), or a file was
    closed under a write still on its thread."""
    import asyncio  # lazy: the CLI's start-up loads this module

    write = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(write)
        except asyncio.CancelledError:
            if not write.done():
                cancelled = True  # the caller's cancel: wait for the write, then raise
                continue
            raise
        if cancelled:
            raise asyncio.CancelledError
        return result


class NotAFile(OSError):
    """What was opened is no regular file (a folder, a FIFO, a device)."""


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once, to be refused by its fstat
_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_FILE = os.O_RDONLY | _NOFOLLOW | _NONBLOCK | getattr(os, "O_CLOEXEC", 0)
FOLDER_NOFOLLOW = _DIR | _NOFOLLOW  # a folder opened below another, never through a link


class Held:
    """A regular file opened once: every read, size and link of it goes through this
    handle, never through its name again, so a name swapped for a link (or another file)
    once it was opened changes nothing of what is read. Closed by ``close`` (or when
    dropped)."""

    __slots__ = ("fd", "path", "st")

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path  # its name, for messages and the hard link checked below
        try:
            self.st = os.fstat(fd)
            if not stat.S_ISREG(self.st.st_mode):
                raise NotAFile(errno.EINVAL, "not a regular file", str(path))
            os.set_blocking(fd, True)
        except BaseException:
            self.close()
            raise

    def blocks(self, block_size: int) -> Iterator[bytes]:
        """The file's bytes from its first, whoever read it before (``pread``)."""
        offset = 0
        while block := os.pread(self.fd, block_size, offset):
            offset += len(block)
            yield block

    def link_as(self, dest: Path) -> None:
        """Hard-link this very file as ``dest``: linked by its name (``linkat`` of the
        name, a link itself never followed), then kept only if ``dest`` is the inode
        this handle holds; else ``dest`` is removed and ``OSError`` (EXDEV) raised, and
        the caller copies from the handle."""
        os.link(self.path, dest, follow_symlinks=False)
        try:
            linked = os.lstat(dest)
        except OSError:
            linked = None
        if linked is None or (linked.st_dev, linked.st_ino) != (self.st.st_dev, self.st.st_ino):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dest)
            raise OSError(errno.EXDEV, "the name no longer holds the file opened", str(dest))

    def reopened(self) -> Path:
        """A name that opens this very file again (a server that opens what it sends by
        name): ``/proc/self/fd/N`` where the system has it, else its own name."""
        proc = Path(f"/proc/self/fd/{self.fd}")
        try:
            same = os.stat(proc)
        except OSError:
            return self.path
        return proc if (same.st_dev, same.st_ino) == (self.st.st_dev, self.st.st_ino) else self.path

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()


def open_held(path: Path) -> Held:
    """``path`` opened as a person named it (links in it followed, as they chose), a
    regular file or ``NotAFile``."""
    flags = _FILE & ~_NOFOLLOW
    return Held(os.open(path, flags), path)


def open_folder(path: Path) -> int:
    """A folder's handle (links in its path followed: its path is the one named)."""
    return os.open(path, _DIR)


def open_below(root: int, rel: str, shown: Path) -> Held:
    """The regular file at ``rel`` below the folder ``root`` (a handle), opened one
    component at a time relative to the last, following no link anywhere below it:
    a link met raises ``OSError`` ELOOP (ENOTDIR for one in place of a folder), ``..``
    EINVAL, what is no regular file ``NotAFile``. ``shown``: its full name."""
    parts = rel.split("/")
    if not rel or any(part in ("", ".", "..") for part in parts):
        raise OSError(errno.EINVAL, "not a path below the folder", rel)
    at = root
    try:
        for part in parts[:-1]:
            below = os.open(part, FOLDER_NOFOLLOW, dir_fd=at)
            if at != root:
                os.close(at)
            at = below
        return Held(os.open(parts[-1], _FILE, dir_fd=at), shown)
    finally:
        if at != root:
            os.close(at)
