"""Quarantine: keep what could not be delivered, with a reason file a person can read."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

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
) -> Path:
    """Put ``src`` in the job's quarantine folder with ``<name>.reason.txt`` beside it.

    Work-area files are moved. A user's own input is never moved: it is hard-linked
    when possible (no extra space), else copied.
    """
    if not src.is_file():
        raise FileNotFoundError(f"nothing to keep at {src}")
    folder = job_folder(root, job_id, job_name)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / safe_name(label)
    if move:
        os.replace(src, dest) if _same_fs(src, folder) else shutil.move(src, dest)
    elif not dest.exists():
        link_or_copy(src, dest)
    write_reason(dest, error)
    return dest


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
