"""The hostile-input guard: safe names and hard limits, whatever backend reads the archive.

Backends report what an archive says; the guard decides what ferryman believes.
It renames every entry (``archive.names``), flags OS clutter as junk, and stops
zip bombs, entry floods and entries that produce more than they declare, counting
bytes as they stream so a bomb is stopped within a few MiB of output.

The ratio (unpacked / packed) is judged only past ``ratio_grace_bytes`` (1 GiB) of
output: below that a ratio cannot tell a bomb from a small text archive. A bomb is
still stopped early because an entry's declared size is checked before it is decoded:
when the bytes out so far plus what it declares pass that floor *and* ``max_ratio``
times the whole archive's packed size, no reading of the archive could stay within
the limit, and it is refused with nothing decoded. An entry that declares less than
it yields is stopped at its declared size. Only entries of unknown size (a lone .gz,
a zip streamed with data descriptors) can run to the floor. A sparse entry's holes
count towards ``max_total_bytes`` but not towards the ratio: its stored data does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from ferryman.archive.names import UniqueNames, is_junk, sanitize_path
from ferryman.archive.reader import (
    ArchiveEntry,
    ArchiveLimits,
    ArchiveReader,
    EntryInfo,
    EntryType,
    ReadAgain,
    Resumable,
)
from ferryman.errors import FerrymanError

# The ratio floor for an entry whose declared size was not believed (see check_declared).
_STRICT_FLOOR = 1 << 20


def _size(n: int) -> str:
    """A byte count for a message: "256 GiB" when exact in a binary unit, else bytes."""
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


class GuardedEntry:
    """An entry as the guard re-issues it: a safe, unique path and metered bytes."""

    __slots__ = ("_inner", "_reader", "_started", "info")

    def __init__(self, inner: ArchiveEntry, info: EntryInfo, reader: GuardedReader) -> None:
        self.info = info
        self._inner = inner
        self._reader = reader
        self._started = False

    def read_blocks(self) -> Iterator[bytes]:
        """The entry's bytes, stopped as soon as they break a limit.

        Raises ``RuntimeError`` for a JUNK entry: junk is never delivered, so reading
        it is a caller bug, and failing loudly keeps it from costing a decompression.
        Raises ``FerrymanError`` "archive.entry_corrupt" at the first block past the
        declared size (that block is not yielded; the next entry stays readable) and
        "archive.limit_exceeded" on the total-bytes or ratio limits (the archive
        ends there).
        """
        if self.info.type is EntryType.JUNK:
            raise RuntimeError(f"{self.info.path}: junk entries are never read")
        if self._started:
            raise RuntimeError(f"{self.info.path}: read_blocks may be called once per entry")
        self._started = True
        self._reader.check_usable()
        strict = self._reader.check_declared(self.info)
        return self._blocks(self._inner.read_blocks(), strict)

    def resumable(self) -> Resumable | None:
        """The entry's ``Resumable`` when its backend gives one, its rest metered as
        ``read_blocks`` meters the whole (the bytes before ``offset`` were counted by the
        run that read them)."""
        if self.info.type is EntryType.JUNK:
            return None
        inner = getattr(self._inner, "resumable", None)
        resumable: Resumable | None = inner() if inner is not None else None
        if resumable is None:
            return None

        def rest(offset: int, crc: int) -> Iterator[bytes]:
            self._reader.check_usable()
            strict = self._reader.check_declared(self.info)
            return self._blocks(resumable.rest(offset, crc), strict, offset)

        return Resumable(resumable.key, rest)

    def _blocks(self, blocks: Iterator[bytes], strict: bool, produced: int = 0) -> Iterator[bytes]:
        declared = self.info.size
        stored = self.info.stored
        try:
            for block in blocks:
                before = produced
                produced += len(block)
                if declared is not None and produced > declared:
                    raise FerrymanError(
                        "archive.entry_corrupt",
                        f"{self._reader.name}: {self.info.path}: "
                        f"yields more than the {declared} bytes it declares",
                    )
                if stored is None:
                    self._reader.count_output(len(block), strict=strict)
                else:  # holes are written but not packed: the ratio counts stored data
                    self._reader.count_output(
                        len(block), max(0, min(produced, stored) - min(before, stored)), strict
                    )
                yield block
        except ReadAgain as retry:
            # Read again from its start, metered afresh; the bytes of the first reading
            # still count towards the limits (they were decoded and written).
            again = retry.again
            raise ReadAgain(retry, lambda: self._blocks(again(), strict)) from retry
        finally:
            # Stop the backend's decompression now, not whenever the GC gets to it.
            close = getattr(blocks, "close", None)
            if close is not None:
                close()


class _GuardedEntries:
    """The guard's entry iterator; a class, not a generator, so it can stay poisoned."""

    __slots__ = ("_count", "_inner", "_names", "_reader")

    def __init__(self, reader: GuardedReader, inner: Iterator[ArchiveEntry]) -> None:
        self._reader = reader
        self._inner = inner
        self._names = UniqueNames()
        self._count = 0

    def __iter__(self) -> _GuardedEntries:
        return self

    def __next__(self) -> GuardedEntry:
        self._reader.check_usable()
        entry = next(self._inner)
        self._count += 1
        limit = self._reader.limits.max_entries
        if self._count > limit:
            raise self._reader.poison(
                f"{self._reader.name}: more than {limit} entries (archive.max_entries)"
            )
        info = entry.info
        safe = sanitize_path(info.path, info.index)
        junk = info.type is EntryType.FILE and is_junk(safe)
        guarded = dataclasses.replace(
            info,
            path=self._names.claim(safe),
            type=EntryType.JUNK if junk else info.type,
        )
        return GuardedEntry(entry, guarded, self._reader)


class GuardedReader:
    """Any ``ArchiveReader`` behind the guard; itself an ``ArchiveReader``.

    Limits come from ``ArchiveLimits``. Once one is exceeded the reader is poisoned:
    every later ``next()`` or read raises the same error, because the rest of a
    hostile archive is not worth reading.
    """

    __slots__ = (
        "_inner",
        "_iterated",
        "_out",
        "_poisoned",
        "_ratio_out",
        "_tally",
        "limits",
        "name",
        "packed_size",
    )

    def __init__(
        self,
        inner: ArchiveReader,
        name: str,
        limits: ArchiveLimits,
        tally: NestingTally | None = None,
        packed_size: int | None = None,
    ) -> None:
        """``packed_size``: the whole archive's bytes, when known (a file, not a
        pipe): lets a declared size be judged before the entry is decoded."""
        self._inner = inner
        self.name = name
        self.limits = limits
        self.packed_size = packed_size
        self._iterated = False
        self._out = 0  # unpacked bytes yielded so far, all entries
        self._ratio_out = 0  # the same, without the holes of sparse entries
        self._poisoned: FerrymanError | None = None
        self._tally = tally
        if tally is not None:
            tally.join(self)

    def __enter__(self) -> GuardedReader:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)

    def __iter__(self) -> Iterator[ArchiveEntry]:
        if self._iterated:
            raise RuntimeError(f"{self.name}: an archive reader is iterated only once")
        self._iterated = True
        return _GuardedEntries(self, iter(self._inner))

    def consumed(self) -> int:
        return self._inner.consumed()

    @property
    def bytes_out(self) -> int:
        """Unpacked bytes yielded so far, over all entries."""
        return self._out

    def check_usable(self) -> None:
        """Raise the limit error again if one was hit: the input ends there."""
        if self._poisoned is not None:
            raise self._poisoned

    def poison(self, message: str) -> FerrymanError:
        """Record a limit error, which every later call then raises; returns it to raise."""
        self._poisoned = FerrymanError("archive.limit_exceeded", message)
        return self._poisoned

    def check_declared(self, info: EntryInfo) -> bool:
        """Refuse an entry whose declared size alone breaks the limits, before a byte
        of it is decoded: past the ratio floor and more than ``max_ratio`` times the
        whole archive's packed size (so no reading of the archive could stay within
        it). A sparse entry counts its stored data. (``max_total_bytes`` is judged
        as the bytes come: the block that crosses it is refused.)

        Returns True when the entry is to be watched closely instead: a declared
        size of 4 GiB or more may be a ZIP64 size off by a multiple of 4 GiB (a
        writer bug seen in the wild), so the data decides; its ratio is then judged
        from ``_STRICT_FLOOR`` on, which stops a real bomb within a few MiB."""
        if info.size is None or info.type is not EntryType.FILE:
            return False
        limits = self.limits
        weight = info.size if info.stored is None else info.stored
        projected = self._ratio_out + weight
        problem: str | None = None
        if (
            self.packed_size is not None
            and projected > limits.ratio_grace_bytes
            and projected > limits.max_ratio * max(self.packed_size, 1)
        ):
            problem = (
                f"{info.path} declares {info.size} bytes unpacked from an archive of"
                f" {self.packed_size} bytes: expands more than {limits.max_ratio:g}:1"
                " (archive.max_ratio)"
            )
        elif self._tally is not None:
            problem = self._tally.refuses_declared(info.size, weight)
        if problem is None:
            return False
        if info.size >= 1 << 32:
            return True
        raise self.poison(f"{self.name}: {problem}")

    def count_output(self, n: int, ratio_n: int | None = None, strict: bool = False) -> None:
        """Account ``n`` more unpacked bytes, refusing them if they break a limit;
        ``ratio_n`` of them count towards the ratio (all, unless holes of a sparse
        entry are among them); ``strict``: the ratio judged from ``_STRICT_FLOOR``.

        Called before the block is yielded, so the block that crosses a limit never
        reaches the caller.
        """
        self.check_usable()
        if ratio_n is None:
            ratio_n = n
        limits = self.limits
        total = self._out + n
        ratio_total = self._ratio_out + ratio_n
        floor = min(limits.ratio_grace_bytes, _STRICT_FLOOR) if strict else limits.ratio_grace_bytes
        if total > limits.max_total_bytes:
            raise self.poison(
                f"{self.name}: more than {_size(limits.max_total_bytes)} unpacked "
                "(archive.max_total_bytes)"
            )
        if ratio_total > floor and ratio_total > limits.max_ratio * max(self._inner.consumed(), 1):
            raise self.poison(
                f"{self.name}: expands more than {limits.max_ratio:g}:1 (archive.max_ratio)"
            )
        if self._tally is not None:
            problem = self._tally.refuses(n, ratio_n, floor)
            if problem is not None:
                raise self.poison(f"{self.name}: {problem}")
            self._tally.total += n
            self._tally.ratio_total += ratio_n
        self._out = total
        self._ratio_out = ratio_total


class NestingTally:
    """Unpacked bytes of an archive and of every archive inside it, counted together.

    Limits per archive alone let a nested bomb multiply: each level may expand
    ``max_ratio`` times and yield ``max_total_bytes``. The tree's total (the copies
    of nested archives included: they are written too) is held to the outermost
    archive's limits, its ratio against the bytes read of the outermost archive.
    """

    __slots__ = ("_root", "ratio_total", "total")

    def __init__(self) -> None:
        self.total = 0
        self.ratio_total = 0  # without the holes of sparse entries
        self._root: GuardedReader | None = None

    def join(self, reader: GuardedReader) -> None:
        """The first reader to join is the outermost archive."""
        if self._root is None:
            self._root = reader

    def refuses_declared(self, size: int, weight: int) -> str | None:
        """Why an entry declaring ``size`` (``weight`` of it stored data) would break
        the tree's limits whatever is read, or None."""
        root = self._root
        if root is None or root.packed_size is None:
            return None
        limits = root.limits
        projected = self.ratio_total + weight
        if projected > limits.ratio_grace_bytes and projected > limits.max_ratio * max(
            root.packed_size, 1
        ):
            return (
                f"declares {size} bytes: {root.name} and the archives inside it would expand"
                f" more than {limits.max_ratio:g}:1 (archive.max_ratio)"
            )
        return None

    def refuses(self, n: int, ratio_n: int | None = None, floor: int | None = None) -> str | None:
        """Why ``n`` more bytes would break the tree's limits, or None (``floor``:
        the ratio judged past it, not the root's ``ratio_grace_bytes``)."""
        root = self._root
        if root is None:
            return None
        limits = root.limits
        total = self.total + n
        ratio_total = self.ratio_total + (n if ratio_n is None else ratio_n)
        if floor is None:
            floor = limits.ratio_grace_bytes
        if total > limits.max_total_bytes:
            return (
                f"more than {_size(limits.max_total_bytes)} unpacked with the archives"
                f" around and inside it (archive.max_total_bytes, counted from {root.name})"
            )
        if ratio_total > floor and ratio_total > limits.max_ratio * max(root.consumed(), 1):
            return (
                f"{root.name} and the archives inside it expand more than"
                f" {limits.max_ratio:g}:1 (archive.max_ratio)"
            )
        return None
