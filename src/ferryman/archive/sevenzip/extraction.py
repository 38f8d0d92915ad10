"""One ``x -so`` run of 7zz, cut into entries and checked as its output streams.

Kept apart from ``sevenzip.backend``: ``Run`` knows one process and its plan of
entries; the reader decides which runs to start and what their failures mean.

7zz's messages go to an unlinked temp file, not a pipe: nothing can deadlock,
and whatever 7zz printed before writing some bytes to stdout is in the file once
those bytes are read. ``-bb1`` makes it print "- name" before each entry's data
and "ERROR: reason : name" after it; that is how failures are pinned to entries
(RAR5 and zip AES hide the CRC of encrypted entries), and how a stream that is
no longer in step with the listing is noticed.

Names are 7zz's own throughout (``Item.listed``), never the decoded ones: a name
stored in a legacy code page is listed as its bytes, and 7zz neither matches nor
prints it any other way. The listfile holds those bytes and is read with ``-scsWIN``
(the locale's charset: ``sevenzip.process.environment`` pins a UTF-8 one, where
7zz keeps bytes that are not UTF-8 as they are); ``-scsUTF-8`` refuses such a name
("Incorrect item in listfile"), and its decoded name, as UTF-8, matches nothing.
The log's "- name" and "ERROR: … : name" lines are matched by the same bytes.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import io
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from ferryman.archive.checksum import crc32
from ferryman.archive.sevenzip.listing import Item
from ferryman.archive.sevenzip.process import PROMPT, environment, send_password, stop
from ferryman.archive.stored_names import NameDecoder

BLOCK_SIZE = 1 << 20
_MARKER_POSITION = re.compile(r" <\d+>$")
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
class Problem:
    """Why an entry's bytes did not check out."""

    kind: str  # "data" | "short" | "desync" | "unsupported"
    detail: str


class Run:
    """One ``x -so`` process and the entries (``plan``) it will write, in order.

    Reading state lives here, not in generators, so an entry abandoned half-read
    can be finished (read and checked) when the reader moves on.
    """

    def __init__(
        self,
        exe: Path,
        archive: Path,
        password: str | None,
        plan: list[Item],
        names: list[str] | None,
        target: int,
        stored: NameDecoder,
    ) -> None:
        self.password = password
        self.plan = plan
        self.target = target  # ordinal of the entry it was started for
        self._stored = stored  # reads 7zz's other messages as the listing's names
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
            self._by_path.setdefault(item.listed, []).append(pos)
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
            "-scsWIN",
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
                    text = "".join(f"{name}\n" for name in names)
                    listing.write(text.encode("utf-8", "surrogateescape"))
                args.append("@" + self._listfile)
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL if password is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                env=environment(),
            )
        except OSError:
            self._cleanup()
            raise
        send_password(self._proc, password)
        self._out = cast(io.BufferedReader, self._proc.stdout)
        _widen_pipe(self._out.fileno())

    @property
    def pid(self) -> int:
        return self._proc.pid

    def position_of(self, item: Item) -> int | None:
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
        want = BLOCK_SIZE if self._left is None else min(BLOCK_SIZE, self._left)
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
        self._crc = crc32(data, self._crc)
        if self._left is not None:
            self._left -= len(data)
        return data

    def verdict(self, target: bool) -> Problem | None:
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
            return Problem("desync", "7-Zip's output is out of step with the listing")
        if self._short:
            return self._problem(f"the data ends after {self._got} of {item.stream_size} bytes")
        if item.crc is not None and item.stream_size is not None:
            return None if self._crc == item.crc else self._problem("CRC mismatch")
        if not target and item.stream_size == 0:
            return None
        self.settle()
        return self._problem("") if self.errors.get(pos) else None

    def _problem(self, what: str) -> Problem:
        """A failure of the current entry, in 7zz's words too once it has said them."""
        assert self._reading is not None
        self.settle()
        # Without a word on the entry itself, why the whole run ended early may help.
        reported = self.errors.get(self._reading, []) or (self.run_errors if self._short else [])
        said = "; ".join(reported)
        detail = f"{what} ({said})" if what and said else what or said or "failed"
        if any("Unsupported" in reason for reason in reported):
            return Problem("unsupported", detail)
        return Problem("short" if self._short else "data", detail)

    def settle(self) -> None:
        """Wait until 7zz has moved past the current entry (it writes more, or
        exits), so everything it had to say about that entry is in the log."""
        if not self._pushback and not self._eof:
            data = self._out.read1(BLOCK_SIZE)
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
        # Whole blocks (fewer bytes only at the end): one os.read returns what the
        # pipe holds, and the shrunken tails of 1 MiB allocations fragmented the heap
        # (peak RSS 24 -> 35 MiB on 512 MiB of 7z; BufferedReader.read fills a block).
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
        for raw in lines:  # names as 7zz listed them: Item.listed
            self._note(raw.decode("utf-8", "surrogateescape"))

    def _note(self, line: str) -> None:
        if line.startswith(PROMPT):
            line = line[len(PROMPT) :].lstrip()
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
        self.run_errors.append(self._stored.decode(line.encode("utf-8", "surrogateescape")))

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
        stop(self._proc)
        self._cleanup()

    def _cleanup(self) -> None:
        self._log.close()
        if self._listfile is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._listfile)
            self._listfile = None


def _widen_pipe(fd: int) -> None:
    """A 1 MiB pipe instead of 64 KiB: 7zz then blocks far less often on a full pipe
    (7z LZMA2, 512 MiB: 1.9-2.7 s -> 0.9-1.0 s). Linux only; elsewhere the default stays.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, set_size, 1 << 20)
