"""A folder on this machine (a phone's camera roll, a scanner's drop folder): its media
files and archives, each taken once, however it is renamed or moved inside the tree.

A file's stable id is its content's, not its path's: its size, its modification time
(whole seconds: a rename or a move keeps it) and a hash of its first and last 256 KiB
(``file_key``), so a rename or a move into a subfolder is not new, and a file
changed in place is. A file still being written (modified within
``watch.settle_seconds``, or changed while it was hashed) is not listed yet but
named with when to look again (``WatchEntry.ready_at``). Hidden names (``.thumbnails``,
Android's ``.pending-…`` and ``.trashed-…``) are left out, symlinks inside the tree are
not followed. Keys are kept in a cache file in the data dir, by path, inode, size and
modification time, so a look at a folder of thousands re-reads only what changed.

Change notification (``changes``) is watchfiles' (Rust ``notify``: inotify, FSEvents,
ReadDirectoryChanges): it only wakes the watch early; the watch's ``--every`` poll
finds what a platform does not report (Android's shared storage, a network mount).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
import re
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

from ferryman.archive.suffixes import named_archive
from ferryman.clock import SYSTEM
from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.fsutil import FOLDER_NOFOLLOW as _FOLDER
from ferryman.fsutil import Held, open_below, open_folder, open_held
from ferryman.media.camera_files import CAMERA_MEDIA_SUFFIXES, RAW_SUFFIXES, SIDECAR_SUFFIXES
from ferryman.net.own_thread import on_own_thread
from ferryman.sources.listers.base import WatchEntry
from ferryman.sources.listers.folder_move import move_file
from ferryman.sources.local_path import below_of, below_uri, readable

log = logging.getLogger(__name__)

EDGE = 256 << 10  # bytes hashed at each end of a file (a first look at 10,000 photos: 5 GB)
LIBRARY_MARK = ".ferryman"  # a laid-out library's records (sinks/flat.HIDDEN): never walked
_ALBUM = re.compile(r"\d{4}(\.[0-9a-f]{16})?")  # an album of the albums layout (sinks/library)
_MANIFEST_HEAD = re.compile(rb'\{\s*"key":\s*"job-\d+/album-\d+"')  # sinks/library's own
_MANIFEST_OPEN = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
NOTICE_TICK = 2000  # ms: an empty batch of changes when none came (the watcher is on)
_MEDIA_FAMILIES = ("image/", "video/", "audio/")
# And a camera's own files: photos and clips of names ``mimetypes`` does not know (an
# MPO, an INSP, a camcorder's MTS), its RAW pictures and the sidecars beside them (a
# library keeps them; elsewhere what is no media is left out, and the report says so).
_MORE_MEDIA = frozenset(
    {
        ".dng", ".heic", ".heif", ".avif", ".jxl", ".3gp",
        *CAMERA_MEDIA_SUFFIXES, *RAW_SUFFIXES, *SIDECAR_SUFFIXES,
    }
)  # fmt: skip


class FolderLister:
    kind = "folder"
    description = "a folder on this machine (a path): its new media files, once each"
    changes_in_place = True  # a file edited in place is new content at the same path
    read_oldest_first = False

    def __init__(self, clock: Callable[[], float] = SYSTEM.now) -> None:
        self.clock = clock

    def accepts(self, source: str) -> bool:
        if not source.startswith(("/", "~", "./", "../", "file:")):
            return False
        try:
            os.fsencode(source)  # a name no file system holds (a lone surrogate): no path
        except UnicodeError:
            return False
        return True

    def describe(self, source: str) -> str:
        try:
            return readable(str(folder_path(source)))
        except (FerrymanError, UnicodeError, ValueError):
            return source.encode("utf-8", "backslashreplace").decode()

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        return await on_own_thread(self.list_now, source, settings)

    async def matches(self, source: str, settings: Settings) -> bool:
        return True

    def placed(self, source: str, settings: Settings, *, remote: bool) -> str:
        """The folder as stored: an absolute path (``~`` expanded, symlinks kept: a
        Termux ``~/storage/dcim`` stays so). Refused when it is not a folder, or when a
        front door from afar (the API, the chat) names one outside ``watch.folders``."""
        path = folder_path(source)
        if not path.is_dir():
            raise FerrymanError(
                "watch.not_a_folder", f"{readable(str(path))}: no such folder on this machine"
            )
        _allowed(path, settings, remote)
        _still_allowed(path, settings)
        return str(path)

    def checked_after(self, source: str, action: str, settings: Settings, *, remote: bool) -> str:
        """``delete``, or ``move:DIR`` with DIR made absolute and outside the folder (a
        file moved inside it would be listed, and moved, again); from afar, DIR under
        ``watch.folders`` as the folder is."""
        word = action.strip()
        if word.lower() == "delete":
            return "delete"
        if word.lower().startswith("move:") and word[5:].strip():
            target = Path(os.path.abspath(os.path.expanduser(word[5:].strip())))
            if not _inside(target, folder_path(source)):
                _allowed(target, settings, remote)
                return f"move:{target}"
            raise FerrymanError(
                "watch.bad_then",
                f"--then {action}: the folder to move to is inside the watched one",
            )
        raise FerrymanError("watch.bad_then", f"--then '{action}': say delete or move:DIR")

    def after_delivery(
        self,
        source: str,
        entry: WatchEntry,
        action: str,
        kept: Callable[[Path], bool] | None = None,
    ) -> str | None:
        """Delete the file, or move it under DIR (its subfolder kept, a name taken
        there getting a number), only while it is still the delivered content (its key
        read again now) and the destination holds its bytes (``kept``, read back now:
        not the store's word): a file replaced or edited meanwhile, or one the library
        lacks, is left."""
        from ferryman.sources.file import FileSource  # lazy: start-up

        path = FileSource().path(entry.input)
        below = below_of(entry.input)
        root = below.root if below is not None else folder_path(source)
        try:
            root_fd = open_folder(root)
            try:
                held = open_below(root_fd, path.relative_to(root).as_posix(), path)
            finally:
                os.close(root_fd)
            try:  # read by handle: a link put in its place is not the delivered file
                if file_key(held, held.st.st_size, held.st.st_mtime) != entry.id:
                    return None
            finally:
                held.close()
            if kept is not None and not kept(path):
                log.warning("%s is not in the destination as it is here: left", path)
                return None
            if _stamp(os.lstat(path)) != _stamp(held.st):  # saved over while the library
                log.warning("%s changed while it was compared: left", path)  # was read
                return None
        except (OSError, ValueError):
            return None  # gone already, or no longer a file below the folder
        if action == "delete":
            path.unlink()
            return f"deleted {path}"
        target = move_file(path, Path(action.removeprefix("move:")) / entry.title)
        return f"moved {path} to {target}"

    async def changes(self, source: str) -> AsyncIterator[set[str]]:
        """The paths changed under the folder, a batch at a time, for as long as it is
        watched, and an empty batch every ``NOTICE_TICK`` ms without one (the notices
        are on); nothing (at once) where watchfiles is not installed or cannot watch."""
        try:
            from watchfiles import awatch  # lazy: the engine's, not a command's start-up
        except ImportError:
            log.info("watchfiles is not installed: folders are looked at every --every only")
            return
        root = folder_path(source)
        try:
            async for batch in awatch(
                root,
                watch_filter=_shown_change,
                debounce=400,
                step=50,
                recursive=True,
                rust_timeout=NOTICE_TICK,
                yield_on_timeout=True,
                ignore_permission_denied=True,
            ):
                yield {path for _, path in batch}
        except (OSError, RuntimeError) as exc:  # gone, no inotify watches left: poll only
            log.info("%s: no change notices (%s); looked at every --every", root, exc)

    def list_now(self, source: str, settings: Settings) -> list[WatchEntry]:
        """The folder's files, newest first, those still being written with their
        ``ready_at`` (blocking: a thread's work). The folder is opened once, checked
        against ``watch.folders`` at every look, and walked by handle below it: a link
        anywhere below is never followed, and each file's input names the folder as
        seen now (``below_uri``), so its reading opens it below the same folder."""
        root = folder_path(source)
        _still_allowed(root, settings)
        try:
            root_fd = open_folder(root)
        except FileNotFoundError as exc:
            raise FerrymanError(
                "source.not_found", f"{readable(str(root))}: the watched folder is not there"
            ) from exc
        except OSError as exc:
            raise FerrymanError(
                "source.unreadable", f"{readable(str(root))}: cannot be read ({exc.strerror})"
            ) from exc
        try:
            return self._listed(root, root_fd, settings)
        finally:
            os.close(root_fd)

    def _listed(self, root: Path, root_fd: int, settings: Settings) -> list[WatchEntry]:
        root_st = os.fstat(root_fd)
        cache = _KeyCache(_cache_file(settings, root))
        now = self.clock()
        settle = settings.watch.settle_seconds
        found: list[WatchEntry] = []
        for rel, st in _walk(root, root_fd, _identity(settings.data_dir)):
            name = rel.rpartition("/")[2]
            if not media_or_archive(name):
                continue
            path = root / rel
            key = _keyed((root_fd, rel, path), st, cache, now, settle)
            found.append(
                WatchEntry(
                    id=key if isinstance(key, str) else f"unsettled:{path}",
                    input=below_uri(path, root, root_st),
                    title=readable(rel),
                    published=st.st_mtime,
                    ready_at=key if isinstance(key, float) else None,
                )
            )
        cache.save()
        found.sort(key=lambda e: -(e.published or 0.0))
        return found


def folder_path(source: str) -> Path:
    """A watched folder's path: ``~`` expanded, ``file:`` read, made absolute."""
    if source.startswith("file:"):
        from ferryman.sources.file import FileSource  # lazy: start-up

        return Path(os.path.abspath(FileSource().path(source)))
    return Path(os.path.abspath(os.path.expanduser(source)))


def file_key(file: Held | Path, size: int, mtime: float) -> str:
    """A file's identity across renames and moves: size, whole-second modification time
    and the BLAKE2b of its first and last ``EDGE`` bytes (the whole file when it is
    smaller), read from its handle. Two shots differ in their first bytes (EXIF's time,
    the image's first rows); the ends, not the whole, keep a first look at a camera
    roll of thousands from reading gigabytes."""
    held = open_held(file) if isinstance(file, Path) else file
    try:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(os.pread(held.fd, EDGE, 0))
        if size > EDGE:
            digest.update(os.pread(held.fd, EDGE, max(EDGE, size - EDGE)))
    finally:
        if held is not file:
            held.close()
    return f"{size}:{int(mtime)}:{digest.hexdigest()}"


def _keyed(
    at: tuple[int, str, Path], st: os.stat_result, cache: _KeyCache, now: float, settle: float
) -> str | float:
    """The file's key (``at``: the folder's handle, its path below, its full path), or
    when to look again (a float) while it is being written."""
    root_fd, rel, path = at
    if now - st.st_mtime < settle:
        return st.st_mtime + settle
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    known = cache.get(path, stamp)
    if known is not None:
        return known
    try:
        held = open_below(root_fd, rel, path)
        try:
            key = file_key(held, st.st_size, st.st_mtime)
            after = os.fstat(held.fd)
        finally:
            held.close()
    except OSError:  # gone, unreadable or swapped for a link meanwhile: the next look sees
        return now + max(settle, 1.0)
    if (after.st_ino, after.st_size, after.st_mtime_ns) != stamp:
        return now + max(settle, 1.0)  # it grew while it was read (or was replaced)
    cache.put(path, stamp, key)
    return key


def _walk(
    root: Path, root_fd: int, skip: tuple[int, int] | None
) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files below the folder ``root_fd`` (their paths below it, their lstat),
    hidden names, links, the data folder (``skip``: its device and inode) and a ferryman
    library inside it (``_a_library``: its copies are the photos it delivered, not new
    ones) left out;
    each subfolder opened by handle from its parent, never through a link; one that
    cannot be read is passed over (the rest is still listed)."""
    pending: list[tuple[str, int]] = [("", os.dup(root_fd))]
    while pending:
        prefix, fd = pending.pop()
        try:
            yield from _walk_one(root, prefix, fd, skip, pending)
        finally:
            os.close(fd)


def _walk_one(
    root: Path, prefix: str, fd: int, skip: tuple[int, int] | None, pending: list[tuple[str, int]]
) -> Iterator[tuple[str, os.stat_result]]:
    """One folder's files (``fd``: its handle, ``prefix``: its path below the root); its
    subfolders opened and put on ``pending``."""
    try:
        with os.scandir(fd) as found:
            items = sorted(found, key=lambda e: e.name)
    except OSError as exc:
        if not prefix:
            raise FerrymanError(
                "source.unreadable", f"{readable(str(root))}: cannot be read ({exc.strerror})"
            ) from exc
        log.info("%s: passed over (%s)", root / prefix, exc.strerror)
        return
    if prefix and _a_library(prefix, fd, items):
        log.info("%s: a ferryman library's: its copies are not walked", root / prefix)
        return
    for item in items:
        if item.name.startswith("."):
            continue
        try:
            st = os.stat(item.name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) != skip:
                pending.append((f"{prefix}{item.name}/", os.open(item.name, _FOLDER, dir_fd=fd)))
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size > 0:
            yield f"{prefix}{item.name}", st


def _a_library(prefix: str, fd: int, items: list[os.DirEntry[str]]) -> bool:
    """Whether the folder is a ferryman library's: one laid out by a template (it holds
    ``.ferryman``) or an album of the ``albums`` layout (``0001/`` or ``0001.<owner>/``
    holding ferryman's ``manifest.json``: not a person's ``2024/`` holding another's)."""
    for item in items:
        if item.name == LIBRARY_MARK and item.is_dir(follow_symlinks=False):
            return True
    if _ALBUM.fullmatch(prefix.rstrip("/").rpartition("/")[2]) is None:
        return False
    if not any(item.name == "manifest.json" for item in items):
        return False
    try:
        handle = os.open("manifest.json", _MANIFEST_OPEN, dir_fd=fd)
    except OSError:
        return False
    try:
        return _MANIFEST_HEAD.match(os.read(handle, 256)) is not None
    except OSError:
        return False
    finally:
        os.close(handle)


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    """A file as the folder names it: its inode (a save that renames a new file over it
    changes it), size and modification time (ns: an edit in place)."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _identity(path: Path) -> tuple[int, int] | None:
    """A folder's device and inode (the data folder's: never walked into), if it is there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _still_allowed(root: Path, settings: Settings) -> None:
    """At every look: never the data folder or a folder inside it; a folder named under
    one of ``watch.folders`` (as one added from afar must be) still inside it once its
    links are resolved (a folder swapped for a link to elsewhere since it was added is
    not looked at)."""
    if _inside(root, settings.data_dir):
        raise FerrymanError(
            "watch.folder_not_allowed",
            f"{readable(str(root))}: inside ferryman's data folder (its secrets, its work);"
            " not looked at",
        )
    for folder in settings.watch.folders:
        base = Path(os.path.abspath(os.path.expanduser(folder)))
        if root.is_relative_to(base) and not _inside(root, base):
            raise FerrymanError(
                "watch.folder_not_allowed",
                f"{readable(str(root))}: now leads outside {readable(str(base))}"
                " (a link in its place); not looked at",
            )


def media_or_archive(name: str) -> bool:
    """A media file (a camera's RAW and sidecars among them) or an archive, by its name."""
    if named_archive(name):
        return True
    guessed, _ = mimetypes.guess_type(name)
    if guessed is not None and guessed.startswith(_MEDIA_FAMILIES):
        return True
    return os.path.splitext(name)[1].lower() in _MORE_MEDIA


def _shown_change(_change: object, path: str) -> bool:
    """watchfiles' filter: a change to a hidden name (a ``.pending-…`` file) is none."""
    return not any(part.startswith(".") for part in Path(path).parts[-1:])


def _allowed(path: Path, settings: Settings, remote: bool) -> None:
    """From afar (the API, the chat), only a folder under ``watch.folders``."""
    allowed = (Path(os.path.expanduser(folder)) for folder in settings.watch.folders)
    if remote and not any(_inside(path, folder) for folder in allowed):
        raise FerrymanError(
            "watch.folder_not_allowed",
            f"{readable(str(path))}: a folder is named from afar only under watch.folders"
            " in the settings file",
        )


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return False
    return True


def _cache_file(settings: Settings, root: Path) -> Path:
    name = hashlib.sha256(str(root).encode()).hexdigest()[:24]
    return settings.data_dir / "watched-folders" / f"{name}.json"


class _KeyCache:
    """Keys already computed, by path and (inode, size, mtime): a file unchanged since
    the last look is not read again. Kept as a JSON file written whole (a rename);
    lost or unreadable, it is only rebuilt."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.old: dict[str, list[object]] = {}
        self.new: dict[str, list[object]] = {}
        try:
            loaded = json.loads(file.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self.old = loaded
        except (OSError, ValueError):
            pass

    def get(self, path: Path, stamp: tuple[int, int, int]) -> str | None:
        row = self.old.get(str(path))
        if isinstance(row, list) and len(row) == 4 and tuple(row[:3]) == stamp:
            key = row[3]
            if isinstance(key, str):
                self.new[str(path)] = row
                return key
        return None

    def put(self, path: Path, stamp: tuple[int, int, int], key: str) -> None:
        self.new[str(path)] = [*stamp, key]

    def save(self) -> None:
        if self.new == self.old:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            part = self.file.with_suffix(".part")
            part.write_text(json.dumps(self.new), encoding="utf-8")
            os.replace(part, self.file)
        except OSError as exc:  # a cache: the next look hashes again
            log.info("%s: not kept (%s)", self.file, exc.strerror)
