"""A remote folder's files (a WebDAV folder, a debrid item, a TorBox download, a
magnet's files) as one stream of entries, as a local folder's are (``sources/local``):
each file read over the network when the engine asks, an archive read where it lies
(a zip by Range) or copied to scratch and opened, a Google Takeout's parts read as one
(``sources/takeout_remote``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

from ferryman.archive.guard import GuardedReader, NestingTally
from ferryman.archive.names import sanitize_path
from ferryman.archive.reader import ArchiveReader, EntryInfo, EntryType
from ferryman.archive.suffixes import named_archive
from ferryman.errors import FerrymanError
from ferryman.sources.base import ReadOptions, SourceEntry
from ferryman.sources.local import (
    _archive_entries,
    _Counter,
    _failed,
    _nested,
    _no_blocks,
    _too_deep,
)
from ferryman.sources.takeout import TakeoutIndex
from ferryman.sources.takeout_remote import reader_index, remote_index, takeout_sets


@dataclass(frozen=True, slots=True)
class ListedFile:
    """A file of a remote folder's listing (a WebDAV folder, a debrid torrent): its
    path in the folder, size, mtime, and how to read its bytes (over the network, on
    the reading thread, only when the engine asks). ``skip``: a reason not to read it.
    ``in_place``: for an archive, a reader over it where it lies (a zip by Range), or
    None when it cannot be read so; then it is copied to scratch and opened there."""

    path: str
    size: int
    mtime: float
    blocks: Callable[[], Iterator[bytes]]
    skip: str | None = None
    in_place: Callable[[], AbstractContextManager[ArchiveReader | None]] | None = None

    @property
    def info(self) -> EntryInfo:
        return EntryInfo(0, self.path, self.size, self.mtime, EntryType.FILE)

    def read_blocks(self) -> Iterator[bytes]:
        return self.blocks()


def listing_entries(files: Iterable[ListedFile], options: ReadOptions) -> Iterator[SourceEntry]:
    """A remote folder as entries, like a local folder's: in the listing's order (keep
    it stable: indexes follow it), an archive opened in its place once copied to
    ``options.scratch`` (``wait_to_write`` first), a file with a ``skip`` never read.
    A Google Takeout's parts are read as one, at its first part's place, each photo
    told by its sidecar wherever it lies (``sources/takeout_remote``); a part of a
    ``batch:`` job (``part_alone``: its set indexed there) as itself."""
    counter = _Counter()
    files = list(files)
    as_set = options.archive.limits.max_depth >= 1 and not options.part_alone
    sets = takeout_sets(files) if as_set else {}
    for listed in files:
        path = sanitize_path(listed.path, 0)
        info = replace(listed.info, path=path)
        parts = sets.get(listed.path)
        if listed.skip is not None:
            yield SourceEntry(replace(info, index=counter.next()), _no_blocks, skip=listed.skip)
        elif isinstance(parts, FerrymanError):
            yield _failed(info, path, counter, parts)
        elif parts is not None and parts[0] is not listed:  # read with the set's first part
            skip = f"part of {Path(parts[0].path).name}"
            yield SourceEntry(replace(info, index=counter.next()), _no_blocks, skip=skip)
        elif parts is not None:
            index = remote_index(parts)
            for part in parts:
                own = replace(part.info, path=sanitize_path(part.path, 0))
                yield from _listed_archive(part, own, options, counter, f"{path}/", index)
        elif named_archive(listed.path) and options.archive.limits.max_depth < 1:
            yield _too_deep(info, path, counter, options)
        elif named_archive(listed.path):
            yield from _listed_archive(listed, info, options, counter)
        else:
            yield SourceEntry(replace(info, index=counter.next()), listed.blocks)


def _listed_archive(
    listed: ListedFile,
    info: EntryInfo,
    options: ReadOptions,
    counter: _Counter,
    prefix: str | None = None,
    index: TakeoutIndex | None = None,
) -> Iterator[SourceEntry]:
    """An archive of a remote folder: read where it lies when it can be (no copy, only
    the entries not yet handed over are fetched), else copied to scratch and opened.
    Each is a tree of its own: a new tally. ``prefix``: the folder its entries go in
    (a Takeout's parts: all in the first's); ``index``: its set's, else its own when
    it is a Takeout (``sources/takeout_remote``)."""
    tally = NestingTally()
    prefix = prefix or f"{info.path}/"
    if listed.in_place is not None:
        try:
            with listed.in_place() as inner:
                if inner is not None:
                    guarded = GuardedReader(inner, info.path, options.archive.limits, tally)
                    with guarded:
                        told = index or reader_index(Path(info.path).name, inner)
                        for entry in _archive_entries(
                            guarded, prefix, 1, options, counter, tally, True
                        ):
                            yield entry if told is None else told.told(entry, prefix)
                    return
        except FerrymanError as exc:
            if not exc.fails_entry:  # see errors.ErrorSpec
                raise
            yield _failed(info, info.path, counter, exc)
            return
    yield from _nested(listed, info.path, 1, options, counter, tally)
