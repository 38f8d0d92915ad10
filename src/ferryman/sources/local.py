"""A local path (a file, a folder or an archive) as one stream of entries.

Whatever the input, the engine sees the same thing: entries with a stable
``index`` it can resume from, a relative path and a way to read the bytes.
Archives inside the input (by name and by magic bytes) are opened in turn, up to
``archive.max_depth`` levels, and their entries take the place of the archive in
the stream; indexes count across all levels, so they stay stable across restarts.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ferryman.archive.guard import NestingTally
from ferryman.archive.names import sanitize_path
from ferryman.archive.opener import open_archive
from ferryman.archive.reader import (
    ArchiveEntry,
    ArchiveReader,
    EntryInfo,
    EntryType,
    detect_format,
    read_through,
    sniff_format,
)
from ferryman.archive.stored_names import decode_stored_name
from ferryman.archive.suffixes import named_archive
from ferryman.archive.volumes import find_volumes
from ferryman.errors import FerrymanError
from ferryman.fsutil import Held, NotAFile, open_below, open_folder, open_held, safe_name
from ferryman.sources.base import ReadOptions, SourceEntry
from ferryman.sources.local_path import Below, inspect_local, readable, unreadable
from ferryman.sources.takeout import in_folder, is_takeout, read_index, takeout_of
from ferryman.sources.takeout_folder import folder_index

BLOCK_SIZE = 1 << 20
# A read asks for no more than the file holds (plus one byte, to see its end at once):
# a 1 MiB read buffer is mapped and unmapped per call, twice per small file.
SMALL_BLOCK = 64 * 1024
SNIFF_BYTES = 64 * 1024  # more than any format's signature needs (ISO 9660: 32,774)


@contextmanager
def iter_local(
    path: Path, options: ReadOptions | None = None, *, below: Below | None = None
) -> Iterator[Iterator[SourceEntry]]:
    """Entries of ``path``: a file is one entry, a folder its files, an archive its entries.

    Folders are walked recursively in natural, case-insensitive order and symlinks
    are reported, not followed; indexes are stable while the input is unchanged.
    Each file is opened once (``fsutil.Held``), a folder's below the folder's handle
    following no link, and read from that handle only. ``below``: ``path`` is a file a
    watch found in that folder, opened so too.
    """
    options = options or ReadOptions()
    if below is not None:
        yield _watched_file(path, below, options)
        return
    source = inspect_local(path)
    counter = _Counter()
    if options.scratch is None and source.kind != "file":
        with (
            tempfile.TemporaryDirectory(prefix="ferryman-nested-") as scratch,
            iter_local(path, replace(options, scratch=Path(scratch))) as entries,
        ):
            yield entries
        return
    parts = takeout_of(path, source.format, strict=not options.part_alone)
    if source.kind == "archive" and parts is not None:
        yield _takeout(parts, options, counter)
    elif source.kind == "archive":
        tally = NestingTally()
        with open_archive(path, options.archive, options.sevenzip, tally) as reader:
            yield _archive_entries(reader, "", 0, options, counter, tally)
    elif source.kind == "folder":
        index = folder_index(path)  # an unpacked Google Takeout's sidecars and copies
        entries = _folder_entries(path, options, counter)
        yield entries if index is None else map(index.told, entries)
    else:
        held = _opened(path, lambda: open_held(path))
        yield iter([_file_entry(held, sanitize_path(path.name, 0), counter.next())])


def _takeout(
    parts: Sequence[Path],
    options: ReadOptions,
    counter: _Counter,
    prefix: str = "",
    read: Sequence[Path] | None = None,
) -> Iterator[SourceEntry]:
    """A Google Takeout's parts read in turn as one input (``prefix``: under the first
    part's name, in a folder), each photo told by its sidecar, sidecars and copies
    skipped (``sources/takeout``). ``read``: the parts whose entries are read (a
    watch's part: itself), all indexed together."""
    index = read_index(  # a .tgz: read through first
        parts, options.archive, options.sevenzip, options.kept, options.indexing
    )
    depth = 1 if prefix else 0
    for part in parts if read is None else read:
        tally = NestingTally()  # each part a tree of its own
        with open_archive(part, options.archive, options.sevenzip, tally) as reader:
            for entry in _archive_entries(reader, prefix, depth, options, counter, tally):
                yield index.told(entry, prefix)


def archive_entries(
    reader: ArchiveReader, options: ReadOptions, tally: NestingTally, *, over_network: bool = False
) -> Iterator[SourceEntry]:
    """The entries of an archive opened anywhere (a zip read in place over HTTP too),
    with archives inside it opened in their place, as for a local archive.
    ``over_network``: the reader fetches what it reads (see ``SourceEntry``); archives
    inside are copied out whole and looked into all the same."""
    return _archive_entries(reader, "", 0, options, _Counter(), tally, over_network)


class _Counter:
    """Indexes across every level of nesting, in reading order."""

    def __init__(self) -> None:
        self._next = 0

    def next(self) -> int:
        self._next += 1
        return self._next - 1


def _archive_entries(
    reader: ArchiveReader,
    prefix: str,
    depth: int,
    options: ReadOptions,
    counter: _Counter,
    tally: NestingTally,
    over_network: bool = False,
) -> Iterator[SourceEntry]:
    for entry in reader:
        info = entry.info
        path = f"{prefix}{info.path}"
        if info.type is EntryType.FILE and named_archive(info.path):
            yield from _nested(entry, path, depth + 1, options, counter, tally)
            continue
        out = replace(info, index=counter.next(), path=path)
        skip = "junk" if info.type is EntryType.JUNK else None
        resumable = getattr(entry, "resumable", None)
        resume = resumable() if over_network and resumable is not None else None
        yield SourceEntry(
            out, entry.read_blocks, skip=skip, over_network=over_network, resume=resume
        )


def _nested(
    entry: ArchiveEntry,
    path: str,
    depth: int,
    options: ReadOptions,
    counter: _Counter,
    tally: NestingTally,
) -> Iterator[SourceEntry]:
    """An archive inside an archive: written to scratch (once there is room for it),
    opened, its entries in its place; its bytes count against the outer one's limits."""
    info = entry.info
    if depth > options.archive.limits.max_depth:
        yield _too_deep(info, path, counter, options)
        return
    # Its own name (a .gz names the file inside after it), one folder per level.
    assert options.scratch is not None  # iter_local provides one
    held = options.scratch / f"level-{depth}" / safe_name(Path(info.path).name)
    held.parent.mkdir(parents=True, exist_ok=True)
    if options.wait_to_write is not None:
        try:
            options.wait_to_write(info.size or 0)
        except FerrymanError as exc:
            if exc.code != "space.too_large":
                raise
            yield _failed(info, path, counter, exc)
            return
    try:
        try:
            read_through(lambda blocks: _write(blocks, held), entry.read_blocks)
        except FerrymanError as exc:
            if exc.code != "archive.entry_corrupt":
                raise
            yield _failed(info, path, counter, exc)
            return
        yield from _open_nested(held, info, path, depth, options, counter, tally)
    finally:
        held.unlink(missing_ok=True)


def _open_nested(
    held: Path,
    info: EntryInfo,
    path: str,
    depth: int,
    options: ReadOptions,
    counter: _Counter,
    tally: NestingTally,
) -> Iterator[SourceEntry]:
    """Entries of the archive at ``held`` (``info`` describes it as an entry), or one
    entry: the file itself if it is not an archive, or its failure if it is broken.
    ``tally``: the unpacked bytes of the archive tree it belongs to.
    """
    if detect_format(held) is None and find_volumes(held) is None:
        out = replace(info, index=counter.next(), path=path)
        yield SourceEntry(out, lambda: _read_file(held))
        return
    # A Google Takeout copied here (a part not read by Range, or inside an archive).
    named = held.name.casefold().endswith((".zip", ".tgz"))
    index = (
        read_index((held,), options.archive, options.sevenzip, options.kept, options.indexing)
        if named and is_takeout(held)
        else None
    )
    try:
        with open_archive(held, options.archive, options.sevenzip, tally) as reader:
            for entry in _archive_entries(reader, f"{path}/", depth, options, counter, tally):
                yield entry if index is None else index.told(entry, f"{path}/")
    except FerrymanError as exc:
        if not exc.fails_entry:  # see errors.ErrorSpec
            raise  # passwords and limits concern the whole input
        yield _failed(info, path, counter, exc)


def _too_deep(info: EntryInfo, path: str, counter: _Counter, options: ReadOptions) -> SourceEntry:
    reason = f"nested archive deeper than archive.max_depth ({options.archive.limits.max_depth})"
    return SourceEntry(replace(info, index=counter.next(), path=path), _no_blocks, skip=reason)


def _failed(info: EntryInfo, path: str, counter: _Counter, exc: FerrymanError) -> SourceEntry:
    out = replace(info, index=counter.next(), path=path)
    return SourceEntry(out, _no_blocks, error=exc)


def _write(blocks: Iterator[bytes], dest: Path) -> None:
    try:
        with open(dest, "wb") as out:
            for block in blocks:
                out.write(block)
    except OSError as exc:
        dest.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:  # filled after the room check: wait, as staging does
            raise FerrymanError("space.low", f"the disk filled up copying {dest.name}") from exc
        raise FerrymanError("source.io", f"cannot write {dest}: {exc}") from exc


def natural_key(name: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Sort key: case-insensitive, digit runs by value ("img2" before "img10")."""
    chunks = tuple(
        (0, int(part), part) if part.isdigit() else (1, 0, part.casefold())
        for part in re.split(r"(\d+)", name)
        if part
    )
    return chunks, name  # the raw name breaks ties ("A" vs "a") deterministically


def _folder_entries(root: Path, options: ReadOptions, counter: _Counter) -> Iterator[SourceEntry]:
    try:
        root_fd = open_folder(root)
    except OSError as err:
        raise unreadable(root, err) from err
    try:
        for rel, full, st in _walk(root, ""):
            path = sanitize_path(decode_stored_name(os.fsencode(rel), on_disk=True), 0)
            if not stat.S_ISREG(st.st_mode):
                kind = EntryType.SYMLINK if stat.S_ISLNK(st.st_mode) else EntryType.OTHER
                info = EntryInfo(counter.next(), path, 0, st.st_mtime, kind)
                yield SourceEntry(info, _no_blocks)
            elif named_archive(full.name) or _archive_without_suffix(full):
                yield from _folder_archive(full, path, st, options, counter)
            else:
                try:
                    held = _opened(full, functools.partial(open_below, root_fd, rel, full))
                except FerrymanError as exc:  # unreadable, or swapped since it was listed
                    info = EntryInfo(counter.next(), path, st.st_size, st.st_mtime, EntryType.FILE)
                    yield SourceEntry(info, functools.partial(_raise, exc), error=exc)
                    continue
                yield _file_entry(held, path, counter.next())
    finally:
        os.close(root_fd)


def _watched_file(path: Path, below: Below, options: ReadOptions) -> Iterator[SourceEntry]:
    """A file a watch found in its folder: the folder opened and checked to be the one
    its look saw, the file opened below it without following a link anywhere. An
    archive is checked so, then opened by its name (its backends read names)."""
    try:
        root_fd = open_folder(below.root)
    except OSError as err:
        raise unreadable(below.root, err) from err
    try:
        st = os.fstat(root_fd)
        if (st.st_dev, st.st_ino) != (below.dev, below.ino):
            raise FerrymanError(
                "source.folder_changed",
                f"{readable(str(below.root))} is no longer the folder its watch looked at",
            )
        rel = path.relative_to(below.root).as_posix()
        held = _opened(path, functools.partial(open_below, root_fd, rel, path))
    finally:
        os.close(root_fd)
    if held.st.st_size == 0:
        raise FerrymanError("source.empty", f"{path.name}: the file has zero bytes")
    name = sanitize_path(path.name, 0)
    head = os.pread(held.fd, SNIFF_BYTES, 0)
    if named_archive(path.name) or sniff_format(head) is not None:
        held.close()
        if options.scratch is not None:
            yield from _folder_archive(path, name, os.lstat(path), options, _Counter(), True)
            return
        with tempfile.TemporaryDirectory(prefix="ferryman-nested-") as scratch:
            options = replace(options, scratch=Path(scratch))
            yield from _folder_archive(path, name, os.lstat(path), options, _Counter(), True)
        return
    yield _file_entry(held, name, 0)


def _opened(path: Path, opener: Callable[[], Held]) -> Held:
    """``opener``'s handle; a link where a file was (``source.symlink_refused``) or
    what is no regular file (``source.unreadable``) as coded errors."""
    try:
        return opener()
    except NotAFile as err:
        raise FerrymanError("source.unreadable", f"{path}: not a regular file") from err
    except FileNotFoundError as err:
        raise FerrymanError("source.not_found", f"{path}: no such file") from err
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise FerrymanError(
                "source.symlink_refused", f"{readable(str(path))}: a link, not a file; not followed"
            ) from err
        raise unreadable(path, err) from err


def _archive_without_suffix(full: Path) -> bool:
    """A file with no suffix at all whose bytes are an archive (a download that lost
    its name: ``file_1234``): opened, as it is when given alone. A suffix keeps the
    file as it is (a ``.docx`` or ``.apk`` is a zip, and no album)."""
    if "." in full.name:
        return False
    try:
        return detect_format(full) is not None
    except OSError:
        return False  # read, and its error reported, as a file


def _folder_archive(
    full: Path,
    path: str,
    st: os.stat_result,
    options: ReadOptions,
    counter: _Counter,
    alone: bool = False,
) -> Iterator[SourceEntry]:
    """An archive lying in an input folder: read in place; a set's other volumes skipped.
    ``alone``: a watch's file, a Takeout's part read as itself, indexed with the parts
    of its set beside it (a watch takes them at one look: each an input of one job)."""
    info = EntryInfo(0, path, st.st_size, st.st_mtime, EntryType.FILE)
    try:
        volumes = find_volumes(full)
        takeout = in_folder(full, alone=alone)
    except FerrymanError as exc:
        yield _failed(info, path, counter, exc)
        return
    if takeout is not None and options.archive.limits.max_depth >= 1:
        if alone:
            yield from _takeout(takeout, options, counter, f"{path}/", (full,))
        elif takeout[0] != full:  # read with the set's first part
            reason = f"part of {takeout[0].name}"
            yield SourceEntry(replace(info, index=counter.next()), _no_blocks, skip=reason)
        else:
            yield from _takeout(takeout, options, counter, f"{path}/")
    elif volumes is not None and len(volumes.parts) > 1 and volumes.first != full:
        reason = f"volume of {volumes.first.name}"
        yield SourceEntry(replace(info, index=counter.next()), _no_blocks, skip=reason)
    elif options.archive.limits.max_depth < 1:
        yield _too_deep(info, path, counter, options)
    else:
        # Each archive of a folder is a tree of its own: a new tally.
        yield from _open_nested(full, info, path, 1, options, counter, NestingTally())


def _walk(folder: Path, prefix: str) -> Iterator[tuple[str, Path, os.stat_result]]:
    """(relative path, path, lstat) of every non-directory below ``folder``, sorted."""
    try:
        with os.scandir(folder) as it:
            children = sorted(it, key=lambda e: natural_key(e.name))
    except OSError as err:
        raise unreadable(folder, err) from err
    for child in children:
        try:
            st = child.stat(follow_symlinks=False)
        except OSError as err:
            raise unreadable(Path(child.path), err) from err
        rel = f"{prefix}{child.name}"
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(Path(child.path), f"{rel}/")
        else:
            yield rel, Path(child.path), st


def _file_entry(held: Held, rel: str, index: int) -> SourceEntry:
    """A person's file, read from its handle only (its name is for messages)."""
    st = held.st
    info = EntryInfo(index, rel, st.st_size, st.st_mtime, EntryType.FILE)
    return SourceEntry(
        info,
        functools.partial(_read_held, held),
        local_file=held.path,
        local_seen=(st.st_size, st.st_mtime_ns),
        local_held=held,
    )


def _read_held(held: Held) -> Iterator[bytes]:
    block_size = min(BLOCK_SIZE, max(SMALL_BLOCK, held.st.st_size + 1))
    try:
        yield from held.blocks(block_size)
    except OSError as err:
        raise FerrymanError("source.io", f"{held.path}: {err.strerror or err}") from err


def _read_file(path: Path, size_hint: int | None = None) -> Iterator[bytes]:
    block_size = BLOCK_SIZE
    if size_hint is not None:
        block_size = min(BLOCK_SIZE, max(SMALL_BLOCK, size_hint + 1))
    try:
        with path.open("rb", buffering=0) as f:
            while block := f.read(block_size):
                yield block
    except FileNotFoundError as err:
        raise FerrymanError("source.not_found", f"{path}: no such file") from err
    except PermissionError as err:
        raise unreadable(path, err) from err
    except OSError as err:
        raise FerrymanError("source.io", f"{path}: {err.strerror or err}") from err


def _raise(exc: FerrymanError) -> Iterator[bytes]:
    raise exc


def _no_blocks() -> Iterator[bytes]:
    return iter(())
