"""Turning what a person hands over into jobs: names, dedupe keys, early errors."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.model import Job
from ferryman.sinks.base import parse_destination
from ferryman.store import Store

_ARCHIVE_SUFFIX = re.compile(r"(\.tar)?\.(zip|tar|tgz|tbz2|txz|gz|bz2|xz|zst|7z|rar)$", re.I)


def job_name(path: Path) -> str:
    """``holiday.tar.gz`` → ``holiday``, ``clip.mkv`` → ``clip``: the folder albums go under."""
    name = path.name or str(path)
    stripped = _ARCHIVE_SUFFIX.sub("", name)
    if stripped == name and path.suffix and not path.is_dir():
        stripped = path.stem
    return safe_name(stripped or name, "job")


def dedupe_key(path: Path, dest: str) -> str:
    """The same file (path, size, mtime) to the same place is one job, unless forced."""
    try:
        st = path.stat()
        ident = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        ident = f"{path}|missing"
    return hashlib.sha256(f"{dest}|{ident}".encode()).hexdigest()


def _identify(raw: Path, dest: str) -> tuple[Path, bool, str]:
    path = Path(os.path.abspath(raw))
    return path, path.exists(), dedupe_key(path, dest)


async def add_path(
    store: Store,
    raw: Path,
    *,
    dest: str = "library:",
    password: str | None = None,
    priority: int = 0,
    force: bool = False,
) -> Job:
    """Record one input as a job. A path that is missing is recorded failed, with its code.

    Raises ``source.duplicate`` (nothing recorded) when the same input was added before.
    """
    parse_destination(dest)
    path, exists, ident = await asyncio.to_thread(_identify, raw, dest)
    error = None if exists else FerrymanError("source.not_found", f"{path} does not exist")
    key = None if force else ident
    name = await store.unique_name(job_name(path), dest)
    return await store.add_job(
        source=str(path),
        name=name,
        dest=dest,
        priority=priority,
        password=password,
        dedupe_key=key,
        error=error,
    )
