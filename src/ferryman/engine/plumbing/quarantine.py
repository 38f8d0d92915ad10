"""Quarantine: keep what could not be delivered, with a reason file a person can read."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from ferryman.errors import FerrymanError
from ferryman.fsutil import link_or_copy, safe_name


def job_folder(root: Path, job_id: int, job_name: str) -> Path:
    return root / f"{job_id:05d}-{safe_name(job_name, 'job')}"


def keep(
    root: Path,
    job_id: int,
    job_name: str,
    src: Path,
    label: str,
    error: FerrymanError,
    *,
    move: bool,
    unique: str = "input",
) -> Path:
    """Put ``src`` in the job's quarantine folder with ``<name>.reason.txt`` beside it.

    ``label`` is the item's path in its input (``folder/clip.mp4``) and keeps its
    folders, so two ``clip.mp4`` from different folders do not overwrite each other;
    where that path is taken all the same (names made safe can meet, a file can stand
    where a folder would go), ``unique`` (the item's number) tells them apart.
    Work-area files are moved. A user's own input is never moved: it is hard-linked
    when possible (no extra space), else copied, once.
    """
    if not src.is_file():
        raise FileNotFoundError(f"nothing to keep at {src}")
    error = in_input_terms(error, src, label)
    plain = kept_path(root, job_id, job_name, label)
    if not move and plain.is_file():
        dest = plain  # this input was kept before
    else:
        dest = _free(plain, job_folder(root, job_id, job_name), unique)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if move:
        os.replace(src, dest) if _same_fs(src, dest.parent) else shutil.move(src, dest)
    elif not dest.exists():
        link_or_copy(src, dest)
    write_reason(dest, error)
    return dest


def kept_path(root: Path, job_id: int, job_name: str, label: str) -> Path:
    """Where ``label`` (a relative path, already sanitised or not) is kept, if free."""
    parts = [
        safe_name(part)
        for part in PurePosixPath(label.replace("\\", "/")).parts
        if part not in ("/", ".", "..")
    ]
    return job_folder(root, job_id, job_name).joinpath(*(parts or ["file"]))


def _spots(dest: Path, folder: Path, unique: str) -> tuple[Path, Path, Path]:
    """Where a file may be kept, in order: ``dest``, else the same name marked
    ``~unique`` beside it, else that name at the top of the job's folder."""
    marked = f"{dest.stem}~{unique}{dest.suffix}"
    return dest, dest.with_name(marked), folder / marked


def _free(dest: Path, folder: Path, unique: str) -> Path:
    """The first spot nothing stands on or in the way of."""
    for candidate in _spots(dest, folder, unique):
        if not candidate.exists() and _folders_clear(candidate, folder):
            return candidate
    raise FileExistsError(f"{dest} and its alternatives are taken")


def _folders_clear(path: Path, top: Path) -> bool:
    """Every folder between ``top`` and ``path`` is a folder or not there yet."""
    return all(not p.exists() or p.is_dir() for p in path.parents if top in p.parents)


def keep_again(
    root: Path,
    job_id: int,
    job_name: str,
    src: Path,
    label: str,
    error: FerrymanError,
    unique: str,
) -> Path:
    """Move a work file to quarantine, as ``keep(move=True)``, where a crash may already
    have moved it: a missing ``src`` with the file kept already is that earlier move."""
    if not src.exists():
        plain, *marked = _spots(
            kept_path(root, job_id, job_name, label), job_folder(root, job_id, job_name), unique
        )
        # A marked spot is surely this item's; the plain one, only if no marked one is.
        for earlier in (*marked, plain):
            if earlier.is_file():
                write_reason(earlier, in_input_terms(error, src, label))
                return earlier
    return keep(root, job_id, job_name, src, label, error, move=True, unique=unique)


def in_input_terms(error: FerrymanError, work_file: Path, label: str) -> FerrymanError:
    """``error`` with the work area's name of the file (``000001-cutvid.mp4``) replaced
    by the entry's path inside the input (``trip/cut vid.mp4``): the name a person knows.
    """
    if not work_file.name or work_file.name not in error.message:
        return error
    message = error.message.replace(str(work_file), label).replace(work_file.name, label)
    renamed = FerrymanError(error.code, message)
    renamed.__cause__ = error.__cause__
    return renamed


def write_reason(dest: Path, error: FerrymanError) -> Path:
    note = dest.with_name(dest.name + ".reason.txt")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    note.write_text(
        f"code: {error.code}\nwhat: {error.message}\nnext: {error.next_step}\nwhen: {stamp}\n",
        encoding="utf-8",
    )
    return note


def _same_fs(src: Path, folder: Path) -> bool:
    return src.stat().st_dev == folder.stat().st_dev


def list_quarantine(root: Path) -> list[tuple[Path, str]]:
    """Every quarantined file with the first line of its reason."""
    found: list[tuple[Path, str]] = []
    if not root.exists():
        return found
    for note in sorted(root.rglob("*.reason.txt")):
        target = note.with_name(note.name.removesuffix(".reason.txt"))
        code = note.read_text(encoding="utf-8").splitlines()[0].removeprefix("code: ")
        found.append((target, code))
    return found
