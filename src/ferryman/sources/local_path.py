"""What a local path is, shared by the sources that read local files (``file``,
``local``, ``sound``): a ``file:`` URI's path, its kind (a file, a folder, an archive:
type, size and magic bytes, never read whole), its job's name and its readable spelling.
Apart from ``file`` so that reading (``local``) and a file's sound (``sound``) need not
import the source that loads them."""

from __future__ import annotations

import os
import stat
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ferryman.archive.reader import detect_format
from ferryman.archive.stored_names import decode_stored_name
from ferryman.archive.suffixes import ARCHIVE_SUFFIXES, inner_name, strip_archive_suffixes
from ferryman.archive.volumes import find_volumes
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.sources.base import Inspection

Kind = Literal["file", "folder", "archive"]


@dataclass(frozen=True, slots=True)
class LocalInput:
    """What a local path is; ``format`` is the sniffed format of a file, if any."""

    kind: Kind
    path: Path
    format: str | None


def inspect_local(path: Path) -> LocalInput:
    """Classify ``path`` from its type, size and magic bytes, without reading it all.

    Raises ``FerrymanError``: "source.not_found", "source.unreadable",
    "source.empty", "archive.volume_missing", or "archive.unreadable" for a file
    named like an archive whose bytes are not one.
    """
    try:
        st = path.stat()
    except FileNotFoundError as err:
        raise FerrymanError("source.not_found", f"{path}: no such file or folder") from err
    except OSError as err:
        raise unreadable(path, err) from err
    if stat.S_ISDIR(st.st_mode):
        try:
            with os.scandir(path):
                pass
        except OSError as err:
            raise unreadable(path, err) from err
        return LocalInput("folder", path, None)
    if not stat.S_ISREG(st.st_mode):
        raise FerrymanError("source.unreadable", f"{path}: not a regular file or folder")
    if st.st_size == 0:
        raise FerrymanError("source.empty", f"{path.name}: the file has zero bytes")
    volumes = find_volumes(path)
    if volumes is not None and len(volumes.parts) > 1:
        return LocalInput("archive", path, "volumes")
    try:
        fmt = detect_format(path)
    except OSError as err:
        raise unreadable(path, err) from err
    if fmt is not None:
        return LocalInput("archive", path, fmt)
    if path.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise FerrymanError(
            "archive.unreadable",
            f"{path.name}: named like an archive, but its bytes match no archive format",
        )
    return LocalInput("file", path, None)


def readable(text: str) -> str:
    """A path as text to show and store: bytes that are not UTF-8 decoded as the code
    page they look written in (``decode_stored_name``), never as lone surrogates."""
    return decode_stored_name(os.fsencode(text), on_disk=True)


def unreadable(path: Path, err: OSError) -> FerrymanError:
    return FerrymanError("source.unreadable", f"{path}: {err.strerror or err}")


def job_name(path: Path, *, folder: bool | None = None) -> str:
    """``holiday.tar.gz`` → ``holiday``, ``clip.mkv`` → ``clip``, and a compressed file
    as the file it holds (``clip.mp4.gz`` → ``clip``): the folder albums go under.
    ``folder``: whether ``path`` is one, when known (a readable spelling of a path that
    is not UTF-8 is not on disk to ask); a folder keeps its dots (``trip v1.2``)."""
    name = path.name or str(path)
    stripped = strip_archive_suffixes(name)
    is_folder = path.is_dir() if folder is None else folder
    if stripped in (name, inner_name(name)) and not is_folder:
        stripped = Path(stripped).stem if Path(stripped).suffix else stripped
    return safe_name(stripped or name, "job")


def file_path(uri: str) -> Path:
    """The path a ``file:`` URI names (percent-decoded; a name that is not UTF-8 keeps
    its bytes); else ``source.invalid``, or ``source.unsupported`` (another host)."""
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError as exc:  # file://[… : an unclosed bracket
        raise FerrymanError("source.invalid", f"{uri!r}: {exc}") from None
    if parts.netloc not in ("", "localhost"):
        raise FerrymanError("source.unsupported", f"{uri}: a file on another host")
    # POSIX url2pathname, lighter; a name that is not UTF-8 (a Latin-1 disk, a
    # Windows zip unzipped) keeps its bytes, as the URI does (%E9), so it is found.
    path = urllib.parse.unquote(parts.path, errors="surrogateescape")
    if "\x00" in path:  # file:///a%00b
        raise FerrymanError("source.invalid", f"{uri!r}: a path holds no NUL character")
    return Path(path)


def shown_path(uri: str) -> str:
    """A ``file:`` URI as a person reads its path."""
    return readable(str(file_path(uri)))


def inspect_uri(uri: str) -> Inspection:
    """A ``file:`` input's name, identity and size (``inspect_local``'s errors)."""
    path = file_path(uri)
    found = inspect_local(path)
    st = path.stat()
    size = st.st_size if found.kind != "folder" else None
    # A part of a set (``x.7z.002``, ``takeout-…-002.zip``) is read as its whole set:
    # it is that set's input, named and known by its first part.
    first = first_part(found)
    named = first.stat() if first != path else st
    # The same file (path, size, mtime) is the same input, by whichever path it was
    # given: a symlink or another mount (/sdcard is /storage/emulated/0) is resolved.
    ident = f"{readable(os.path.realpath(first))}|{named.st_size}|{named.st_mtime_ns}"
    shown = Path(readable(str(first)))
    return Inspection(job_name(shown, folder=found.kind == "folder"), ident, size)


def first_part(found: LocalInput) -> Path:
    """The first part of the set ``found`` is read with (a split archive's first
    volume, a Google Takeout's ``-001.zip``); ``found.path`` when it is no part."""
    if found.format == "volumes":
        volumes = find_volumes(found.path)
        return volumes.parts[0] if volumes is not None else found.path
    if found.format in ("zip", "gzip"):
        from ferryman.sources.takeout import takeout_parts  # lazy: start-up

        parts = takeout_parts(found.path, strict=False)
        return parts[0] if parts else found.path
    return found.path


@dataclass(frozen=True, slots=True)
class Below:
    """A watched folder a file is read below (its handle opened, then each name below
    it without following a link), and the folder as its watch's look saw it (device,
    inode): a folder swapped since (a link put in its place) is not read."""

    root: Path
    dev: int
    ino: int


def below_uri(path: Path, root: Path, seen: os.stat_result) -> str:
    """``path``'s ``file:`` URI, read only below ``root`` as ``seen`` (``below_of``)."""
    depth = len(root.parts) - 1  # the folders of the root, after "/"
    return f"{path.as_uri()}?below={depth}&dev={seen.st_dev}&ino={seen.st_ino}"


def below_of(uri: str) -> Below | None:
    """The watched folder a ``file:`` URI is read below, when it names one."""
    found = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
    if "below" not in found:
        return None
    try:
        depth, dev, ino = (int(found[key][0]) for key in ("below", "dev", "ino"))
    except (KeyError, ValueError):
        raise FerrymanError("source.invalid", f"{uri!r}: not a watched file's address") from None
    path = file_path(uri)
    if not 0 <= depth < len(path.parts) - 1:
        raise FerrymanError("source.invalid", f"{uri!r}: its folder is not above it")
    return Below(Path(*path.parts[: depth + 1]), dev, ino)


def query_of(uri: str) -> str:
    """A ``file:`` URI's ``?…`` (a watched file's folder), kept as it is recognised."""
    query = urllib.parse.urlsplit(uri).query
    return f"?{query}" if "below" in urllib.parse.parse_qs(query) else ""
