"""SIGKILL a real process in the middle of ``--then move:DIR`` onto another filesystem,
then move again as the next look does: DIR ends with the person's file once, its bytes
whole, the original's name gone, and none of ferryman's hidden files left behind.

Killed while the copy is written, the hidden ``.part`` is swept by the next move (it
was left in the person's folder before). Killed after the copy took its name and
before the original went, the next move finds its note and ends the move (it made a
second copy ``IMG_1 (2).jpg`` before). "Another filesystem" is the link the kernel
refuses (EXDEV), as tests/watch/test_watch_folder_move.py has it; the kill is real.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ferryman.samples import make_photo
from ferryman.sources.listers.folder_move import move_file
from tests.support.engine_helpers import sha256
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# The child: links out of the watched folder refused as across filesystems, and a stall
# where ``stall`` says (inside the copy, or at the original's removal), told by ``ready``.
CHILD = textwrap.dedent(
    """
    import errno, os, shutil, sys, threading
    from pathlib import Path
    from ferryman.sources.listers.folder_move import move_file

    root, sent, ready, stall = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    link, copy2, unlink = os.link, shutil.copy2, Path.unlink

    def say(word):  # whole or not at all: the test reads it as soon as it is there
        said = ready.with_name("said")
        said.write_text(word)
        os.replace(said, ready)

    def across(src, dst, *args, **kwargs):
        if Path(src).is_relative_to(root):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        return link(src, dst, *args, **kwargs)

    def halfway(src, dst, **kwargs):
        Path(dst).write_bytes(Path(src).read_bytes()[:1000])
        say("copying")
        threading.Event().wait()

    def at_the_original(self, *args, **kwargs):
        if self == root / "IMG_1.jpg":
            say("placed")
            threading.Event().wait()
        return unlink(self, *args, **kwargs)

    os.link = across
    if stall == "copying":
        shutil.copy2 = halfway
    else:
        Path.unlink = at_the_original
    move_file(root / "IMG_1.jpg", sent / "IMG_1.jpg")
    """
)


def _across(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    link = os.link

    def refused(src: str | Path, dst: str | Path, *args: object, **kwargs: object) -> None:
        if Path(src).is_relative_to(root):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        link(src, dst, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "link", refused)


def _killed_in_the_middle(root: Path, sent: Path, stall: str, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(sent), str(ready), stall],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        eventually_sync(lambda: ready.exists() or child.poll() is not None, f"a move {stall}")
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert ready.read_text() == stall
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if child.stderr is not None:
            child.stderr.close()


@pytest.mark.parametrize("stall", ["copying", "placed"])
def test_a_move_killed_across_filesystems_ends_once_with_nothing_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stall: str
) -> None:
    root, sent = tmp_path / "Camera", tmp_path / "Sent"
    shot = sha256(make_photo(root / "IMG_1.jpg", 1))
    _killed_in_the_middle(root, sent, stall, tmp_path)

    left = sorted(os.listdir(sent))
    assert sha256(root / "IMG_1.jpg") == shot  # the kill took nothing of the person's
    if stall == "copying":
        assert len(left) == 1 and left[0].startswith(".IMG_1.jpg.") and left[0].endswith(".part")
    else:
        assert "IMG_1.jpg" in left and sha256(sent / "IMG_1.jpg") == shot

    _across(monkeypatch, root)
    moved = move_file(root / "IMG_1.jpg", sent / "IMG_1.jpg")  # the next look's move
    assert moved == sent / "IMG_1.jpg" and not (root / "IMG_1.jpg").exists()
    assert os.listdir(sent) == ["IMG_1.jpg"] and sha256(sent / "IMG_1.jpg") == shot
