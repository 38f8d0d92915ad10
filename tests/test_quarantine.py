"""Quarantine keeps every refused file, each once, inside its job's folder."""

from __future__ import annotations

from pathlib import Path

from ferryman.engine import quarantine
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
    for i, label in enumerate(["../../etc/passwd", "/abs/x.jpg", "a\\..\\..\\b.jpg", "..", ""]):
        src = _work_file(tmp_path / "work", f"{i}.bin", b"x")
        kept = quarantine.keep(q, 7, "job", src, label, ERR, move=True)
        folder = quarantine.job_folder(q, 7, "job")
        assert folder in kept.parents, (label, kept)
        assert kept.is_file()


def test_keep_again_finds_a_file_an_earlier_run_moved(tmp_path: Path) -> None:
    """A crash between the move and the store's record: the second run finds it kept."""
    q = tmp_path / "q"
    src = _work_file(tmp_path / "work", "000003-p01.jpg", b"photo")
    first = quarantine.keep_again(q, 2, "job", src, "in/p01.jpg", ERR)
    assert not src.exists()
    again = quarantine.keep_again(q, 2, "job", src, "in/p01.jpg", ERR)
    assert again == first and again.read_bytes() == b"photo"
    assert Path(str(again) + ".reason.txt").is_file()
