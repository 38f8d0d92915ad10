"""A Google Takeout read over the network (a link, a WebDAV folder, a debrid item or a
TorBox download): its zips read in place by Range are indexed as local parts are
(``sources/takeout``), from their central directories and their JSON files alone,
before their first entry is handed over.

- ``takeout_sets``: the parts of each numbered set among a remote folder's files
  (``takeout-…-001.zip``, ``-002.zip``…), read as one, in order, under the first
  part's name; a gap in the numbering is ``archive.volume_missing``.
- ``remote_index``: the index of a set's parts, each opened in place in turn (a part
  that cannot be read in place adds nothing: its entries come as they are).
- ``reader_index``: one zip opened in place (a link), when it is a Takeout.
- ``set_index``: the parts among a ``batch:`` job's inputs (a watch's look that found
  several links), each fetched or opened in place, indexed together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import Protocol, TypeVar

from ferryman.archive.reader import ArchiveReader, OpenOptions
from ferryman.archive.zipfile_backend import ZipfileReader
from ferryman.errors import FerrymanError
from ferryman.sources.takeout import Listing, TakeoutIndex, looks_like_takeout
from ferryman.sources.takeout_names import PART, part_key
from ferryman.sources.takeout_tar import tar_files


class RemotePart(Protocol):
    """A remote folder's file (``sources.listing.ListedFile``), as far as a set needs it."""

    @property
    def path(self) -> str: ...

    @property
    def in_place(self) -> Callable[[], AbstractContextManager[ArchiveReader | None]] | None: ...


F = TypeVar("F", bound=RemotePart)


def takeout_sets(files: Sequence[F]) -> dict[str, tuple[F, ...] | FerrymanError]:
    """Each Takeout part's path among ``files`` → its set's parts, in order (the first
    is read for all), or the error that a part of its set is missing."""
    found: dict[tuple[str, str, int], dict[int, F]] = {}
    for file in files:
        folder, _, name = file.path.rpartition("/")
        match = PART.match(name)
        if match is not None and match.group("ext").casefold() == "zip":  # see set_index
            key = (folder, match.group("set").casefold(), len(match.group("num")))
            found.setdefault(key, {})[int(match.group("num"))] = file
    sets: dict[str, tuple[F, ...] | FerrymanError] = {}
    for (folder, _, digits), numbered in found.items():
        parts = tuple(numbered[n] for n in sorted(numbered))
        gap = next((n for n in range(1, max(numbered) + 1) if n not in numbered), None)
        told: tuple[F, ...] | FerrymanError = parts
        if gap is not None:
            name = PurePosixPath(parts[0].path).name
            stem = _NUMBER.sub(f"-{gap:0{digits}d}.zip", name)
            where = folder or "the folder"
            told = FerrymanError(
                "archive.volume_missing",
                f"{name}: part {stem} of this Takeout is missing from {where}",
            )
        for part in parts:
            sets[part.path] = told
    return sets


_NUMBER = re.compile(r"-\d{3,4}\.zip$", re.IGNORECASE)


def remote_index(parts: Sequence[RemotePart]) -> TakeoutIndex:
    """The index of a set's parts, each opened where it lies in turn (blocking: the
    central directory and the JSON files cross the network, nothing else)."""
    listing = Listing()
    for part in parts:
        if part.in_place is None:
            continue
        with part.in_place() as reader:
            if isinstance(reader, ZipfileReader):
                with reader:
                    listing.add(reader)
    return listing.index()


def reader_index(name: str, reader: ArchiveReader) -> TakeoutIndex | None:
    """The index of one zip read in place (entered), when it is a Takeout; else None."""
    if not isinstance(reader, ZipfileReader) or not looks_like_takeout(name, reader):
        return None
    listing = Listing()
    listing.add(reader)
    return listing.index()


Opener = Callable[[], AbstractContextManager[ArchiveReader | None]]


def set_index(parts: Sequence[tuple[str, Path | None, Opener | None]]) -> dict[str, TakeoutIndex]:
    """A batch's inputs that are parts of one Takeout (by ``name``, as ``PART``; each a
    zip fetched to ``path``, or read where it lies through ``in_place``; a ``.tgz``
    fetched to ``path``, read through: ``takeout_tar``) indexed together, set by set:
    each part's name → its set's index (sets of one part left out: their own reading
    indexes them)."""
    sets: dict[tuple[str, str], list[tuple[str, Path | None, Opener | None]]] = {}
    for name, path, in_place in parts:
        match = PART.match(name)
        # A .tgz is not read in place: indexed only where it was fetched whole.
        if match is not None and (match.group("ext").casefold() == "zip" or path is not None):
            sets.setdefault(part_key(match), []).append((name, path, in_place))
    found: dict[str, TakeoutIndex] = {}
    for members in sets.values():
        if len(members) < 2:
            continue
        listing = Listing()
        for name, path, in_place in members:
            try:
                if path is not None and name.casefold().endswith(".tgz"):
                    for held in tar_files(path):
                        listing.note(held.path, held.size, f"crc32:{held.crc:08x}", held.raw)
                elif path is not None:
                    with path.open("rb") as file, ZipfileReader(file, name, OpenOptions()) as zr:
                        listing.add(zr)
                elif in_place is not None:
                    with in_place() as reader:
                        if isinstance(reader, ZipfileReader):
                            with reader:
                                listing.add(reader)
            except (OSError, FerrymanError):
                continue  # read as it is: its own reading says what is wrong
        index = listing.index()
        found.update((name, index) for name, _, _ in members)
    return found
