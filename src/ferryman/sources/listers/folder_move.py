"""``--then move:DIR``: a person's file moved out of a watched folder, never over a file.

On one filesystem the move is a hard link, then the old name's removal: a link never
replaces a file that took the name meanwhile. Across filesystems (a phone's SD card, a
USB disk, often exFAT, which holds no hard links) the file is copied under a hidden name
beside its target, made durable and read back (its size and sha256 against the
original's), then put in place, never over a file: a name taken while it was copied (a
second watch moving into the same DIR, the person) keeps its file, and this one takes
the next free name (``IMG_1 (2).jpg``). Only then does the original go. A copy that
fails (a full disk) takes its hidden file with it: nothing half-written stays behind.
A move a kill cut short on one filesystem (the file linked into DIR, its original's
name still in the folder) is ended at the next look by removing that name, not by a
second name ``IMG_1 (2).jpg``.

Across filesystems a kill leaves ferryman's own hidden files in DIR, never a person's:
the copy being made (``.IMG_1.jpg.ferryman-<pid>.part``, held under an exclusive
``flock`` for as long as it is written) and the note of a copy being put in place
(``.IMG_1.jpg.ferryman-moved``: the original's path, size and sha256, durable before
the copy takes the name). The next move into that folder sweeps every part no live
move holds, and the note ends a move cut between the copy taking its name and the
original's removal: the name that holds the noted bytes of that very original is its
move, done; the original's name goes and no second copy ``IMG_1 (2).jpg`` is made.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from ferryman.errors import FerrymanError
from ferryman.fsutil import fsync_dir

# A hard link cannot be made here: another filesystem, or one without links (exFAT).
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})
# ferryman's own hidden files in DIR (no person names a file so): a copy being made,
# and the note of a copy put in place before its original went. An older ferryman's
# part (``.IMG_1.jpg.<pid>.part``) is known only beside the name it was made for.
_PART = re.compile(r"\..+\.ferryman-[0-9]+\.part")
_NOTE = ".ferryman-moved"


def free_name(target: Path) -> Path:
    """``target``, or ``name (2).ext``… when a file there has its name."""
    found, n = target, 1
    while os.path.lexists(found):
        n += 1
        found = _numbered(target, n)
    return found


def move_file(path: Path, wanted: Path) -> Path:
    """``path`` moved to ``wanted``, or the next free name beside it; where it went. A
    name there that is this very file already (a move a kill cut between its link and
    the original's removal) ends the move: the original's name goes, no second copy is
    made."""
    there = _already(path, wanted)
    if there is not None:
        _let_go(path, there)
        return there
    target = free_name(wanted)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, target, follow_symlinks=False)  # never over a file that appeared
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        target = _copied(path, target, wanted)
    _let_go(path, target)
    return target


def _let_go(path: Path, placed: Path) -> None:
    """The original's name removed, durably, and only then the note of the copy that
    let it go (a note outliving its original is swept as stale: ``sweep``)."""
    path.unlink()
    fsync_dir(path.parent)
    _note_of(placed).unlink(missing_ok=True)


def _already(path: Path, wanted: Path) -> Path | None:
    """The name of ``wanted``'s (``wanted``, ``wanted (2)``…, as far as they are taken)
    that is ``path``'s own file (its inode: the link a move made before a kill), if
    one is. A file of the same bytes but its own inode is not: it may be the library's
    copy (DIR inside the library), and the person's file would be one copy less."""
    found, n = wanted, 1
    while os.path.lexists(found):
        try:
            if os.path.samefile(path, found) or _noted(path, found):
                return found
        except OSError:
            pass
        n += 1
        found = _numbered(wanted, n)
    return None


def _numbered(target: Path, n: int) -> Path:
    return target.with_name(f"{target.stem} ({n}){target.suffix}")


def _copied(path: Path, target: Path, wanted: Path) -> Path:
    """``path`` copied beside ``target``, read back, and put in place under a free name;
    the folder made durable before the caller lets the original go. The hidden copy is
    held (``flock``) while it is made: the sweep of a move beside it leaves it be."""
    part = target.with_name(f".{target.name}.ferryman-{os.getpid()}.part")
    held = _hold(part)
    try:
        sweep(target.parent, wanted.name)
        shutil.copy2(path, part, follow_symlinks=False)
        with part.open("rb+") as handle:
            os.fsync(handle.fileno())
        digest = _digest(part)
        if digest != _digest(path):
            raise FerrymanError(
                "watch.move_failed",
                f"{target}: the copy does not hold what {path} holds (the disk or another"
                " program changed it); the file is left where it is",
            )
        placed = _put(part, target, path, digest)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    finally:
        os.close(held)
    fsync_dir(placed.parent)
    return placed


def _hold(part: Path) -> int:
    """The hidden copy's name taken and locked for this move (a descriptor to close);
    ``watch.move_failed`` while another move of this process holds it."""
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise FerrymanError(
            "watch.move_failed", f"{part.name}: the same file is being moved already"
        ) from None
    except OSError:
        pass  # a disk without locks: the copy is made all the same, unswept if killed
    return fd


def sweep(folder: Path, name: str = "") -> list[str]:
    """ferryman's own hidden files a killed move left in ``folder``, removed: each copy
    no live move holds (its lock free; an older ferryman's, which took none, only that
    of ``name``), each note whose copy or original is gone. A person's file is never
    named so; nothing else is touched. The names removed."""
    legacy = re.compile(rf"\.{re.escape(name)}\.[0-9]+\.part") if name else None
    swept: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return swept
    for entry in names:
        one = folder / entry
        if _PART.fullmatch(entry) or (legacy is not None and legacy.fullmatch(entry)):
            if _unheld(one):
                swept.append(entry)
        elif entry.startswith(".") and entry.endswith(_NOTE) and _stale_note(one):
            one.unlink(missing_ok=True)
            swept.append(entry)
    return swept


def _unheld(part: Path) -> bool:
    """Removes the hidden copy ``part`` if no move holds it (its lock taken here, held
    while it goes); whether it went."""
    try:
        fd = os.open(part, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        part.unlink()
    except OSError:
        return False  # held by a move, a disk without locks, or gone meanwhile
    finally:
        os.close(fd)
    return True


def _note_of(placed: Path) -> Path:
    return placed.with_name(f".{placed.name}{_NOTE}")


def _noted(path: Path, found: Path) -> bool:
    """Whether ``found`` is the copy of ``path`` a killed move put in place: its note
    names ``path`` and the bytes both still hold (a file of the same bytes the person or
    a library put there has no note, and is no copy of this move's)."""
    note = _read_note(_note_of(found))
    if note is None or note.get("source") != str(path):
        return False
    said = (note.get("size"), note.get("sha256"))
    return said == _digest(path) == _digest(found)


def _read_note(note: Path) -> dict[str, object] | None:
    try:
        found = json.loads(note.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _stale_note(note: Path) -> bool:
    """A note ends no move once its copy's name or its original is gone (or it cannot
    be read: no move reads it either)."""
    found = _read_note(note)
    if found is None:
        return True
    placed = note.with_name(note.name[1 : -len(_NOTE)])
    return not (os.path.lexists(placed) and os.path.lexists(str(found.get("source"))))


def _put(part: Path, target: Path, source: Path, digest: tuple[int, str]) -> Path:
    """The copy renamed to ``target``'s first free name, never over a file; before it
    takes a name, a note of whose copy it is, durable, for a move a kill cuts short (the
    note goes again when the name was not taken, or taken by another)."""
    record = {"source": str(source), "size": digest[0], "sha256": digest[1]}
    while True:
        target = free_name(target)
        note = _note_of(target)
        _write_note(note, record)
        try:
            placed = _place(part, target)
        except BaseException:
            note.unlink(missing_ok=True)
            raise
        if placed:
            return target
        note.unlink(missing_ok=True)  # taken since it was looked at: the next one


def _place(part: Path, target: Path) -> bool:
    """The copy given the name ``target`` unless a file has it; whether it took it."""
    try:
        os.link(part, target)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        if os.path.lexists(target):  # no links on this disk: a look, then a rename
            return False
        os.rename(part, target)
        return True
    part.unlink()
    return True


def _write_note(note: Path, record: dict[str, object]) -> None:
    with note.open("w", encoding="utf-8") as out:
        json.dump(record, out)
        out.flush()
        os.fsync(out.fileno())
    fsync_dir(note.parent)


def _digest(path: Path) -> tuple[int, str]:
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return os.fstat(handle.fileno()).st_size, digest
