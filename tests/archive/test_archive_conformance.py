"""Conformance with the reference tools (a quick subset of ``bench conformance``), the
bomb guard's promise under the default limits, and the hostile-archive rules in every
format read since issue 33 (ISO, CAB, cpio, RPM, LHA, SFX, .tar.Z, sparse tar)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest

from ferryman.archive.opener import open_archive
from ferryman.archive.reader import ArchiveLimits, EntryType, OpenOptions
from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.samples import make_photo_set
from ferryman.sources.base import ReadOptions
from ferryman.sources.local import iter_local
from ferryman.store import Store
from tests.support.archive_corpus import (
    GENERATORS,
    Sample,
    build_corpus,
    judge,
    payload,
)
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle, sha256
from tests.support.once import built_once

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

MiB = 1 << 20
GiB = 1 << 30


# --------------------------------------------------------------------------- the corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Sample]]:
    """The samples, made once per run for every worker (a hundred tool runs: each of the
    three workers that ran one of this file's corpus tests made its own); read-only, each
    worker judging them in a work folder of its own."""
    quick = tuple(name for name in GENERATORS if name != "rar")
    samples = built_once(
        tmp_path_factory, "archive-corpus", lambda folder: build_corpus(folder / "samples", quick)
    )
    return tmp_path_factory.mktemp("corpus"), samples


def test_every_sample_the_oracle_reads_is_delivered_byte_for_byte(
    corpus: tuple[Path, list[Sample]],
) -> None:
    root, samples = corpus
    if not shutil.which("bsdtar"):
        pytest.skip("bsdtar (libarchive-tools) is not installed: no oracle")
    misses = []
    read = 0
    for sample in samples:
        outcome = judge(sample, root)
        if outcome.oracle is None:
            if not outcome.clear_code:
                misses.append(outcome.describe())
            continue
        read += 1
        if not outcome.byte_for_byte and sample.path.name not in KNOWN_GAPS:
            misses.append(outcome.describe())
    assert read >= 20, "the corpus should hold more than a handful of readable archives"
    assert misses == []


def test_doctor_lists_every_format_the_corpus_reads(corpus: tuple[Path, list[Sample]]) -> None:
    from ferryman.archive.capabilities import MATRIX

    listed = {cap.format for cap in MATRIX}
    rows = {sample.row for sample in corpus[1]} - {"broken"}
    assert {("single file" if row == "single" else row) for row in rows} <= listed


def test_every_rar_fixture_an_oracle_reads_is_delivered(tmp_path: Path) -> None:
    """The shared RAR samples (libarchive's and rarfile's own), when present."""
    samples = build_corpus(tmp_path / "rar", ("rar", "rarhand"))
    if len(samples) < 2:
        pytest.skip("the RAR fixtures (../shared/fixtures/rar) are not here")
    misses = []
    for sample in samples:
        outcome = judge(sample, tmp_path)
        if not (outcome.byte_for_byte or outcome.clear_code):
            misses.append(outcome.describe())
    assert misses == []


# Read, but not yet byte for byte (see docs/archive-backends.md, "Not covered").
KNOWN_GAPS: frozenset[str] = frozenset()


# --------------------------------------------------------------------------- bombs


def _zeros_zip(path: Path, size: int, name: str = "zeros.bin") -> Path:
    """A zip holding ``size`` zero bytes (ZIP64 sizes from 4 GiB on), built block by
    block: no gigabytes in memory, and 3 GiB of deflate written in a second."""
    chunk = bytes(MiB)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    tail = packer.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(chunk, crc)
    packed = len(head) + len(again) * (size // MiB - 1) + len(tail)
    raw = name.encode()
    big = size >= 1 << 32
    extra = struct.pack("<HHQQ", 1, 16, size, packed) if big else b""
    sizes = (0xFFFFFFFF, 0xFFFFFFFF) if big else (packed, size)
    version = 45 if big else 20
    with path.open("wb") as f:
        f.write(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                version,
                0,
                8,
                0,
                0x21,
                crc,
                *sizes,
                len(raw),
                len(extra),
            )
            + raw
            + extra
        )
        f.write(head)
        for _ in range(size // MiB - 1):
            f.write(again)
        f.write(tail)
        central = struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            version,
            version,
            0,
            8,
            0,
            0x21,
            crc,
            *sizes,
            len(raw),
            len(extra),
            0,
            0,
            0,
            0,
            0,
        )
        start = f.tell()
        f.write(central + raw + extra)
        length = len(central) + len(raw) + len(extra)
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, length, start, 0))
    return path


def test_a_5_gib_bomb_declaring_its_size_is_watched_and_stopped_within_a_few_mib(
    tmp_path: Path,
) -> None:
    """From 4 GiB on a declared size may be a ZIP64 size off by 4 GiB (the data then
    decides), so the entry is not refused at once: its ratio is judged from 1 MiB."""
    bomb = _zeros_zip(tmp_path / "bomb.zip", 5 * GiB)
    yielded = 0
    with open_archive(bomb) as reader:
        entry = next(iter(reader))
        assert entry.info.size == 5 * GiB
        with pytest.raises(FerrymanError) as caught:
            for block in entry.read_blocks():
                yielded += len(block)
    assert caught.value.code == "archive.limit_exceeded"
    assert "(archive.max_ratio)" in caught.value.message
    assert yielded < 8 * MiB


def test_a_zip64_size_off_by_4_gib_is_delivered_as_its_data(tmp_path: Path) -> None:
    from tests.support.archive_corpus import _zip_size_off_by_4gib

    for descriptor in (False, True):
        liar = tmp_path / f"liar-{descriptor}.zip"
        liar.write_bytes(_zip_size_off_by_4gib(b"hello", b"second", descriptor=descriptor))
        with open_archive(liar) as reader:
            got = [b"".join(entry.read_blocks()) for entry in reader]
        assert got == [b"hello", b"second"]


def test_a_3_gib_zip_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = _zeros_zip(tmp_path / "bomb.zip", 3 * GiB)
    assert bomb.stat().st_size < 8 * MiB
    yielded = 0
    with open_archive(bomb) as reader:  # the default limits
        entry = next(iter(reader))
        assert entry.info.size == 3 * GiB
        with pytest.raises(FerrymanError) as caught:
            for block in entry.read_blocks():
                yielded += len(block)
    assert caught.value.code == "archive.limit_exceeded"
    assert "(archive.max_ratio)" in caught.value.message
    assert yielded == 0


def test_a_nested_bomb_is_stopped_within_a_few_mib(tmp_path: Path) -> None:
    inner = _zeros_zip(tmp_path / "inner.zip", 3 * GiB)
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("before.txt", b"read first\n")
        zf.write(inner, "level1.zip")
    inner.unlink()
    written = 0
    options = ReadOptions(scratch=tmp_path / "scratch")
    with pytest.raises(FerrymanError) as caught, iter_local(outer, options) as entries:
        for entry in entries:
            if entry.error is not None:
                raise entry.error
            for block in entry.read_blocks():
                written += len(block)
    assert caught.value.code == "archive.limit_exceeded"
    assert written < 4 * MiB


def test_a_small_archive_of_compressible_text_goes_through(tmp_path: Path) -> None:
    text = b"The quick brown fox jumps over the lazy dog.\n" * (5 * MiB // 45)
    small = tmp_path / "notes.zip"
    with zipfile.ZipFile(small, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("notes.txt", text)
    assert len(text) / small.stat().st_size > 200  # past the old 200:1 refusal
    with open_archive(small) as reader:
        entry = next(iter(reader))
        assert b"".join(entry.read_blocks()) == text


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed")
@pytest.mark.parametrize("flags", [["--format=gnu"], ["--format=posix", "--sparse-version=1.0"]])
def test_a_sparse_entry_is_read_whole_and_its_holes_spare_the_ratio(
    tmp_path: Path, flags: list[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with (src / "disk.img").open("wb") as f:
        f.seek(20 * MiB)
        f.write(b"data at 20 MiB")
        f.truncate(64 * MiB)
    archive = tmp_path / "sparse.tar"
    subprocess.run(["tar", "-cf", archive, "--sparse", *flags, "-C", src, "."], check=True)
    assert archive.stat().st_size < MiB
    # A ratio floor of 1 MiB: the 64 MiB of holes would break it, the data does not.
    options = OpenOptions(limits=ArchiveLimits(ratio_grace_bytes=MiB))
    data = b""
    with open_archive(archive, options) as reader:
        for entry in reader:
            if entry.info.type is not EntryType.FILE:
                continue
            assert entry.info.size == 64 * MiB and entry.info.stored is not None
            assert entry.info.stored < MiB
            data = b"".join(entry.read_blocks())
    assert data == (src / "disk.img").read_bytes()
    # max_total_bytes still counts what is written, holes included.
    options = OpenOptions(limits=ArchiveLimits(max_total_bytes=32 * MiB))
    with open_archive(archive, options) as reader, pytest.raises(FerrymanError) as caught:
        for entry in reader:
            if entry.info.type is EntryType.FILE:
                b"".join(entry.read_blocks())
    assert caught.value.code == "archive.limit_exceeded"


# --------------------------------------------------------------------------- hostile


def _hostile_tree(root: Path) -> Path:
    """A folder whose names try to escape when archived with absolute/.. paths by
    the tools below (those that keep them), plus a symlink out and a normal file."""
    root.mkdir(parents=True)
    (root / "ok.txt").write_bytes(b"fine\n")
    (root / "link").symlink_to("/etc/passwd")
    return root


def _make_hostile(tool: str, tmp_path: Path) -> Path | None:
    """An archive of ``tool``'s format with ``../escape.txt``, an absolute path, a
    symlink to /etc/passwd and a normal file; None when the tool is missing."""
    src = _hostile_tree(tmp_path / "tree")
    (tmp_path / "escape.txt").write_bytes(b"escaped\n")
    if tool == "cpio" and shutil.which("cpio"):
        dest = tmp_path / "hostile.cpio"
        listing = b"ok.txt\nlink\n../escape.txt\n"
        with dest.open("wb") as out:
            subprocess.run(
                ["cpio", "--quiet", "-o", "-H", "newc"],
                cwd=src,
                input=listing,
                stdout=out,
                check=True,
            )
        return dest
    if tool == "tar.Z" and shutil.which("bsdtar") and shutil.which("compress"):
        dest = tmp_path / "hostile.tar.Z"
        subprocess.run(
            [
                "bsdtar",
                "-cZf",
                dest,
                "-P",
                "-C",
                src,
                "ok.txt",
                "link",
                "../escape.txt",
                "/etc/hostname",
            ],
            check=True,
        )
        return dest
    if tool == "iso" and shutil.which("xorriso"):
        dest = tmp_path / "hostile.iso"
        done = subprocess.run(
            ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", dest, src],
            capture_output=True,
            check=False,
        )
        return dest if done.returncode == 0 else None
    if tool == "sfx":
        inner = tmp_path / "inner.zip"
        with zipfile.ZipFile(inner, "w") as zf:
            zf.writestr("ok.txt", b"fine\n")
            zf.writestr("../../escape.txt", b"escaped\n")
            zf.writestr("/abs/path.txt", b"absolute\n")
            info = zipfile.ZipInfo("link")
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
        dest = tmp_path / "Setup.exe"
        dest.write_bytes(b"MZ" + bytes(4000) + inner.read_bytes())
        return dest
    if tool == "cab" and shutil.which("gcab"):
        dest = tmp_path / "hostile.cab"
        subprocess.run(["gcab", "-c", dest, "ok.txt"], cwd=src, check=True)
        return dest
    if tool == "xar" and shutil.which("bsdtar"):
        dest = tmp_path / "hostile.xar"
        subprocess.run(
            [
                "bsdtar",
                "-cf",
                dest,
                "--format",
                "xar",
                "-P",
                "-C",
                src,
                "ok.txt",
                "link",
                "../escape.txt",
            ],
            check=True,
        )
        return dest
    if tool == "rpm" and shutil.which("rpmbuild"):
        from tests.support.archive_corpus import _make_rpm

        (src / "link").unlink()
        return _make_rpm(src, tmp_path)  # its payload's paths are absolute: /opt/corpus/…
    if tool == "lha" and shutil.which("lha"):
        dest = tmp_path / "hostile.lzh"
        subprocess.run(["lha", "aq", dest, "ok.txt", "../escape.txt"], cwd=src, check=True)
        return dest
    return None


@pytest.mark.parametrize("tool", ["cpio", "tar.Z", "iso", "sfx", "cab", "lha", "xar", "rpm"])
def test_hostile_names_and_links_in_every_new_format(tmp_path: Path, tool: str) -> None:
    archive = _make_hostile(tool, tmp_path)
    if archive is None:
        pytest.skip(f"no tool here writes {tool}")
    out = tmp_path / "scratch"
    delivered: dict[str, bytes] = {}
    kinds: dict[str, EntryType] = {}
    with iter_local(archive, ReadOptions(scratch=out)) as entries:
        for entry in entries:
            assert entry.error is None, entry.error
            kinds[entry.info.path] = entry.info.type
            assert not entry.info.path.startswith("/")
            assert ".." not in entry.info.path.split("/")
            if entry.info.type is EntryType.FILE:
                delivered[entry.info.path] = b"".join(entry.read_blocks())
    assert b"fine\n" in delivered.values()
    # Links are reported, never followed: nothing of /etc/passwd is delivered.
    passwd = Path("/etc/passwd").read_bytes()
    assert passwd not in delivered.values()
    assert all(kinds[p] is not EntryType.FILE for p in kinds if p.endswith("link"))
    assert all(not p.startswith(("opt/", "etc/")) or p.count("/") > 0 for p in kinds)
    # Nothing was written outside the scratch folder.
    assert (tmp_path / "escape.txt").read_bytes() == b"escaped\n"
    assert not (tmp_path.parent / "escape.txt").exists()


NEW_ROWS = ("iso", "cab", "cpio", "rpm", "lha", "xar", "sfx", "wim", "single", "tar")


def test_the_limits_hold_in_every_newly_read_format(corpus: tuple[Path, list[Sample]]) -> None:
    """Bytes, entries and ratio limits stop every format read since issue 33, whatever
    backend reads it, before the block that crosses them reaches the caller."""
    from tests.support.archive_corpus import Outcome, ferryman_read

    checked: set[str] = set()
    for sample in corpus[1]:
        if sample.row not in NEW_ROWS or sample.row in checked:
            continue
        for limits, words in (
            (ArchiveLimits(max_total_bytes=1000), "max_total_bytes"),
            (ArchiveLimits(max_entries=1), "max_entries"),
            (ArchiveLimits(max_ratio=1.0, ratio_grace_bytes=512), "max_ratio"),
        ):
            if sample.row == "single" and words == "max_entries":
                continue  # one entry
            if words == "max_ratio" and sample.path.stat().st_size > MiB:
                continue  # stored, not compressed (ISO, cpio): no ratio to judge
            outcome = Outcome(sample, None)
            ferryman_read(sample, outcome, limits)
            assert outcome.crashed is None, outcome.describe()
            assert "archive.limit_exceeded" in outcome.codes, (words, outcome.describe())
            assert any(words in m for m in outcome.messages), (words, outcome.describe())
        checked.add(sample.row)
    assert len(checked) >= 6, checked


def test_an_entry_yielding_more_than_declared_is_stopped_in_cpio(tmp_path: Path) -> None:
    """A cpio (newc) header declaring 4 bytes for 40: the guard stops at the declared
    size (libarchive reads the rest as the next header, and fails on it)."""
    if not shutil.which("cpio"):
        pytest.skip("GNU cpio is not installed")
    src = payload(tmp_path / "src", compressible_mb=0.01)
    archive = tmp_path / "liar.cpio"
    with archive.open("wb") as out:
        subprocess.run(
            ["cpio", "--quiet", "-o", "-H", "newc"],
            cwd=src,
            input=b"notes/readme.txt\n",
            stdout=out,
            check=True,
        )
    data = bytearray(archive.read_bytes())
    # newc: the file size is 8 hex digits at offset 54 of the header.
    declared = int(data[54:62], 16)
    data[54:62] = b"%08X" % (declared // 2)
    archive.write_bytes(bytes(data))
    with open_archive(archive) as reader:
        entries = iter(reader)
        entry = next(entries)
        assert entry.info.size == declared // 2
        got = b""
        with pytest.raises(FerrymanError):
            for block in entry.read_blocks():
                got += block
            list(entries)
    assert len(got) <= declared // 2


def test_the_docs_matrix_is_the_doctor_matrix() -> None:
    from ferryman.archive.capabilities import MATRIX

    docs = (Path(__file__).parents[2] / "docs" / "archive-backends.md").read_text()
    for cap in MATRIX:
        row = f"| {cap.format} | {cap.features}"
        assert row in docs, row


def test_an_entry_whose_mode_has_no_type_bits_is_a_file(tmp_path: Path) -> None:
    """libarchive gives such an entry (RAR3 Unix attributes, some cpio writers) no file
    type; it was skipped as ``unsupported_other``, where bsdtar and 7zz extract a file."""
    from tests.support.archive_corpus import _cpio_without_type_bits

    archive = tmp_path / "modes.cpio"
    archive.write_bytes(_cpio_without_type_bits({"a.txt": b"first\n", "b.txt": b"second\n"}))
    with open_archive(archive) as reader:
        got = {e.info.path: (e.info.type, b"".join(e.read_blocks())) for e in reader}
    assert got == {
        "a.txt": (EntryType.FILE, b"first\n"),
        "b.txt": (EntryType.FILE, b"second\n"),
    }


def test_a_rar5_whose_only_encrypted_part_is_its_comment_is_delivered(tmp_path: Path) -> None:
    from tests.support.archive_corpus import rar5_by_hand

    archive = tmp_path / "comment.rar"
    archive.write_bytes(rar5_by_hand({"a.txt": b"plain\n"}, encrypted_comment=True))
    with iter_local(archive, ReadOptions(scratch=tmp_path / "s")) as entries:
        got = {e.info.path: b"".join(e.read_blocks()) for e in entries}
    assert got == {"a.txt": b"plain\n"}


def test_a_rar5_entry_with_an_encryption_record_asks_for_a_password(tmp_path: Path) -> None:
    """Named as a password question, not as damaged headers; the plain entry arrives."""
    from tests.support.archive_corpus import rar5_by_hand

    archive = tmp_path / "mixed.rar"
    archive.write_bytes(
        rar5_by_hand({"a.txt": b"plain\n", "b.txt": bytes(32)}, encrypted=("b.txt",))
    )
    delivered: dict[str, bytes] = {}
    with iter_local(archive, ReadOptions(scratch=tmp_path / "s")) as entries:
        for entry in entries:
            try:
                delivered[entry.info.path] = b"".join(entry.read_blocks())
            except FerrymanError as exc:
                assert exc.code == "archive.password_required", exc
                assert "b.txt" in exc.message and "damaged" not in exc.message
    assert delivered == {"a.txt": b"plain\n"}


@pytest.mark.parametrize("name", ["disc.iso", "setup.exe", "data.cab", "tool"])
def test_a_file_that_only_looks_like_an_archive_by_name_is_a_file(
    tmp_path: Path, name: str
) -> None:
    """An .iso that is no ISO 9660 (UDF only), an executable with no archive inside:
    delivered as the file they are, neither refused nor unpacked."""
    from ferryman.sources.local_path import inspect_local

    path = tmp_path / name
    stub = Path("/bin/true").read_bytes() if name in ("setup.exe", "tool") else b""
    path.write_bytes(stub + bytes(40_000) + b"BEA01 NSR02 not ISO 9660" + bytes(100))
    assert inspect_local(path).kind == "file"
    with iter_local(path) as entries:
        (entry,) = list(entries)
        assert b"".join(entry.read_blocks()) == path.read_bytes()


# --------------------------------------------------------------------------- end to end


def _new_format_archives(src: Path, photos: list[Path], out: Path) -> list[Path]:
    """The photos as a .tar.Z, an ISO, a cpio.gz, a CAB and a Setup.exe, where the
    tools are here (the SFX needs none)."""
    names = [p.name for p in photos]
    made: list[Path] = []
    commands: list[tuple[str, Path, list[str | Path]]] = [
        ("bsdtar", out / "photos.tar.Z", ["bsdtar", "-cZf", out / "photos.tar.Z", *names]),
        ("xorriso", out / "photos.iso",
         ["xorriso", "-as", "mkisofs", "-quiet", "-J", "-R", "-o", out / "photos.iso", "."]),
        ("gcab", out / "photos.cab", ["gcab", "-cz", out / "photos.cab", *names]),
    ]  # fmt: skip
    for tool, dest, command in commands:
        if shutil.which(tool) and subprocess.run(command, cwd=src, check=False).returncode == 0:
            made.append(dest)
    inner = out / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        for photo in photos:
            zf.write(photo, photo.name)
    setup = out / "Setup.exe"
    setup.write_bytes(b"MZ" + bytes(20_000) + inner.read_bytes())
    inner.unlink()
    made.append(setup)
    return made


async def test_photos_in_each_new_format_arrive_in_the_library(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    photos = make_photo_set(src, 3)
    out = tmp_path / "in"
    out.mkdir()
    archives = _new_format_archives(src, photos, out)
    wanted = {sha256(p) for p in photos}
    for archive in archives:
        job = await intake.add_source(store, archive)
        await run_until_idle(store, settings)
        ended = await store.get_job(job.id)
        assert ended.state is JobState.DONE, (archive.name, ended.error_message)
        delivered = {f["disk_sha256"] for f in library_files(settings.library)}
        assert wanted <= delivered, archive.name
        shutil.rmtree(settings.library)  # the next archive delivers the same photos


@pytest.mark.skipif(not (shutil.which("lz4") and shutil.which("zstd")), reason="no lz4/zstd")
def test_a_zstd_skippable_frame_and_lz4_legacy_frames_are_read(tmp_path: Path) -> None:
    """Found by libarchive's own test archives: a .tar.zst that starts with a skippable
    frame, and lz4's legacy format (``lz4 -l``), were "no archive format"."""
    src = payload(tmp_path / "src", compressible_mb=0.01)
    plain = tmp_path / "p.tar"
    subprocess.run(["tar", "-cf", plain, "-C", src, "."], check=True)
    zst = tmp_path / "p.tar.zst"
    packed = subprocess.run(["zstd", "-c", plain], capture_output=True, check=True).stdout
    zst.write_bytes(b"\x50\x2a\x4d\x18" + struct.pack("<I", 4) + b"skip" + packed)
    legacy = tmp_path / "p.tar.lz4"
    subprocess.run(["lz4", "-q", "-l", "-f", plain, legacy], check=True)
    want = (src / "notes" / "readme.txt").read_bytes()
    for archive in (zst, legacy):
        with iter_local(archive) as entries:
            got = {e.info.path: b"".join(e.read_blocks()) for e in entries}
        assert got["notes/readme.txt"] == want, archive.name
