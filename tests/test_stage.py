"""Staging an entry: the file, its hash, and the bytes kept for the probe."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ferryman.engine.stage import KEEP_BYTES, stage_entry
from ferryman.model import MediaKind

JPEG_HEAD = b"\xff\xd8\xff\xe0" + b"\x00" * 60


def _blocks(data: bytes, size: int = 64 * 1024) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("length", [100, KEEP_BYTES, KEEP_BYTES + 1, 3 * KEEP_BYTES])
def test_a_staged_file_is_written_whole_and_small_ones_are_kept_in_memory(
    tmp_path: Path, length: int
) -> None:
    data = (JPEG_HEAD + os.urandom(length))[:length]
    dest = tmp_path / "000001-photo.jpg"
    staged = stage_entry(iter(_blocks(data)), "photo.jpg", dest, lambda kind: True)
    assert staged.kind is MediaKind.PHOTO and staged.path == dest
    assert dest.read_bytes() == data and staged.size == length
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert not (tmp_path / "000001-photo.jpg.part").exists()
    assert staged.data == (data if length <= KEEP_BYTES else None)


def test_a_handed_over_fsync_gets_the_files_own_descriptor(tmp_path: Path) -> None:
    taken: list[tuple[int, Path]] = []

    def take(fd: int, path: Path) -> None:
        os.fsync(fd)  # it is open, and the taker's to close
        os.close(fd)
        taken.append((fd, path))

    dest = tmp_path / "a.jpg"
    staged = stage_entry(iter([JPEG_HEAD * 10]), "a.jpg", dest, lambda kind: True, sync=take)
    assert [path for _, path in taken] == [dest] and staged.path == dest
    assert dest.read_bytes() == JPEG_HEAD * 10


def test_a_failed_write_leaves_no_part_file_and_no_open_descriptor(tmp_path: Path) -> None:
    def blocks() -> object:
        yield JPEG_HEAD * 100  # the head is read: the file is being written
        raise OSError(5, "Input/output error")

    before = set(os.listdir("/proc/self/fd"))
    dest = tmp_path / "b.jpg"
    with pytest.raises(Exception) as caught:
        stage_entry(iter(blocks()), "b.jpg", dest, lambda kind: True)  # type: ignore[call-overload]
    assert getattr(caught.value, "code", None) == "source.io"
    assert list(tmp_path.iterdir()) == []
    assert set(os.listdir("/proc/self/fd")) == before
