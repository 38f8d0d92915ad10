"""A Google Takeout exported as ``.tgz`` (``takeout-…-001.tgz``, each part a whole
gzip'd tar): indexed as its zips would be (``sources/takeout``), by one extra reading.

A tar has no central directory: what it holds is known only by reading it through. So
before the first entry is handed over, each part is read once, entry by entry, by the
very reader its delivery reads it with (``archive.opener``: the same backend, the same
guard naming its paths, so the index's paths are the delivered entries'): each file's
size and CRC-32 taken as its bytes stream by (a block at a time, never a whole file
held), its JSON files of ``MAX_SIDECAR`` or less kept and read as sidecars. Then the
parts are read again, as any archive is, each entry told what the index says.

A part that breaks while it is indexed (cut short, corrupt) adds what was read of it
before the break; its own reading then reports the fault, as for any archive.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ferryman.archive.guard import NestingTally
from ferryman.archive.opener import open_archive
from ferryman.archive.reader import EntryType, OpenOptions
from ferryman.errors import FerrymanError
from ferryman.net import abort
from ferryman.sources.takeout_names import JSON, MAX_SIDECAR

_LOOK_AT = 64  # a renamed part: its first entries are under Takeout/, a JSON among them


@dataclass(frozen=True, slots=True)
class TarFile:
    """A file a part holds: its delivered path, its size, its CRC-32, and its bytes
    when it may be a sidecar (a JSON file of ``MAX_SIDECAR`` or less; else None)."""

    path: str
    size: int
    crc: int
    raw: bytes | None


def tar_files(
    part: Path,
    options: OpenOptions | None = None,
    sevenzip: Path | None = None,
    read: Callable[[int], None] | None = None,
) -> Iterator[TarFile]:
    """Each file of the tar ``part`` (a ``.tgz``), read through once (blocking). Stops
    quietly where the part cannot be read on: what came before stands. A stop of the
    reading thread (``net.abort``) ends it between two blocks (``Aborted``): a 50 GB
    part's reading held a stop, and the process's exit, for minutes. ``read``: told each
    block's size as it is read (the index pass's progress)."""
    try:
        with open_archive(part, options, sevenzip, NestingTally()) as reader:
            for entry in reader:
                if entry.info.type is not EntryType.FILE:
                    continue  # a folder, a link, junk (never read, never delivered)
                path = entry.info.path
                keep = path.casefold().endswith(JSON)
                size, crc, kept = 0, 0, bytearray()
                for block in abort.checked(entry.read_blocks()):  # a stop: at once
                    size += len(block)
                    crc = zlib.crc32(block, crc)
                    if read is not None:
                        read(len(block))
                    if keep and len(kept) <= MAX_SIDECAR:
                        kept += block[: MAX_SIDECAR + 1 - len(kept)]
                raw = bytes(kept) if keep and len(kept) <= MAX_SIDECAR else None
                yield TarFile(path, size, crc, raw)
    except (OSError, FerrymanError):
        return  # read as any archive is: its own reading says what is wrong


def looks_like_tar_takeout(path: Path) -> bool:
    """A gzip'd tar whose first entries are all under ``Takeout/``, a JSON file among
    them (a part renamed). Reads no further than that (and stops at the first entry
    elsewhere)."""
    seen_json = False
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for count, member in enumerate(tar):
                if member.name.lstrip("./").split("/", 1)[0].casefold() != "takeout":
                    return False
                seen_json = seen_json or member.name.casefold().endswith(JSON)
                if count + 1 >= _LOOK_AT:
                    break
    except (OSError, EOFError, tarfile.TarError, zlib.error):
        return False
    return seen_json
