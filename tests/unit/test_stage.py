"""Staging an entry: the file, its hash, and the bytes kept for the probe."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.engine.read.stage import (
    HASH_LATER_BYTES,
    KEEP_BYTES,
    PersonsFile,
    Target,
    stage_entry,
)
from ferryman.engine.read.stage import HEAD_BYTES as HEAD
from ferryman.errors import FerrymanError
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
    staged = stage_entry(iter(_blocks(data)), "photo.jpg", Target(dest, lambda kind: True))
    assert staged.kind is MediaKind.PHOTO and staged.path == dest
    assert dest.read_bytes() == data and staged.size == length
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert not (tmp_path / "000001-photo.jpg.part").exists()
    assert staged.data == (data if length <= KEEP_BYTES else None)


@pytest.mark.parametrize("declared", [HASH_LATER_BYTES, None])
def test_a_big_entry_for_a_destination_that_hashes_as_it_reads_is_written_unhashed(
    tmp_path: Path, declared: int | None
) -> None:
    data = b"%PDF-1.4\n" + os.urandom(HASH_LATER_BYTES)
    dest = tmp_path / "000001-big.pdf"
    staged = stage_entry(
        iter(_blocks(data)),
        "big.pdf",
        Target(dest, lambda kind: True, hash_later=True),
        size=declared,
    )
    assert dest.read_bytes() == data and staged.size == len(data)
    # Declared big: its hash is left to the upload; of unknown size, hashed as written.
    expected = "" if declared is not None else hashlib.sha256(data).hexdigest()
    assert staged.sha256 == expected


def test_a_small_entry_is_hashed_as_written_even_when_it_could_wait(tmp_path: Path) -> None:
    data = (JPEG_HEAD + os.urandom(HASH_LATER_BYTES))[: HASH_LATER_BYTES - 1]
    dest = tmp_path / "000001-photo.jpg"
    staged = stage_entry(
        iter(_blocks(data)),
        "photo.jpg",
        Target(dest, lambda kind: True, hash_later=True),
        size=len(data),
    )
    assert staged.sha256 == hashlib.sha256(data).hexdigest()


def test_a_handed_over_fsync_gets_the_files_own_descriptor(tmp_path: Path) -> None:
    taken: list[tuple[int, Path]] = []

    def take(fd: int, path: Path) -> None:
        os.fsync(fd)  # it is open, and the taker's to close
        os.close(fd)
        taken.append((fd, path))

    dest = tmp_path / "a.jpg"
    staged = stage_entry(
        iter([JPEG_HEAD * 10]), "a.jpg", Target(dest, lambda kind: True, sync=take)
    )
    assert [path for _, path in taken] == [dest] and staged.path == dest
    assert dest.read_bytes() == JPEG_HEAD * 10


def test_a_failed_write_leaves_no_part_file_and_no_open_descriptor(tmp_path: Path) -> None:
    def blocks() -> object:
        yield JPEG_HEAD * 100  # the head is read: the file is being written
        raise OSError(5, "Input/output error")

    before = set(os.listdir("/proc/self/fd"))
    dest = tmp_path / "b.jpg"
    with pytest.raises(Exception) as caught:
        stage_entry(iter(blocks()), "b.jpg", Target(dest, lambda kind: True))  # type: ignore[call-overload]
    assert getattr(caught.value, "code", None) == "source.io"
    assert list(tmp_path.iterdir()) == []
    assert set(os.listdir("/proc/self/fd")) == before


def _listed(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _read(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return _blocks(data)


def test_a_local_file_is_linked_not_copied_and_hashed_as_read(tmp_path: Path) -> None:
    data = JPEG_HEAD + os.urandom(3 * KEEP_BYTES)
    source = tmp_path / "in" / "photo.jpg"
    source.parent.mkdir()
    source.write_bytes(data)
    seen = _listed(source)
    taken: list[Path] = []

    def take(fd: int, path: Path) -> None:
        os.fsync(fd)
        os.close(fd)
        taken.append(path)

    dest = tmp_path / "000001-photo.jpg"
    staged = stage_entry(
        iter(_read(source)),
        "photo.jpg",
        Target(dest, lambda kind: True, sync=take),
        PersonsFile(source, seen),
    )
    assert staged.path == dest and staged.size == len(data)
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert os.path.samefile(dest, source)  # one inode: no second copy on disk
    assert taken == [dest]  # made durable before it counts as staged
    assert not (tmp_path / "000001-photo.jpg.part").exists()


def test_a_big_local_file_is_linked_unread_its_hash_left_to_delivery(tmp_path: Path) -> None:
    data = b"%PDF-1.4\n" + os.urandom(HASH_LATER_BYTES)
    source = tmp_path / "in" / "big.pdf"
    source.parent.mkdir()
    source.write_bytes(data)
    handed: list[bytes] = []

    def blocks() -> Iterator[bytes]:
        for block in _read(source):
            handed.append(block)
            yield block

    taken: list[Path] = []

    def take(fd: int, path: Path) -> None:
        os.fsync(fd)
        os.close(fd)
        taken.append(path)

    dest = tmp_path / "000001-big.pdf"
    staged = stage_entry(
        blocks(),
        "big.pdf",
        Target(dest, lambda kind: True, sync=take),
        PersonsFile(source, _listed(source)),
    )
    assert staged.path == dest and staged.size == len(data) and staged.sha256 == ""
    assert staged.kind is MediaKind.DOCUMENT
    assert sum(map(len, handed)) < len(data)  # read no further than its head
    assert os.path.samefile(dest, source) and taken == [dest]


def test_a_big_local_file_changed_since_listed_is_refused_unread(tmp_path: Path) -> None:
    data = b"%PDF-1.4\n" + os.urandom(HASH_LATER_BYTES)
    source = tmp_path / "big.pdf"
    source.write_bytes(data)
    seen = _listed(source)
    with source.open("ab") as fh:  # the person's program appends after the listing
        fh.write(b"more")
    dest = tmp_path / "000001-big.pdf"
    with pytest.raises(FerrymanError) as caught:
        stage_entry(
            iter(_read(source)), "big.pdf", Target(dest, lambda k: True), PersonsFile(source, seen)
        )
    assert caught.value.code == "source.io" and "changed while it was read" in caught.value.message
    assert not dest.exists() and not (tmp_path / "000001-big.pdf.part").exists()


def test_a_local_file_changed_while_read_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    data = JPEG_HEAD + os.urandom(1000)
    source = tmp_path / "photo.jpg"
    source.write_bytes(data)
    seen = _listed(source)

    def blocks() -> Iterator[bytes]:
        yield data[:HEAD]
        with source.open("ab") as fh:  # the person's program appends as we read
            fh.write(b"more")
        yield data[HEAD:]

    dest = tmp_path / "000001-photo.jpg"
    with pytest.raises(FerrymanError) as caught:
        stage_entry(
            blocks(), "photo.jpg", Target(dest, lambda kind: True), PersonsFile(source, seen)
        )
    assert caught.value.code == "source.io" and "changed while it was read" in caught.value.message
    assert not dest.exists() and not (tmp_path / "000001-photo.jpg.part").exists()
    assert source.read_bytes() == data + b"more"  # the person's file is untouched by us


def test_a_local_file_is_linked_straight_to_its_place_over_a_killed_runs_leftover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No name beside it renamed into place (two directory changes a photo): a link is
    never a partial file. A file a killed run left there (never recorded) is replaced."""
    data = JPEG_HEAD + os.urandom(1000)
    source = tmp_path / "in" / "photo.jpg"
    source.parent.mkdir()
    source.write_bytes(data)
    dest = tmp_path / "000001-photo.jpg"
    dest.write_bytes(b"left by a killed run")
    linked: list[str] = []
    real_link = os.link

    def link(src: str | Path, dst: str | Path) -> None:
        linked.append(os.fspath(dst))
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    staged = stage_entry(
        iter(_read(source)),
        "photo.jpg",
        Target(dest, lambda k: True),
        PersonsFile(source, _listed(source)),
    )
    assert staged.path == dest and os.path.samefile(dest, source)
    assert set(linked) == {os.fspath(dest)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000001-photo.jpg", "in"]
