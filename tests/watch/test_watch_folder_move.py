"""``--then move:DIR`` onto another filesystem (a phone's SD card, a USB disk): the file
is copied, read back and put in place never over a file. A file that took the name
while the copy was made (a second watch moving into the same DIR, the person) keeps its
bytes, and a copy that fails (a full disk) leaves nothing half-written in DIR. Real
files through the folder lister; "another filesystem" is the link the kernel refuses
(EXDEV), as it does across filesystems."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.samples import make_photo
from ferryman.sources.listers.folder import FolderLister
from tests.support.engine_helpers import sha256

OLD = time.time() - 3600


def _across(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """A link out of ``root`` is refused as across filesystems."""
    link = os.link

    def refused(src: str | Path, dst: str | Path, *args: object, **kwargs: object) -> None:
        if Path(src).is_relative_to(root):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        link(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "link", refused)


def _shot(root: Path, settings: Settings) -> tuple[FolderLister, object, str]:
    path = make_photo(root / "IMG_1.jpg", 1)
    os.utime(path, (OLD, OLD))
    lister = FolderLister()
    [entry] = lister.list_now(str(root), settings)
    return lister, entry, sha256(path)


def test_a_file_that_took_the_name_during_the_copy_is_never_written_over(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, sent = tmp_path / "Camera", tmp_path / "Sent"
    lister, entry, shot = _shot(root, settings)
    theirs = b"another photo, moved here by someone else meanwhile"
    copy2 = shutil.copy2

    def copy_while_another_arrives(src: Path, dst: Path, **kwargs: bool) -> object:
        done = copy2(src, dst, **kwargs)
        (sent / "IMG_1.jpg").write_bytes(theirs)  # its name, taken as the copy ended
        return done

    _across(monkeypatch, root)
    monkeypatch.setattr(shutil, "copy2", copy_while_another_arrives)
    said = lister.after_delivery(str(root), entry, f"move:{sent}")  # type: ignore[arg-type]

    assert (sent / "IMG_1.jpg").read_bytes() == theirs  # not written over
    assert sha256(sent / "IMG_1 (2).jpg") == shot and said is not None and "(2)" in said
    assert not (root / "IMG_1.jpg").exists()
    assert sorted(p.name for p in sent.iterdir()) == ["IMG_1 (2).jpg", "IMG_1.jpg"]


def test_a_copy_that_fails_leaves_the_file_and_nothing_half_written(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, sent = tmp_path / "Camera", tmp_path / "Sent"
    lister, entry, shot = _shot(root, settings)

    def full(src: Path, dst: Path, **kwargs: bool) -> object:
        Path(dst).write_bytes(Path(src).read_bytes()[:100])  # the disk filled here
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    _across(monkeypatch, root)
    monkeypatch.setattr(shutil, "copy2", full)
    with pytest.raises(OSError):
        lister.after_delivery(str(root), entry, f"move:{sent}")  # type: ignore[arg-type]
    assert sha256(root / "IMG_1.jpg") == shot
    assert list(sent.iterdir()) == []  # no hidden .part left in the person's folder


def test_a_copy_that_does_not_read_back_leaves_the_file(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, sent = tmp_path / "Camera", tmp_path / "Sent"
    lister, entry, shot = _shot(root, settings)
    copy2 = shutil.copy2

    def damaged(src: Path, dst: Path, **kwargs: bool) -> object:
        done = copy2(src, dst, **kwargs)
        with open(dst, "r+b") as handle:  # a bad USB stick: other bytes read back
            handle.seek(50)
            handle.write(b"\x00" * 8)
        return done

    _across(monkeypatch, root)
    monkeypatch.setattr(shutil, "copy2", damaged)
    with pytest.raises(Exception, match="does not hold"):
        lister.after_delivery(str(root), entry, f"move:{sent}")  # type: ignore[arg-type]
    assert sha256(root / "IMG_1.jpg") == shot
    assert list(sent.iterdir()) == []


def test_across_filesystems_the_file_is_moved_with_its_date(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, sent = tmp_path / "Camera", tmp_path / "Sent"
    lister, entry, shot = _shot(root, settings)
    _across(monkeypatch, root)
    said = lister.after_delivery(str(root), entry, f"move:{sent}")  # type: ignore[arg-type]
    assert said is not None and sha256(sent / "IMG_1.jpg") == shot
    assert int((sent / "IMG_1.jpg").stat().st_mtime) == int(OLD)
    assert not (root / "IMG_1.jpg").exists() and os.listdir(sent) == ["IMG_1.jpg"]


def test_a_move_a_kill_cut_short_is_ended_without_a_second_name(
    settings: Settings, tmp_path: Path
) -> None:
    """Killed after the file was linked into DIR and before its original's name went:
    the next look's move lets that name go, and DIR holds the photo once."""
    root, sent = tmp_path / "Camera", tmp_path / "Sent"
    lister, entry, shot = _shot(root, settings)
    sent.mkdir()
    os.link(root / "IMG_1.jpg", sent / "IMG_1.jpg")
    said = lister.after_delivery(str(root), entry, f"move:{sent}")  # type: ignore[arg-type]
    assert said is not None and not (root / "IMG_1.jpg").exists()
    assert os.listdir(sent) == ["IMG_1.jpg"] and sha256(sent / "IMG_1.jpg") == shot


def test_the_same_bytes_in_dir_as_another_file_are_not_the_person_s_copy(
    settings: Settings, tmp_path: Path
) -> None:
    """DIR holding a file of the same bytes (the library's copy, DIR inside the library)
    is not the moved file: the person's file is moved beside it, its own copy."""
    root, sent = tmp_path / "Camera", tmp_path / "Sent"
    lister, entry, shot = _shot(root, settings)
    sent.mkdir()
    shutil.copy2(root / "IMG_1.jpg", sent / "IMG_1.jpg")
    said = lister.after_delivery(str(root), entry, f"move:{sent}")  # type: ignore[arg-type]
    assert said is not None and not (root / "IMG_1.jpg").exists()
    assert sorted(os.listdir(sent)) == ["IMG_1 (2).jpg", "IMG_1.jpg"]
    assert sha256(sent / "IMG_1 (2).jpg") == shot


def test_a_name_taken_by_other_bytes_is_kept_and_the_file_takes_the_next(
    settings: Settings, tmp_path: Path
) -> None:
    root, sent = tmp_path / "Camera", tmp_path / "Sent"
    lister, entry, shot = _shot(root, settings)
    sent.mkdir()
    (sent / "IMG_1.jpg").write_bytes(b"a person's other photo")
    said = lister.after_delivery(str(root), entry, f"move:{sent}")  # type: ignore[arg-type]
    assert said is not None and (sent / "IMG_1.jpg").read_bytes() == b"a person's other photo"
    assert sha256(sent / "IMG_1 (2).jpg") == shot and not (root / "IMG_1.jpg").exists()


def test_the_sweep_takes_only_ferryman_s_own_parts_that_no_move_holds(tmp_path: Path) -> None:
    """A killed move's hidden copy goes; one a live move holds (its ``flock``), a
    person's files however they are named, and an older ferryman's part of another
    name stay."""
    import fcntl

    from ferryman.sources.listers.folder_move import sweep

    sent = tmp_path / "Sent"
    sent.mkdir()
    theirs = [".notes.part", "IMG_1.jpg.part", ".IMG_2.jpg.77.part", "x.ferryman-1.part"]
    for name in [
        *theirs,
        ".IMG_1.jpg.ferryman-4.part",
        ".IMG_1.jpg.55.part",
        ".V.mp4.ferryman-9.part",
    ]:
        (sent / name).write_bytes(b"half a copy")
    live = os.open(sent / ".V.mp4.ferryman-9.part", os.O_RDONLY)
    try:
        fcntl.flock(live, fcntl.LOCK_EX)  # a move writing it now
        swept = sweep(sent, "IMG_1.jpg")
    finally:
        os.close(live)
    assert sorted(swept) == [".IMG_1.jpg.55.part", ".IMG_1.jpg.ferryman-4.part"]
    assert sorted(os.listdir(sent)) == sorted([*theirs, ".V.mp4.ferryman-9.part"])
    assert sweep(sent) == [".V.mp4.ferryman-9.part"]  # its move ended (killed): it goes


def test_a_note_is_swept_only_once_its_copy_or_its_original_is_gone(tmp_path: Path) -> None:
    from ferryman.sources.listers.folder_move import sweep

    sent, original = tmp_path / "Sent", tmp_path / "Camera" / "IMG_1.jpg"
    original.parent.mkdir()
    sent.mkdir()
    original.write_bytes(b"a photo")
    for name in ("IMG_1.jpg", "IMG_2.jpg"):
        note = {"source": str(original), "size": 7, "sha256": "0" * 64}
        (sent / f".{name}.ferryman-moved").write_text(json.dumps(note))
    (sent / "IMG_1.jpg").write_bytes(b"a photo")
    assert sweep(sent) == [".IMG_2.jpg.ferryman-moved"]  # its copy never took the name
    original.unlink()
    assert sweep(sent) == [".IMG_1.jpg.ferryman-moved"] and os.listdir(sent) == ["IMG_1.jpg"]
