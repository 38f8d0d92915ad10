"""A stored entry of a local zip file is staged by ``os.copy_file_range`` (not through
Python), its CRC-32 checked, the archive guard counting it; anything that keeps the
kernel copy from working leaves the entry to the blocks."""

from __future__ import annotations

import errno
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ferryman.archive import stored_span
from ferryman.archive.reader import ArchiveLimits, OpenOptions
from ferryman.engine.stage import HASH_LATER_BYTES, stage_entry
from ferryman.errors import FerrymanError
from ferryman.sources.base import ReadOptions
from ferryman.sources.local import iter_local

BIG = HASH_LATER_BYTES + 1_234_567  # written unhashed (Telegram), so copied


class _Growth:
    """An ``Ahead`` that notes each size it is told of."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.ended_at: int | None = None

    def attach(self, fd: int) -> None:
        os.close(fd)

    def wrote(self, total: int) -> None:
        self.sizes.append(total)

    def ended(self, total: int) -> None:
        self.ended_at = total

    def failed(self) -> None:  # pragma: no cover - staging raises instead
        pass


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each ``os.copy_file_range`` call's length; chunks of 1 MiB, to see them."""
    calls: list[int] = []
    real = os.copy_file_range

    def recording(src: int, dst: int, count: int, *args: Any) -> int:
        calls.append(count)
        return real(src, dst, count, *args)

    monkeypatch.setattr(os, "copy_file_range", recording)
    monkeypatch.setattr(stored_span, "CHUNK", 1 << 20)
    return calls


def _stage_all(
    archive: Path, out: Path, options: ReadOptions | None = None
) -> dict[str, bytes | FerrymanError]:
    """Every entry of ``archive`` staged as for Telegram: name -> bytes, or the error."""
    out.mkdir(exist_ok=True)
    results: dict[str, bytes | FerrymanError] = {}
    with iter_local(archive, options) as entries:
        for entry in entries:
            dest = out / entry.info.path.replace("/", "_")
            try:
                staged = stage_entry(
                    entry.read_blocks(),
                    entry.info.path,
                    dest,
                    lambda kind: True,
                    unread_size=entry.info.size,
                    hash_later=True,
                    stored=entry.stored_copy,
                )
            except FerrymanError as exc:
                results[entry.info.path] = exc
                continue
            assert staged.path == dest
            results[entry.info.path] = dest.read_bytes()
    return results


def _files(folder: Path, sizes: dict[str, int]) -> dict[str, bytes]:
    folder.mkdir()
    data = {name: os.urandom(size) for name, size in sizes.items()}
    for name, blob in data.items():
        (folder / name).write_bytes(blob)
    return data


def test_info_zip_stored_entries_are_copied_by_the_kernel_byte_exact(
    tmp_path: Path, copies: list[int]
) -> None:
    data = _files(tmp_path / "in", {"a.bin": BIG, "b.bin": BIG + 1, "small.txt": 1000})
    archive = tmp_path / "in.zip"
    # Info-ZIP's local headers carry longer extra fields than its central directory.
    subprocess.run(
        ["zip", "-0", "-q", "-X-", str(archive), "a.bin", "b.bin", "small.txt"],
        cwd=tmp_path / "in",
        check=True,
    )
    with zipfile.ZipFile(archive) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())

    assert _stage_all(archive, tmp_path / "out") == data
    # Both big entries past their 1 MiB head, 1 MiB a call; the small one by its blocks.
    assert len(copies) == 2 * (-(-(BIG - (1 << 20)) // (1 << 20)))


def test_python_and_zip64_stored_entries_arrive_byte_exact(
    tmp_path: Path, copies: list[int]
) -> None:
    data = {"plain.bin": os.urandom(BIG), "z64.bin": os.urandom(BIG + 7)}
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("plain.bin", data["plain.bin"])
        with zf.open("z64.bin", "w", force_zip64=True) as member:
            member.write(data["z64.bin"])
    with zipfile.ZipFile(archive) as zf:
        at = zf.getinfo("z64.bin").header_offset
    with archive.open("rb") as f:
        f.seek(at + 28)
        assert f.read(2) != b"\0\0"  # its local header has an extra field (zip64)

    assert _stage_all(archive, tmp_path / "out") == data
    assert copies


def test_the_upload_ahead_sees_the_copy_grow(tmp_path: Path, copies: list[int]) -> None:
    archive = tmp_path / "in.zip"
    data = b"%PDF-1.4\n" + os.urandom(BIG)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("big.pdf", data)
    growth = _Growth()
    with iter_local(archive) as entries:
        entry = next(entries)
        staged = stage_entry(
            entry.read_blocks(),
            entry.info.path,
            tmp_path / "big.pdf",
            lambda kind: True,
            unread_size=entry.info.size,
            hash_later=True,
            ahead=growth,
            stored=entry.stored_copy,
        )
    assert staged.size == len(data) and staged.sha256 == ""
    assert (tmp_path / "big.pdf").read_bytes() == data
    assert growth.sizes == sorted(growth.sizes) and len(growth.sizes) == len(copies) + 1
    assert growth.sizes[0] == 1 << 20 and growth.sizes[-1] == len(data) == growth.ended_at


def test_a_flipped_byte_is_entry_corrupt_and_the_rest_is_delivered(
    tmp_path: Path, copies: list[int]
) -> None:
    data = {"bad.bin": os.urandom(BIG), "good.bin": os.urandom(BIG)}
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name, blob in data.items():
            zf.writestr(name, blob)
    raw = bytearray(archive.read_bytes())
    raw[30 + len("bad.bin") + BIG - 100] ^= 0xFF  # late in bad.bin: in the copied part
    archive.write_bytes(bytes(raw))

    results = _stage_all(archive, tmp_path / "out")
    bad = results["bad.bin"]
    assert isinstance(bad, FerrymanError) and bad.code == "archive.entry_corrupt"
    assert "CRC-32" in bad.message
    assert results["good.bin"] == data["good.bin"]
    assert not list((tmp_path / "out").glob("*.part"))
    assert len(copies) == 2 * (-(-(BIG - (1 << 20)) // (1 << 20)))


@pytest.mark.parametrize("code", [errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP])
def test_a_kernel_that_cannot_copy_leaves_the_entry_to_the_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    calls: list[int] = []

    def refusing(src: int, dst: int, count: int, *args: Any) -> int:
        calls.append(count)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "copy_file_range", refusing)
    data = {"a.bin": os.urandom(BIG), "b.bin": os.urandom(BIG)}
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name, blob in data.items():
            zf.writestr(name, blob)
    # The limit lets both through once each: a refused copy counted nothing twice.
    limits = ArchiveLimits(max_total_bytes=2 * BIG)
    options = ReadOptions(archive=OpenOptions(limits=limits))
    assert _stage_all(archive, tmp_path / "out", options) == data
    assert len(calls) == 2


def test_the_guard_counts_the_copied_bytes(tmp_path: Path, copies: list[int]) -> None:
    data = {"a.bin": os.urandom(BIG), "b.bin": os.urandom(BIG)}
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name, blob in data.items():
            zf.writestr(name, blob)
    # b.bin's head passes the limit; the last of its copied bytes do not.
    options = ReadOptions(archive=OpenOptions(limits=ArchiveLimits(max_total_bytes=2 * BIG - 1)))
    with pytest.raises(FerrymanError) as raised:
        _stage_all(archive, tmp_path / "out", options)
    assert raised.value.code == "archive.limit_exceeded"
    assert (tmp_path / "out" / "a.bin").read_bytes() == data["a.bin"]
    assert not (tmp_path / "out" / "b.bin").exists()
    assert not list((tmp_path / "out").glob("*.part"))
    assert len(copies) == 2 * (-(-(BIG - (1 << 20)) // (1 << 20)))


def test_a_deflated_entry_is_read_as_blocks(tmp_path: Path, copies: list[int]) -> None:
    archive = tmp_path / "in.zip"
    blob = os.urandom(BIG)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.bin", blob)
    assert _stage_all(archive, tmp_path / "out") == {"a.bin": blob}
    assert copies == []
