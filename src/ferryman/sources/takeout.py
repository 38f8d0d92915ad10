"""A Google Takeout read as the photos it holds: one zip, or a numbered set
(``takeout-20240115T101112Z-001.zip``, ``-002.zip``…) read as one job, each part
streamed as any archive is (none unpacked whole). A ``.tgz`` export
(``takeout-…-001.tgz``…) likewise, its parts read through once to index them
(``sources/takeout_tar``).

Before the first entry, each part's central directory is read (``zipfile``: names,
sizes and CRCs, no data) and its JSON files, small, are read and parsed; so each photo
is known with its sidecar whatever part holds which (``takeout_names``), and:

- a photo or video carries its sidecar's facts (``SourceEntry.facts``: the time it
  was taken, its place, its description, its albums);
- a sidecar and an album's ``metadata.json`` are skipped (``takeout_sidecar``): they
  are not delivered as files;
- a photo met twice (in ``Photos from 2019`` and in an album, by the same size, CRC-32
  and suffix) is kept once, its copy in a year folder first, and the others skipped
  (``takeout_duplicate``); the albums of all its copies are its ``albums``.

See ``docs/takeout.md``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ferryman.archive.names import UniqueNames, sanitize_path
from ferryman.archive.reader import OpenOptions
from ferryman.archive.stored_names import zip_member_names
from ferryman.archive.zipfile_backend import ZipfileReader
from ferryman.errors import FerrymanError
from ferryman.model import PhotoFacts
from ferryman.net.progress import ProgressCallback, ProgressReporter
from ferryman.sources.base import KeptLast, SourceEntry
from ferryman.sources.takeout_names import (
    JSON,
    MAX_SIDECAR,
    PART,
    Sidecars,
    album_of,
    facts_of,
    is_album_metadata,
    is_year_folder,
    part_key,
    title_of,
)
from ferryman.sources.takeout_tar import looks_like_tar_takeout, tar_files

SIDECAR = "takeout_sidecar"  # skip reasons (``rules.outcomes`` words them)
DUPLICATE = "takeout_duplicate"


def takeout_parts(path: Path, *, strict: bool = True) -> tuple[Path, ...] | None:
    """The numbered set ``path`` is a part of, in order (any part may be given); None
    when its name is no Takeout part's. ``archive.volume_missing`` for a gap, unless
    not ``strict`` (a watch's part: those there are, the others may be on their way)."""
    match = PART.match(path.name)
    if match is None:
        return None
    key, digits = part_key(match), len(match.group("num"))
    found: dict[int, Path] = {}
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        siblings = [path]
    for sibling in siblings:
        other = PART.match(sibling.name)
        if other is None or part_key(other) != key:
            continue  # another set, or the same one's .zip beside its .tgz
        linked = not strict and sibling.is_symlink()  # a watch's folder: no link followed
        if len(other.group("num")) == digits and sibling.is_file() and not linked:
            found[int(other.group("num"))] = sibling
    for number in range(1, max(found, default=0) + 1):
        if number not in found and strict:
            missing = f"{match.group('set')}-{number:0{digits}d}.{match.group('ext')}"
            raise FerrymanError(
                "archive.volume_missing",
                f"{path.name}: part {missing} of this Takeout is missing from {path.parent}",
            )
    return tuple(found[n] for n in sorted(found)) or (path,)


def takeout_of(path: Path, fmt: str | None, *, strict: bool = True) -> tuple[Path, ...] | None:
    """The parts to read as one Takeout when ``path`` (an archive of format ``fmt``: a
    zip, or a gzip'd tar) is one, else None (``strict``: a gap in the set refused)."""
    if fmt not in ("zip", "gzip") or not is_takeout(path, fmt):
        return None
    return takeout_parts(path, strict=strict) or (path,)


def in_folder(path: Path, *, alone: bool = False) -> tuple[Path, ...] | None:
    """The parts to index as one Takeout for ``path``, a zip found in a folder: its set
    (read with the first part: the others name it; ``alone``: a watch's file, those of
    its set there are, gaps and all); None when it is none."""
    if not path.name.casefold().endswith((".zip", ".tgz")) or not is_takeout(path):
        return None
    return takeout_parts(path, strict=not alone) or (path,)


def is_takeout(path: Path, fmt: str | None = None) -> bool:
    """A zip or ``.tgz`` named as a Takeout part, or whose entries are under
    ``Takeout/`` with a JSON sidecar among them (a part renamed; ``fmt``: its format,
    else told by its name: a gzip'd tar's first entries are read to tell)."""
    if PART.match(path.name):
        return True
    if fmt == "gzip" or (fmt is None and path.name.casefold().endswith((".tgz", ".tar.gz"))):
        return looks_like_tar_takeout(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    top = all(n.split("/", 1)[0].casefold() == "takeout" for n in names[:64])
    return bool(names) and top and any(n.casefold().endswith(JSON) for n in names)


@dataclass
class TakeoutIndex:
    """What the parts' listings said: each path's skip reason or facts."""

    skip: dict[str, str] = field(default_factory=dict)
    facts: dict[str, PhotoFacts] = field(default_factory=dict)

    def told(self, entry: SourceEntry, prefix: str = "") -> SourceEntry:
        """``entry`` skipped (a sidecar, a copy) or with its facts, as the index says
        (``prefix``: the folder the parts' entries are put under)."""
        path = entry.info.path.removeprefix(prefix)
        if entry.skip is not None or entry.error is not None:
            return entry
        if (reason := self.skip.get(path)) is not None:
            return replace(entry, skip=reason)
        if (facts := self.facts.get(path)) is not None:
            return replace(entry, facts=facts)
        return entry


@dataclass(frozen=True, slots=True)
class Listed:
    """A file of the Takeout: its path, size and what tells its bytes from others'
    of that size (a zip's CRC-32, a folder's file's sha256)."""

    path: str
    size: int
    same: str


def read_index(
    parts: Sequence[Path],
    options: OpenOptions | None = None,
    sevenzip: Path | None = None,
    kept: KeptLast | None = None,
    indexing: ProgressCallback | None = None,
) -> TakeoutIndex:
    """Every part's listing, its sidecars read and paired (blocking). A zip's central
    directory is read; a ``.tgz`` is read through (``takeout_tar``: ``options`` and
    ``sevenzip`` as its delivery opens it), the index kept in ``kept`` (the job's read's)
    for the next ask of the same parts (a watch's job reads each part as an input of
    its own), its reading told to ``indexing`` as it goes (minutes for a big part). A
    part that is neither adds nothing, its entries are read as they are."""
    if any(not _zipped(part) for part in parts):
        return _tar_index(tuple(parts), options, sevenzip, kept, indexing)
    listing = Listing()
    for part in parts:
        try:
            with part.open("rb") as file, ZipfileReader(file, part.name, OpenOptions()) as reader:
                listing.add(reader)
        except (OSError, FerrymanError):
            continue  # read as any archive is: its own reader says what is wrong
    return listing.index()


def _zipped(part: Path) -> bool:
    try:
        with part.open("rb") as file:
            return file.read(2) == b"PK"
    except OSError:
        return True  # read as any archive is: its own reader says what is wrong


def _tar_index(
    parts: tuple[Path, ...],
    options: OpenOptions | None,
    sevenzip: Path | None,
    kept: KeptLast | None,
    indexing: ProgressCallback | None = None,
) -> TakeoutIndex:
    try:
        key: object = (
            "takeout-tgz",
            *((str(p), (s := p.stat()).st_size, s.st_mtime_ns, s.st_ino) for p in parts),
        )
    except OSError:
        key = None
    if key is not None and kept is not None:
        index = kept.get(key)
        if isinstance(index, TakeoutIndex):
            return index
    listing = Listing()
    told = _Told(indexing, parts)
    for part in parts:
        for found in tar_files(part, options, sevenzip, told.read):
            listing.note(found.path, found.size, f"crc32:{found.crc:08x}", found.raw)
    told.done()
    index = listing.index()
    if key is not None and kept is not None:
        kept.put(key, index)
    return index


class _Told:
    """The index pass's progress: bytes read of the parts' size on disk, a share that
    never passes 99 % before the end (the tar's bytes are counted as they come out of
    gzip, which photos and videos hardly shrink: near their size on disk)."""

    def __init__(self, indexing: ProgressCallback | None, parts: Sequence[Path]) -> None:
        self._reporter = None if indexing is None else ProgressReporter(indexing)
        self._read = 0
        try:
            self._total: int | None = sum(p.stat().st_size for p in parts) or None
        except OSError:
            self._total = None

    def read(self, size: int) -> None:
        self._read += size
        if self._reporter is not None:
            shown = self._read if self._total is None else min(self._read, self._total * 99 // 100)
            self._reporter.update(shown, self._total, 0)

    def done(self) -> None:
        if self._reporter is not None:
            self._reporter.update(self._total or self._read, self._total, 0, force=True)


@dataclass
class Listing:
    """The files of a Takeout's parts, gathered part by part (a local zip, or one read
    in place by Range over the network: ``archive.zipfile_backend``), then indexed."""

    listed: list[Listed] = field(default_factory=list)
    parsed: dict[str, PhotoFacts | None] = field(default_factory=dict)  # each JSON's facts
    titles: dict[str, str] = field(default_factory=dict)  # a photo's sidecar's title

    def add(self, reader: ZipfileReader) -> None:
        """One part's central directory, and its JSON files read (blocking: a remote
        part is asked for those bytes alone). Paths as ``archive.guard`` names them."""
        names = UniqueNames()
        small: dict[int, str] = {}
        files = [m for m in reader.archive.infolist() if not m.is_dir()]
        stored = zip_member_names(files)
        for at, member in enumerate(files):
            path = names.claim(sanitize_path(stored[at], at))
            self.listed.append(Listed(path, member.file_size, f"crc32:{member.CRC:08x}"))
            if path.casefold().endswith(JSON) and member.file_size <= MAX_SIDECAR:
                small[id(member)] = path
        wanted = [m for m in files if id(m) in small]
        for member, raw in reader.read_small(wanted, MAX_SIDECAR + 1):
            self.parsed[small[id(member)]] = facts_of(raw)
            if (title := title_of(raw)) is not None:
                self.titles[small[id(member)]] = title

    def note(self, path: str, size: int, same: str, raw: bytes | None) -> None:
        """One file read through (a ``.tgz``'s): its path, size and ``same``, and its
        bytes when it may be a sidecar (a JSON of ``MAX_SIDECAR`` or less)."""
        self.listed.append(Listed(path, size, same))
        if raw is not None:
            self.parsed[path] = facts_of(raw)
            if (title := title_of(raw)) is not None:
                self.titles[path] = title

    def index(self) -> TakeoutIndex:
        return indexed(self.listed, self.parsed, self.titles)


def looks_like_takeout(name: str, reader: ZipfileReader) -> bool:
    """A zip named as a Takeout part, or whose entries are under ``Takeout/`` with a
    JSON sidecar among them (a part renamed, a link's name lost)."""
    if PART.match(name):
        return True
    names = reader.archive.namelist()
    top = all(n.split("/", 1)[0].casefold() == "takeout" for n in names[:64])
    return bool(names) and top and any(n.casefold().endswith(JSON) for n in names)


def indexed(
    listed: list[Listed],
    parsed: dict[str, PhotoFacts | None],
    titles: dict[str, str] | None = None,
) -> TakeoutIndex:
    """The index of a Takeout's files (``parsed``: each JSON file's facts, None for one
    that is no sidecar; ``titles``: a photo's sidecar's ``title``, by its path)."""
    index = TakeoutIndex()
    folders: dict[str, list[str]] = {}
    for item in listed:
        folder, _, name = item.path.rpartition("/")
        folders.setdefault(folder, []).append(name)
    own: dict[str, PhotoFacts] = {}
    for folder, names in folders.items():
        sidecars = Sidecars(n for n in names if n.casefold().endswith(JSON))
        for name in names:
            path = f"{folder}/{name}" if folder else name
            if name.casefold().endswith(JSON) and (
                parsed.get(path) is not None or is_album_metadata(name)
            ):
                index.skip[path] = SIDECAR
        media = [n for n in names if not n.casefold().endswith(JSON)]
        here = {n: t for n in names if (t := (titles or {}).get(f"{folder}/{n}" if folder else n))}
        found = sidecars.pairs(media, here)
        for name, sidecar in found.items():
            path = f"{folder}/{name}" if folder else name
            where = f"{folder}/{sidecar}" if folder else sidecar
            # One that says nothing readable (broken, cut short) told the photo nothing:
            # delivered as any JSON file, not skipped as if its date went with the photo.
            if (facts := parsed.get(where)) is not None:
                own[path] = facts
    _deduplicated(listed, own, index)
    return index


def _deduplicated(listed: list[Listed], own: dict[str, PhotoFacts], index: TakeoutIndex) -> None:
    """One of each photo kept (its copy in a year folder first, else the first met),
    its facts its own sidecar's (else a copy's), with every copy's album."""
    copies: dict[tuple[int, str, str], list[Listed]] = {}
    for item in listed:
        if item.path in index.skip:
            continue
        suffix = Path(item.path).suffix.casefold()
        copies.setdefault((item.size, item.same, suffix), []).append(item)
    for group in copies.values():
        kept = next((c for c in group if _in_year_folder(c.path)), group[0])
        albums = sorted({a for c in group if (a := album_of(c.path)) is not None})
        facts = own.get(kept.path) or next((own[c.path] for c in group if c.path in own), None)
        if facts is not None or albums:
            index.facts[kept.path] = replace(facts or PhotoFacts(), albums=tuple(albums))
        for other in group:
            if other is not kept and other.size > 0:
                index.skip[other.path] = DUPLICATE


def _in_year_folder(path: str) -> bool:
    parts = path.split("/")
    return len(parts) >= 2 and is_year_folder(parts[-2])
