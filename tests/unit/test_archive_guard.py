"""The hostile-input guard: names, junk and limits, on a fake backend and on libarchive.

The fake backend is legitimate here: the guard's job is accounting over whatever
any backend yields, and the fake lets each limit be hit at an exact block. The
libarchive tests then show the same limits stopping real hostile zips.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.archive.guard import GuardedEntry, GuardedReader
from ferryman.archive.libarchive.backend import LibarchiveReader
from ferryman.archive.reader import ArchiveEntry, ArchiveLimits, ArchiveReader, EntryInfo, EntryType
from ferryman.errors import FerrymanError

MiB = 1 << 20


class FakeEntry:
    def __init__(self, reader: FakeReader, info: EntryInfo, blocks: list[bytes]) -> None:
        self.info = info
        self._reader = reader
        self._blocks = blocks
        self.reads = 0
        self.closed = False

    def read_blocks(self) -> Iterator[bytes]:
        self.reads += 1
        return self._gen()

    def _gen(self) -> Iterator[bytes]:
        try:
            for block in self._blocks:
                self._reader.packed += self._reader.packed_per_block
                yield block
        finally:
            self.closed = True


class FakeReader:
    """Yields the given entries; ``consumed()`` is ``packed``, which grows per block read."""

    def __init__(
        self, entries: list[tuple[str, list[bytes]]], *, packed_per_block: int = 0
    ) -> None:
        self.packed = 0
        self.packed_per_block = packed_per_block
        self.entered = self.exited = False
        self.pulled = 0
        self.entries = [
            FakeEntry(self, EntryInfo(i, path, sum(map(len, b)), 1000.0 + i, EntryType.FILE), b)
            for i, (path, b) in enumerate(entries)
        ]

    def __enter__(self) -> FakeReader:
        self.entered = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.exited = True

    def __iter__(self) -> Iterator[ArchiveEntry]:
        for entry in self.entries:
            self.pulled += 1
            yield entry

    def consumed(self) -> int:
        return self.packed


def guarded(inner: ArchiveReader, **limits: int | float) -> GuardedReader:
    return GuardedReader(inner, "test.zip", ArchiveLimits(**limits))  # type: ignore[arg-type]


def read_all(entry: ArchiveEntry) -> bytes:
    return b"".join(entry.read_blocks())


def limit_error(excinfo: pytest.ExceptionInfo[FerrymanError], setting: str) -> str:
    assert excinfo.value.code == "archive.limit_exceeded"
    assert f"(archive.{setting})" in excinfo.value.message
    assert excinfo.value.message.startswith("test.zip: ")
    return excinfo.value.message


# --- names and junk --------------------------------------------------------------------


def test_paths_sanitised_and_unique_rest_kept() -> None:
    inner = FakeReader(
        [("../../etc/passwd", [b"a"]), ("ETC/PASSWD", [b"b"]), ("", [b"c"]), ("C:\\x.txt", [b"d"])]
    )
    with guarded(inner) as reader:
        entries = list(reader)
        paths = [e.info.path for e in entries]
        assert paths == ["etc/passwd", "ETC/PASSWD (2)", "entry-2", "x.txt"]
        for entry, raw in zip(entries, inner.entries, strict=True):
            assert (entry.info.index, entry.info.size, entry.info.mtime, entry.info.type) == (
                raw.info.index,
                raw.info.size,
                raw.info.mtime,
                EntryType.FILE,
            )
    assert inner.entered and inner.exited


def test_junk_flagged_named_and_never_read() -> None:
    inner = FakeReader(
        [
            ("album/__MACOSX/._a.jpg", [b"fork"]),
            (".DS_Store", [b"x"]),
            ("album/Thumbs.db", [b"x"]),
            ("album/a.jpg", [b"jpeg"]),
            ("album/.DS_STORE", [b"x"]),
        ]
    )
    inner.entries[4].info = EntryInfo(4, "album/.DS_STORE", 1, None, EntryType.SYMLINK)
    with guarded(inner) as reader:
        entries = list(reader)
    types = [e.info.type for e in entries]
    assert types == [EntryType.JUNK] * 3 + [EntryType.FILE, EntryType.SYMLINK]  # files only
    assert entries[0].info.path == "album/__MACOSX/._a.jpg"
    with pytest.raises(RuntimeError, match="junk"):
        entries[1].read_blocks()
    assert all(e.reads == 0 for e in inner.entries[:3])


def test_iterated_once_and_consumed_delegated() -> None:
    inner = FakeReader([("a", [b"x"])])
    inner.packed = 42
    reader = guarded(inner)
    assert reader.consumed() == 42
    list(reader)
    with pytest.raises(RuntimeError):
        iter(reader)


# --- entry count -----------------------------------------------------------------------


def test_entry_limit_after_yielding_n() -> None:
    inner = FakeReader([(f"f{i}", [b"x"]) for i in range(6)])
    reader = guarded(inner, max_entries=3)
    it = iter(reader)
    got = [next(it).info.path for _ in range(3)]
    assert got == ["f0", "f1", "f2"]
    with pytest.raises(FerrymanError) as excinfo:
        next(it)
    message = limit_error(excinfo, "max_entries")
    assert message == "test.zip: more than 3 entries (archive.max_entries)"
    with pytest.raises(FerrymanError) as again:  # poisoned: the input ends there
        next(it)
    assert again.value is excinfo.value
    assert inner.pulled == 4


def test_exactly_max_entries_is_fine() -> None:
    inner = FakeReader([(f"f{i}", [b"x"]) for i in range(3)])
    assert len(list(guarded(inner, max_entries=3))) == 3


# --- declared size ---------------------------------------------------------------------


def test_entry_yielding_more_than_declared_is_stopped_at_once() -> None:
    inner = FakeReader([("liar.bin", [b"a" * 6, b"SECRET", b"c" * 6]), ("next.txt", [b"ok"])])
    inner.entries[0].info = EntryInfo(0, "liar.bin", 10, None, EntryType.FILE)
    reader = guarded(inner)
    it = iter(reader)
    liar = next(it)
    blocks = liar.read_blocks()
    assert next(blocks) == b"a" * 6
    with pytest.raises(FerrymanError) as excinfo:
        next(blocks)
    assert excinfo.value.code == "archive.entry_corrupt"
    assert excinfo.value.message == (
        "test.zip: liar.bin: yields more than the 10 bytes it declares"
    )
    assert "SECRET" not in str(excinfo.value)
    assert inner.entries[0].closed  # the backend's reading stopped too
    assert read_all(next(it)) == b"ok"  # entry-level: the archive goes on
    assert reader.bytes_out == 8


def test_undeclared_size_is_not_checked_and_exact_size_passes() -> None:
    inner = FakeReader([("a", [b"x" * 5, b"y" * 5]), ("b", [b"z" * 7])])
    inner.entries[0].info = EntryInfo(0, "a", None, None, EntryType.FILE)
    assert [read_all(e) for e in guarded(inner)] == [b"x" * 5 + b"y" * 5, b"z" * 7]


# --- total bytes -----------------------------------------------------------------------


def test_total_bytes_limit_before_the_crossing_block() -> None:
    inner = FakeReader([("a", [b"x" * 4, b"x" * 4]), ("b", [b"y" * 4]), ("c", [b"z"])])
    reader = guarded(inner, max_total_bytes=10)
    it = iter(reader)
    assert read_all(next(it)) == b"x" * 8
    yielded: list[bytes] = []
    with pytest.raises(FerrymanError) as excinfo:
        yielded.extend(next(it).read_blocks())
    assert yielded == []
    message = limit_error(excinfo, "max_total_bytes")
    assert message == "test.zip: more than 10 bytes unpacked (archive.max_total_bytes)"
    with pytest.raises(FerrymanError) as again:
        next(it)
    assert again.value is excinfo.value


def test_total_bytes_message_uses_binary_units() -> None:
    inner = FakeReader([("a", [bytes(2048)])])
    with pytest.raises(FerrymanError, match=r"more than 1 KiB unpacked"):
        read_all(next(iter(guarded(inner, max_total_bytes=1024))))


# --- compression ratio -----------------------------------------------------------------


def test_ratio_limit_after_grace() -> None:
    # 50 bytes out per 1 packed byte: 50:1 against a limit of 10:1, grace 100 bytes.
    inner = FakeReader([("bomb", [b"\0" * 50] * 10)], packed_per_block=1)
    reader = guarded(inner, max_ratio=10.0, ratio_grace_bytes=100)
    entry = next(iter(reader))
    yielded: list[bytes] = []
    with pytest.raises(FerrymanError) as excinfo:
        yielded.extend(entry.read_blocks())
    assert len(yielded) == 2  # the third block would take the output past the grace
    assert limit_error(excinfo, "max_ratio") == (
        "test.zip: expands more than 10:1 (archive.max_ratio)"
    )


def test_ratio_within_limit_passes() -> None:
    inner = FakeReader([("ok", [b"\0" * 50] * 10)], packed_per_block=10)
    reader = guarded(inner, max_ratio=10.0, ratio_grace_bytes=100)
    assert len(read_all(next(iter(reader)))) == 500


def test_ratio_counts_from_one_packed_byte() -> None:
    inner = FakeReader([("a", [b"\0" * 30])])  # consumed() stays 0
    with pytest.raises(FerrymanError, match=r"\(archive\.max_ratio\)"):
        read_all(next(iter(guarded(inner, max_ratio=20.0, ratio_grace_bytes=10))))


def test_ratio_is_over_the_whole_archive() -> None:
    # Entries of 40 bytes, 1 packed byte each: within grace for the first two.
    inner = FakeReader([(f"f{i}", [b"\0" * 40]) for i in range(5)], packed_per_block=1)
    reader = guarded(inner, max_ratio=30.0, ratio_grace_bytes=100)
    it = iter(reader)
    assert [len(read_all(next(it))) for _ in range(2)] == [40, 40]
    with pytest.raises(FerrymanError, match=r"\(archive\.max_ratio\)"):
        read_all(next(it))
    with pytest.raises(FerrymanError, match=r"\(archive\.max_ratio\)"):
        next(it)


def test_read_after_poison_refused() -> None:
    inner = FakeReader([("a", [b"x"]), ("b", [b"y" * 20])])
    reader = guarded(inner, max_entries=1)
    it = iter(reader)
    first = next(it)
    with pytest.raises(FerrymanError):
        next(it)
    with pytest.raises(FerrymanError, match="max_entries"):
        first.read_blocks()


def test_guarded_entry_reads_once() -> None:
    entry = next(iter(guarded(FakeReader([("a", [b"x"])]))))
    assert isinstance(entry, GuardedEntry)
    read_all(entry)
    with pytest.raises(RuntimeError):
        entry.read_blocks()


# --- real zips through libarchive ------------------------------------------------------


def open_real(path: Path, **limits: int | float) -> GuardedReader:
    return GuardedReader(LibarchiveReader(path, "zip"), path.name, ArchiveLimits(**limits))  # type: ignore[arg-type]


@pytest.mark.slow  # over 3 s: a bomb and a flood read whole
def test_zip_bomb_stopped_early(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("zeros.bin", "w") as f:
        zeros = bytes(MiB)
        for _ in range(200):
            f.write(zeros)
    assert bomb.stat().st_size < 400_000
    yielded = 0
    # Below the 1 GiB floor the ratio is not judged (test_archive_conformance has the
    # default limits stopping a 3 GiB bomb); with a 1 MiB floor the stream check stops it.
    with open_real(bomb, ratio_grace_bytes=MiB) as reader:
        entry = next(iter(reader))
        assert entry.info.size == 200 * MiB
        with pytest.raises(FerrymanError) as excinfo:
            for block in entry.read_blocks():
                yielded += len(block)
        assert excinfo.value.code == "archive.limit_exceeded"
        assert "(archive.max_ratio)" in excinfo.value.message
        assert yielded < 16 * MiB
        assert reader.bytes_out == yielded


def make_liar(path: Path, declared: int, data: bytes) -> Path:
    """A zip whose first (stored) entry declares ``declared`` bytes but holds ``data``.

    Only the uncompressed-size fields (local header and central directory) lie; the
    compressed size and CRC are true, so libarchive reads the stored data in full.
    """
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("liar.bin", data, compress_type=zipfile.ZIP_STORED)
        zf.writestr("after.txt", b"still here", compress_type=zipfile.ZIP_STORED)
    buf = bytearray(path.read_bytes())
    local = buf.index(b"PK\x03\x04")
    struct.pack_into("<I", buf, local + 22, declared)
    central = buf.index(b"PK\x01\x02")
    struct.pack_into("<I", buf, central + 24, declared)
    path.write_bytes(bytes(buf))
    return path


def test_entry_lying_about_its_size(tmp_path: Path) -> None:
    liar = make_liar(tmp_path / "liar.zip", 1000, bytes(range(256)) * (3 * MiB // 256))
    # Unguarded, libarchive yields well past the declared size before complaining.
    unguarded = 0
    with LibarchiveReader(liar, "zip") as raw:
        raw_entry = next(iter(raw))
        assert raw_entry.info.size == 1000
        try:
            for block in raw_entry.read_blocks():
                unguarded += len(block)
        except FerrymanError as err:
            assert err.code == "archive.entry_corrupt"
    assert unguarded > 1000

    guarded_bytes = 0
    with open_real(liar) as reader:
        it = iter(reader)
        entry = next(it)
        with pytest.raises(FerrymanError) as excinfo:
            for block in entry.read_blocks():
                guarded_bytes += len(block)
        assert excinfo.value.code == "archive.entry_corrupt"
        assert excinfo.value.message == (
            "liar.zip: liar.bin: yields more than the 1000 bytes it declares"
        )
        assert guarded_bytes <= 1000
        after = next(it)
        assert after.info.path == "after.txt"
        assert read_all(after) == b"still here"


@pytest.fixture(scope="module")
def many_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("many") / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(100_000):
            zf.writestr(f"f{i}", b"")
    return path


@pytest.mark.slow  # over 3 s: a bomb and a flood read whole
def test_entry_flood_stops_at_max_entries(many_zip: Path) -> None:
    seen = 0
    with open_real(many_zip, max_entries=50_000) as reader, pytest.raises(FerrymanError) as err:
        for _ in reader:
            seen += 1
    assert seen == 50_000
    assert err.value.message == "many.zip: more than 50000 entries (archive.max_entries)"


def test_real_zip_names_and_junk(tmp_path: Path) -> None:
    path = tmp_path / "mixed.zip"
    members = [
        ("../../evil.txt", b"1"),
        ("/abs/x.txt", b"2"),
        ("album/photo.jpg", b"3"),
        ("ALBUM/PHOTO.JPG", b"4"),
        ("__MACOSX/album/._photo.jpg", b"fork"),
        ("album/.DS_Store", b"ds"),
        ("album/Thumbs.db", b"th"),
        ("album/a\\b.txt", b"5"),
    ]
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name), data)
    with open_real(path) as reader:
        rows = []
        for entry in reader:
            content = None if entry.info.type is EntryType.JUNK else read_all(entry)
            rows.append((entry.info.path, entry.info.type, content))
    assert rows == [
        ("evil.txt", EntryType.FILE, b"1"),
        ("abs/x.txt", EntryType.FILE, b"2"),
        ("album/photo.jpg", EntryType.FILE, b"3"),
        ("ALBUM/PHOTO (2).JPG", EntryType.FILE, b"4"),
        ("__MACOSX/album/._photo.jpg", EntryType.JUNK, None),
        ("album/.DS_Store", EntryType.JUNK, None),
        ("album/Thumbs.db", EntryType.JUNK, None),
        ("album/a/b.txt", EntryType.FILE, b"5"),
    ]
