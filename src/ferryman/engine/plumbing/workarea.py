"""Where a job's files live while it runs: one folder per job under ``work_dir``.

The runner, the read stage and the chat's /cleanup all need the same layout, so it
is written down once, here.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from pathlib import Path

from ferryman.config import Settings


def job_work_dir(settings: Settings, job_id: int) -> Path:
    """The job's folder: staged entries, converted files, parts, thumbnails."""
    return settings.work_dir / f"job-{job_id:05d}"


def nested_scratch(settings: Settings, job_id: int) -> Path:
    """Where an archive inside the input is held while it is read (zip and 7z seek)."""
    return job_work_dir(settings, job_id) / "nested"


KEPT_PREFIX = ".kept-"  # a cancelled job's partial download, set aside (not a job folder)


def kept_fetch_dir(settings: Settings, job_id: int) -> Path:
    """A cancelled job's partial download, set aside out of its work folder (which goes
    once the job has ended) until a retry's fetch takes it back and goes on from it by
    Range, as after a restart, or the job is removed."""
    return settings.work_dir / f"{KEPT_PREFIX}job-{job_id:05d}"


def set_aside(fetch: Path, kept: Path) -> None:
    """Move what the fetch left (a ``.part``) to ``kept``; nothing there: nothing kept."""
    if not fetch.is_dir() or not any(p.is_file() for p in fetch.rglob("*")):
        return
    shutil.rmtree(kept, ignore_errors=True)
    fetch.rename(kept)


def take_back(kept: Path, fetch: Path) -> None:
    """A retried job's fetch starts where the cancelled one stopped."""
    if kept.is_dir() and not fetch.exists():
        fetch.parent.mkdir(parents=True, exist_ok=True)
        kept.rename(fetch)


def sweep(work: Path, live: set[str], running: set[str]) -> None:
    """After a crash: job folders of jobs not running go, and in a running job's folder
    the half-written files (``.part``) no live row names, but an entry's part kept to
    be resumed (its record beside it: ``engine/read/resume.py``)."""
    if not work.exists():
        return
    for folder in work.iterdir():
        if folder.name.startswith(KEPT_PREFIX):  # a cancelled job's, until retry or remove
            continue
        if folder.name not in running:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        for path in folder.iterdir():
            if ".part" in path.name and str(path) not in live and not _resumed(path):
                with contextlib.suppress(OSError):
                    path.unlink()


def _resumed(path: Path) -> bool:
    """An entry's part kept to be resumed, or its record (``.part.resume``)."""
    if path.name.endswith(".part.resume"):
        return path.with_name(path.name.removesuffix(".resume")).exists()
    return path.name.endswith(".part") and path.with_name(path.name + ".resume").exists()


def job_folders(work: Path) -> dict[int, Path]:
    """The work area's job folders (``job-00012``) by job id."""
    if not work.exists():
        return {}
    found = {}
    for folder in work.iterdir():
        prefix, _, number = folder.name.partition("-")
        if prefix == "job" and number.isdigit() and folder.is_dir():
            found[int(number)] = folder
    return found


def remove_folder(folder: Path) -> None:
    """Renamed first (one step), so a job retried meanwhile starts in a fresh folder;
    a crash before the rest is removed leaves a name the start-up sweep clears."""
    gone = folder.with_name(f".gone-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        folder.rename(gone)
    except OSError:
        return
    shutil.rmtree(gone, ignore_errors=True)
