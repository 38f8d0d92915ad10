"""Archive backend on the 7-Zip command line tool (``7zz``): RAR, 7z features, split sets.

How it drives 7zz, and why (all measured on upstream 7-Zip 26.03):

* The archive is listed once (``l -slt``) and extracted once to stdout (``x -so``);
  the stream is cut into entries by their listed sizes and every entry with a
  listed CRC is checked with ``zlib.crc32``. One process per entry would decode a
  solid archive again for every entry.
* After an entry fails the stream cannot be trusted: the process is stopped and a
  new one extracts the entries still wanted, selected by name (``-spd``: names
  are not wildcards; same-named entries come along and are discarded): by the
  names 7zz listed, a legacy code page's bytes included (``sevenzip.extraction``),
  not the names decoded from them, which 7zz does not know. That is
  also how an encrypted entry is retried with the next password (and, if one
  works, how the rest continues with it), and how a resumed job skips ahead.

The listing is run and parsed by ``sevenzip.listing``, each extraction is a ``Run``
of ``sevenzip.extraction``, and 7zz is found and started by ``sevenzip.process``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ferryman.archive.reader import EntryInfo, EntryType, OpenOptions
from ferryman.archive.sevenzip.extraction import BLOCK_SIZE, Problem, Run
from ferryman.archive.sevenzip.listing import (
    Item,
    ListingParser,
    header_numbers,
    run_listing,
    split_gap,
)
from ferryman.archive.sevenzip.process import SevenZip, find_7zz, summary, usable
from ferryman.archive.stored_names import NameDecoder
from ferryman.errors import FerrymanError

__all__ = ["SevenZip", "SevenZipEntry", "SevenZipReader", "find_7zz"]

# Encrypted entries tried with several passwords are held back until they check
# out (a wrong password can decode to garbage of the full size); beyond this much
# they wait on disk instead of in memory.
_SPOOL_IN_MEMORY = 8 << 20
_MISSING_VOLUME = re.compile(r"Missing volume : (.+)")
_WRONG_HEADER_PASSWORD = "Cannot open encrypted archive. Wrong password?"


class SevenZipEntry:
    """One entry of a ``SevenZipReader``; readable while it is the current entry."""

    __slots__ = ("_generation", "_item", "_reader", "_started", "info")

    def __init__(self, reader: SevenZipReader, item: Item, generation: int) -> None:
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
        self._passwords = tuple(p for p in options.passwords if usable(p))
        self._limits = options.limits
        self._generation = 0
        self._iterated = False
        self._consumed = 0
        self._run: Run | None = None
        self._runs_started = 0
        self._failed: dict[int, FerrymanError] = {}  # by ordinal: known not to extract
        # names (as 7zz lists them) whose selection drags in a broken entry
        self._poisoned: set[str] = set()
        self._pending: FerrymanError | None = None  # raised after the last entry
        self._password: str | None = self._passwords[0] if self._passwords else None
        # A password that opened a 7z archive's encrypted names is the only one 7zz can
        # extract it with (one -p per run): entries need not be held back, and one that
        # fails with it is damaged, not locked. (Without encrypted names one 7z archive
        # can hold entries under different passwords: 7-Zip adds files to an archive
        # with a new password and keeps the old data as it was.)
        self._key_known = False
        self._stored = NameDecoder()
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

    def _list(self) -> list[Item]:
        """List with each password until one opens the names (if they are encrypted)."""
        attempts: list[str | None] = list(self._passwords) or [None]
        for password in attempts:
            parser, rc, stderr = run_listing(
                self._exe, self._archive, self._name, self._limits.max_entries, password
            )
            if _WRONG_HEADER_PASSWORD in stderr:
                continue
            self._password = password if parser.prompted else self._password
            self._stored = parser.names
            self._key_known = parser.arc_type == "7z" and parser.prompted and rc == 0
            return self._check_listing(parser, rc, stderr)
        given = self._given
        raise FerrymanError(
            "archive.password_required",
            f"{self._name}: the file names are encrypted; "
            + (
                f"none of the {given} password{'s' * (given != 1)} given opens it"
                if given
                else "no password was given"
            ),
        )

    def _check_listing(self, parser: ListingParser, rc: int, stderr: str) -> list[Item]:
        header = "\n".join(parser.header)
        text = header + "\n" + stderr
        missing = _MISSING_VOLUME.search(text)
        if missing:
            raise FerrymanError(
                "archive.volume_missing", f"{self._name}: {missing.group(1).strip()} is missing"
            )
        ended_early = "Unexpected end of archive" in text
        if ended_early:
            gap = split_gap(self._archive)
            if gap is not None:
                raise FerrymanError("archive.volume_missing", f"{self._name}: {gap} is missing")
        items = parser.items
        reason = summary(stderr if rc and not items else text, self._archive, self._name)
        if rc and not items:
            if ended_early:
                raise FerrymanError("archive.truncated", f"{self._name}: ends early ({reason})")
            if "Unsupported" in text or self._rar_without_rar_support():
                raise FerrymanError("archive.unsupported", f"{self._name}: {reason}")
            raise FerrymanError("archive.unreadable", f"{self._name}: cannot open ({reason})")
        if ended_early:
            self._pending = FerrymanError(
                "archive.truncated",
                f"{self._name}: ends early, after {_entries(sum(not i.is_dir for i in items))}",
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

    def _check_limits(self, parser: ListingParser, items: list[Item]) -> None:
        """Refuse a bomb from its listing, before a single byte is decoded."""
        limits = self._limits
        declared = sum(item.size or 0 for item in items if not item.is_dir)
        try:
            on_disk = self._archive.stat().st_size
        except OSError:
            on_disk = 0
        physical = max(
            [on_disk, *header_numbers(parser.header, ("Physical Size", "Total Physical Size"))]
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

    def deliver(self, item: Item, generation: int) -> Iterator[bytes]:
        """An entry's checked bytes, retrying the other passwords if it is encrypted."""
        known = self._failed.get(item.ordinal)
        if known is not None:
            raise known
        # With several passwords, an encrypted entry is held back until it checks
        # out: the first password tried may decode it to garbage of the full size.
        hold = item.encrypted and len(self._passwords) > 1 and not self._key_known
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
                        while block := spool.read(BLOCK_SIZE):
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

    def _chunk(self, run: Run, generation: int) -> bytes:
        self.check_current(generation)
        return run.chunk()

    def _entry_error(self, item: Item, problem: Problem) -> FerrymanError:
        where = f"{self._name}: {item.path}"
        if problem.kind == "unsupported":
            return FerrymanError(
                "archive.unsupported", f"{where}: 7-Zip cannot extract it ({problem.detail})"
            )
        cut_short = problem.kind == "short" and self._pending is not None
        if self._key_known and item.encrypted and not cut_short:
            return FerrymanError(
                "archive.entry_corrupt",
                f"{where}: {problem.detail}, with the password that opens the archive",
            )
        if item.encrypted and not cut_short:
            given = self._given
            return FerrymanError(
                "archive.password_required",
                f"{where}: encrypted; "
                + (
                    f"none of the {given} password{'s' * (given != 1)} given opens it"
                    if given
                    else "no password was given"
                ),
            )
        if cut_short:
            return FerrymanError(
                "archive.entry_corrupt", f"{where}: {problem.detail}, the archive ends early"
            )
        return FerrymanError("archive.entry_corrupt", f"{where}: {problem.detail}")

    def _record(self, item: Item, error: FerrymanError) -> FerrymanError:
        """Remember an entry that cannot be extracted; later selections skip its name."""
        self._failed[item.ordinal] = error
        self._poisoned.add(item.listed)
        return error

    def _reach(self, item: Item, password: str | None) -> Run:
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
            self._poisoned.add(run.plan[broken].listed)
            failed_item = run.plan[broken]
            self._stop_run(failed=broken if not failed_item.encrypted else None)

    @staticmethod
    def _skip_to(run: Run, pos: int) -> int | None:
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

    def _start_run(self, item: Item, password: str | None) -> Run:
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
                if f.ordinal >= item.ordinal and f.listed not in self._poisoned:
                    wanted.setdefault(f.listed, None)
            if item.listed not in wanted:
                raise self._record(
                    item,
                    FerrymanError(
                        "archive.entry_corrupt",
                        f"{self._name}: {item.path}: cannot be extracted apart from a damaged"
                        " entry of the same name",
                    ),
                )
            names = list(wanted)
            plan = [i for i in self._items if _selected(i.listed, wanted)]
        try:
            run = Run(self._exe, self._archive, password, plan, names, item.ordinal, self._stored)
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


def _entries(count: int) -> str:
    """``1 entry``, ``2 entries``: a count as a message says it."""
    return f"{count} {'entry' if count == 1 else 'entries'}"
