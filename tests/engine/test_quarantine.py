"""Quarantine keeps every refused file, each once, inside its job's folder."""

from __future__ import annotations

from pathlib import Path

from ferryman.engine.plumbing import quarantine
from ferryman.errors import FerrymanError

ERR = FerrymanError("media.unreadable", "no stream could be decoded")


def _work_file(root: Path, name: str, data: bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_two_files_of_one_name_from_different_folders_are_both_kept(tmp_path: Path) -> None:
    q = tmp_path / "q"
    a = _work_file(tmp_path / "work", "000001-clip.mp4", b"first")
    b = _work_file(tmp_path / "work", "000002-clip.mp4", b"second")
    kept_a = quarantine.keep(q, 1, "job", a, "trip/day1/clip.mp4", ERR, move=True)
    kept_b = quarantine.keep(q, 1, "job", b, "trip/day2/clip.mp4", ERR, move=True)
    assert kept_a != kept_b
    assert kept_a.read_bytes() == b"first" and kept_b.read_bytes() == b"second"
    assert kept_a.relative_to(q).parts[1:] == ("trip", "day1", "clip.mp4")
    assert not a.exists() and not b.exists()
    assert [code for _, code in quarantine.list_quarantine(q)] == [ERR.code, ERR.code]


def test_a_hostile_label_stays_inside_the_job_folder(tmp_path: Path) -> None:
    q = tmp_path / "q"
    folder = quarantine.job_folder(q, 7, "job")
    labels = ["../../etc/passwd", "/abs/x.jpg", "a\\..\\..\\b.jpg", "..", ""]
    kept = []
    for i, label in enumerate(labels):
        src = _work_file(tmp_path / "work", f"{i}.bin", bytes([i]))
        kept.append(quarantine.keep(q, 7, "job", src, label, ERR, move=True, unique=f"{i:06d}"))
    for i, path in enumerate(kept):  # checked at the end: nothing overwrote anything
        assert folder in path.parents, (labels[i], path)
        assert path.read_bytes() == bytes([i])
    assert len(set(kept)) == len(labels)


def test_names_that_meet_once_made_safe_and_a_file_where_a_folder_goes(tmp_path: Path) -> None:
    q = tmp_path / "q"
    work = tmp_path / "work"
    first = quarantine.keep(
        q, 1, "j", _work_file(work, "1", b"1"), "a?b.jpg", ERR, move=True, unique="000001"
    )
    second = quarantine.keep(
        q, 1, "j", _work_file(work, "2", b"2"), "a_b.jpg", ERR, move=True, unique="000002"
    )
    archive = quarantine.keep(
        q, 1, "j", _work_file(tmp_path, "photos.zip", b"zip"), "photos.zip", ERR, move=False
    )
    inside = quarantine.keep(
        q, 1, "j", _work_file(work, "3", b"3"), "photos.zip/x.jpg", ERR, move=True, unique="3"
    )
    assert (first.read_bytes(), second.read_bytes()) == (b"1", b"2")
    assert second.name == "a_b~000002.jpg"
    assert (archive.read_bytes(), inside.read_bytes()) == (b"zip", b"3")
    assert inside.name == "x~3.jpg" and inside.parent == quarantine.job_folder(q, 1, "j")
    again = quarantine.keep(q, 1, "j", tmp_path / "photos.zip", "photos.zip", ERR, move=False)
    assert again == archive  # the same input is kept once


def test_keep_again_finds_a_file_an_earlier_run_moved(tmp_path: Path) -> None:
    """A crash between the move and the store's record: the second run finds it kept."""
    q = tmp_path / "q"
    taken = _work_file(tmp_path / "work", "000001-p01.jpg", b"other")
    quarantine.keep(q, 2, "job", taken, "in/p01.jpg", ERR, move=True, unique="000001")
    for unique, data in [("000003", b"photo")]:  # same name, so it went beside the other
        src = _work_file(tmp_path / "work", f"{unique}-p01.jpg", data)
        first = quarantine.keep_again(q, 2, "job", src, "in/p01.jpg", ERR, unique)
        assert not src.exists() and first.name == f"p01~{unique}.jpg"
        again = quarantine.keep_again(q, 2, "job", src, "in/p01.jpg", ERR, unique)
        assert again == first and again.read_bytes() == data
        assert Path(str(again) + ".reason.txt").is_file()
    alone = _work_file(tmp_path / "work", "000004-solo.jpg", b"solo")
    first = quarantine.keep_again(q, 2, "job", alone, "in/solo.jpg", ERR, "000004")
    assert quarantine.keep_again(q, 2, "job", alone, "in/solo.jpg", ERR, "000004") == first
