"""How a library writes a file (``sinks/library_copy.py``): a person's file becomes an
independent copy dated when it was taken (their file's dates untouched); ferryman's
own work file is linked; a hard link only when asked; a copy that does not hold what
was read is refused before any record says it is there. Real files on this disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ferryman.errors import FerrymanError
from ferryman.samples import make_photo
from ferryman.sinks.library_copy import (
    HARDLINK,
    file_sha256,
    independent_copy,
    place_copy,
    verify,
)

TAKEN = 1_552_557_600.0  # 2019-03-14
OWN = 1_700_000_000.0


def _persons_file(tmp_path: Path) -> tuple[Path, Path]:
    """A person's photo, and its link in the work area (as staging makes it)."""
    photo = make_photo(tmp_path / "Camera" / "IMG_1.jpg", 1)
    os.utime(photo, (OWN, OWN))
    work = tmp_path / "work" / "000001-IMG_1.jpg"
    work.parent.mkdir()
    os.link(photo, work)
    (tmp_path / "lib").mkdir()
    return photo, work


def test_a_person_s_file_is_copied_dated_when_taken_and_left_as_it_was(tmp_path: Path) -> None:
    photo, work = _persons_file(tmp_path)
    digest = file_sha256(photo)
    target = str(tmp_path / "lib" / "IMG_1.jpg")
    place_copy(work, target, taken=TAKEN)
    kept = os.stat(target)
    assert kept.st_ino != photo.stat().st_ino and kept.st_nlink == 1
    assert file_sha256(target) == digest
    assert kept.st_mtime == TAKEN
    assert photo.stat().st_mtime == OWN  # the person's dates untouched
    photo.write_bytes(b"")  # emptied afterwards: the library's copy is its own
    assert file_sha256(target) == digest


def test_without_a_time_taken_a_copy_keeps_the_source_s(tmp_path: Path) -> None:
    _photo, work = _persons_file(tmp_path)
    target = str(tmp_path / "lib" / "IMG_1.jpg")
    how = independent_copy(work, target)
    assert how in ("clone", "kernel", "read")
    assert os.stat(target).st_mtime == OWN


def test_ferryman_s_own_work_file_is_linked_and_dated(tmp_path: Path) -> None:
    work = make_photo(tmp_path / "work" / "000001-a.jpg", 2)  # unpacked: one name only
    (tmp_path / "lib").mkdir()
    target = str(tmp_path / "lib" / "a.jpg")
    place_copy(work, target, taken=TAKEN)
    assert os.stat(target).st_ino == work.stat().st_ino  # no second copy of ferryman's own
    assert os.stat(target).st_mtime == TAKEN


def test_a_hard_link_only_when_asked_and_then_no_date_changes(tmp_path: Path) -> None:
    photo, work = _persons_file(tmp_path)
    target = str(tmp_path / "lib" / "IMG_1.jpg")
    place_copy(work, target, HARDLINK, taken=TAKEN)
    assert os.stat(target).st_ino == photo.stat().st_ino
    assert photo.stat().st_mtime == OWN


def test_a_copy_that_does_not_hold_what_was_read_is_refused(tmp_path: Path) -> None:
    photo, work = _persons_file(tmp_path)
    size, digest = file_sha256(photo)
    target = tmp_path / "lib" / "IMG_1.jpg"
    place_copy(work, str(target))
    verify(target, size, digest)
    target.write_bytes(bytes(size))  # the same size, other bytes
    with pytest.raises(FerrymanError) as caught:
        verify(target, size, digest)
    assert caught.value.code == "sink.io"
