"""7zz's ``l -slt`` listing, run and parsed into the items ``x -so`` will write.

Kept apart from ``sevenzip.backend`` so the listing format, and its traps (a
comment that forges a separator line, bare streams without a name, a numbered
split set with a volume missing), are read in one place.

``x -so`` writes nothing for directories and RAR5 links (their target lives in
the header), and the listed size for everything else, RAR4/7z/zip/tar links
included (their target is their data).
"""

from __future__ import annotations

import calendar
import re
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ferryman.archive.reader import EntryType
from ferryman.archive.sevenzip.process import PROMPT, environment, send_password, stop
from ferryman.archive.stored_names import NameDecoder, decode_stored_name
from ferryman.errors import FerrymanError

_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?")
_UNIX_MODE = re.compile(r"[-a-zA-Z0-9?][-rwxsStTlL]{9}")
_SPLIT_NAME = re.compile(r"(.+)\.(\d{3,})")
_SEPARATOR = "----------"


@dataclass(slots=True)
class Item:
    """One listed item (directories included: they keep the stream's bookkeeping)."""

    ordinal: int  # position in the listing
    path: str  # the name meant (a legacy code page's bytes read as such)
    is_dir: bool
    kind: EntryType
    size: int | None
    packed: int
    mtime: float | None
    crc: int | None
    encrypted: bool
    stream_size: int | None  # bytes `x -so` writes for it; None: up to the end
    index: int = -1  # EntryInfo.index; -1 for directories
    # The name as 7zz listed it (bytes that are not UTF-8 kept, ``surrogateescape``):
    # what 7zz matches in a listfile and prints in its log, where ``path`` is not.
    listed: str = ""

    @property
    def marker(self) -> str:
        """How 7zz names it in its "- name" lines."""
        return self.listed + "/" if self.is_dir else self.listed


def _int_or_none(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _parse_time(value: str | None) -> float | None:
    match = _TIME.match(value or "")
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7)
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    return seconds + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def _parse_attributes(value: str) -> tuple[bool, str | None]:
    """(Windows directory flag, Unix file-type letter) from e.g. "D drwxr-xr-x"."""
    tokens = value.split()
    unix_type = None
    if tokens and len(tokens[-1]) == 10 and _UNIX_MODE.fullmatch(tokens[-1]):
        unix_type = tokens[-1][0]
        tokens = tokens[:-1]
    windows = tokens[0] if tokens and tokens[0].isalpha() else ""
    return "D" in windows, unix_type


def _make_item(fields: dict[str, str], ordinal: int, arc_type: str) -> Item:
    folder = fields.get("Folder")
    windows_dir, unix_type = _parse_attributes(fields.get("Attributes", ""))
    # 7z lists no "Folder"; its attributes say it
    is_dir = folder == "+" if folder in ("+", "-") else windows_dir or unix_type == "d"
    symlink_to = fields.get("Symbolic Link", "")
    hardlink_to = fields.get("Hard Link", "")
    if is_dir:
        kind = EntryType.OTHER
    elif symlink_to or unix_type == "l":
        kind = EntryType.SYMLINK
    elif hardlink_to:
        kind = EntryType.HARDLINK
    elif unix_type in ("c", "b", "p", "s"):
        kind = EntryType.OTHER
    elif arc_type == "Xar" and fields.get("Path") == "[TOC].xml" and not fields.get("Type"):
        kind = EntryType.OTHER  # 7-Zip's view of the xar's table of contents: no file of it
    else:
        kind = EntryType.FILE
    size = _int_or_none(fields.get("Size"))
    packed = _int_or_none(fields.get("Packed Size")) or 0
    crc_text = fields.get("CRC", "").strip()
    try:
        crc = int(crc_text, 16) if crc_text else None
    except ValueError:
        crc = None
    if arc_type == "Lzh":
        crc = None  # LHA's is a CRC-16, not the CRC-32 the extraction checks
    stream_size: int | None = size
    if is_dir:
        stream_size = 0
    elif arc_type == "Rar5" and (symlink_to or hardlink_to) and packed == 0:
        stream_size = 0  # RAR5 keeps link targets in the header: no data is written
    return Item(
        ordinal=ordinal,
        path=fields.get("Path", ""),
        is_dir=is_dir,
        kind=kind,
        size=size,
        packed=packed,
        mtime=_parse_time(fields.get("Modified")),
        crc=crc,
        encrypted=fields.get("Encrypted") == "+",
        stream_size=stream_size,
        listed=fields.get("Path", ""),
    )


class ListingParser:
    """Parses ``l -slt`` output as it streams, stopping early at the entry limit.

    Entries start after the last "----------" line: an archive comment is printed
    verbatim in the archive block and can forge such a line, while entry values
    are always one line (7zz flattens newlines in them).
    """

    def __init__(self, reader_name: str, archive_name: str, max_entries: int) -> None:
        self._name = reader_name
        self._archive_name = archive_name
        self._max_entries = max_entries
        self.header: list[str] = []  # archive blocks, up to the first separator
        self.items: list[Item] = []
        self.prompted = False
        self._in_entries = False
        self._fields: dict[str, str] = {}
        self._files = 0
        self._arc_type = ""
        self.names = NameDecoder()  # the archive's, once closed (``_read_names``)

    @property
    def arc_type(self) -> str:
        """7-Zip's name for the archive's format (``7z``, ``Rar5``, ``zip`` …)."""
        return self._arc_type

    def feed(self, line: str) -> None:
        if line.startswith(PROMPT):  # the prompt is printed to stdout in list mode
            self.prompted = True
            line = line[len(PROMPT) :].lstrip()
        if line == _SEPARATOR:  # a second one means the first was forged: start again
            if not self._in_entries:
                types = [h[7:].strip() for h in self.header if h.startswith("Type = ")]
                self._arc_type = types[-1] if types else ""  # innermost (split sets list two)
            self._in_entries = True
            self.items = []
            self._fields = {}
            self._files = 0
            return
        if not self._in_entries:
            if _escaped(line):  # the archive's own path, in its block
                line = decode_stored_name(line.encode("utf-8", "surrogateescape"))
            self.header.append(line)
            return
        if not line.strip():
            self._flush()
            return
        key, sep, value = line.partition(" = ")
        if not sep and line.endswith(" ="):
            key, sep, value = line[:-2], " =", ""
        if sep:
            if key == "Path" and self._fields:
                self._flush()
            self._fields.setdefault(key, value)

    def close(self) -> None:
        self._flush()
        self.names = _read_names(self.items)

    def _flush(self) -> None:
        fields, self._fields = self._fields, {}
        if "Path" not in fields:  # a bare stream (.xz, .lzma, ...) stores no name
            if "Size" not in fields and "Packed Size" not in fields:
                return
            fields["Path"] = _stream_name(self._archive_name)
        item = _make_item(fields, len(self.items), self._arc_type)
        if not item.is_dir:
            self._files += 1
            if self._files > self._max_entries:
                raise FerrymanError(
                    "archive.limit_exceeded",
                    f"{self._name}: lists more than {self._max_entries} entries"
                    " (max_entries; raise archive.max_entries to allow)",
                )
        self.items.append(item)


def run_listing(
    exe: Path, archive: Path, name: str, max_entries: int, password: str | None
) -> tuple[ListingParser, int, str]:
    """Run ``l -slt`` (with ``password``, or a bare ``-p`` for none) and parse it as
    it streams: (the parser, 7zz's exit code, what 7zz printed to stderr)."""
    args = [str(exe), "l", "-slt", "-sccUTF-8", "-bso1", "-bse2", "-bsp0"]
    if password is None:
        args.append("-p")
    args.append(str(archive))
    parser = ListingParser(name, archive.name, max_entries)
    with tempfile.TemporaryFile(prefix="ferryman-7zz-") as err:
        try:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL if password is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=environment(),
            )
        except OSError as error:
            raise FerrymanError(
                "archive.unsupported", f"{name}: cannot run 7-Zip: {error}"
            ) from error
        try:
            send_password(proc, password)
            assert proc.stdout is not None
            for raw in proc.stdout:
                parser.feed(_listing_line(raw.rstrip(b"\n")))
            parser.close()
            rc = proc.wait()
        finally:
            stop(proc)
        err.seek(0)  # 7zz is gone: the shared offset is ours now
        stderr = err.read().decode("utf-8", "replace")
    return parser, rc, stderr


# What 7zz itself names the stream inside a compressed file (x.txz -> x.tar): a model
# of 7zz's behaviour, matched against its listings, so it is kept apart from
# archive/suffixes.py (which says what ferryman treats as an archive) on purpose.
_STREAM_SUFFIXES = {
    ".xz": "",
    ".lzma": "",
    ".gz": "",
    ".bz2": "",
    ".zst": "",
    ".z": "",
    ".txz": ".tar",
    ".tgz": ".tar",
    ".tbz": ".tar",
    ".tbz2": ".tar",
    ".tzst": ".tar",
}


def _listing_line(raw: bytes) -> str:
    """A line of 7zz's listing; a name that is not UTF-8 kept as its bytes (escaped),
    to be read with all the archive's names together once they are all listed."""
    if raw.startswith(b"Path = "):
        return raw.decode("utf-8", "surrogateescape")
    return decode_stored_name(raw)


def _escaped(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (``surrogateescape``)."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _read_names(items: list[Item]) -> NameDecoder:
    """The listed names that are not UTF-8, read together (``NameDecoder``); each
    item keeps its listed name in ``listed``. The decoder reads 7zz's messages alike."""
    stored = [item.path.encode("utf-8", "surrogateescape") for item in items]
    legacy = [(item, raw) for item, raw in zip(items, stored, strict=True) if _escaped(item.path)]
    names = NameDecoder([raw for _, raw in legacy])
    for item, raw in legacy:
        item.path = names.decode(raw)
    return names


def _stream_name(archive_name: str) -> str:
    """The name 7zz gives the content of a compressed stream that stores none."""
    stem, dot, suffix = archive_name.rpartition(".")
    replacement = _STREAM_SUFFIXES.get(dot + suffix.lower()) if stem else None
    return stem + replacement if replacement is not None else archive_name + "~"


def header_numbers(header: Iterable[str], keys: tuple[str, ...]) -> list[int]:
    """Sizes the archive blocks declare, ignoring anything from a comment onwards
    (a comment is printed verbatim and could claim any size)."""
    values: list[int] = []
    for line in header:
        if line.startswith("Comment = "):
            break
        key, sep, value = line.partition(" = ")
        if sep and key in keys:
            number = _int_or_none(value)
            if number is not None:
                values.append(number)
    return values


def split_gap(path: Path) -> str | None:
    """The missing volume of a numbered split set (x.7z.001, x.zip.001, ...).

    7zz reads such a set up to its first gap and then only sees an archive that
    ends early, so the gap is found here: a number missing between the first and
    the last volume present, or, if the last one present is as big as the first
    (split volumes are all the same size but the last), the one after it.
    """
    match = _SPLIT_NAME.fullmatch(path.name)
    if match is None or int(match.group(2)) != 1:
        return None
    stem, width = match.group(1), len(match.group(2))
    numbers: list[int] = []
    try:
        for sibling in path.parent.iterdir():
            found = _SPLIT_NAME.fullmatch(sibling.name)
            if found and found.group(1) == stem and len(found.group(2)) == width:
                numbers.append(int(found.group(2)))
        numbers.sort()
        for expected, number in enumerate(numbers, start=1):
            if number != expected:
                return f"{stem}.{expected:0{width}d}"
        last = path.parent / f"{stem}.{numbers[-1]:0{width}d}"
        if last.stat().st_size == path.stat().st_size:
            return f"{stem}.{numbers[-1] + 1:0{width}d}"
    except OSError:
        return None
    return None
