"""Whose record is whose in a library many ferrymen write into.

A library outlives a data folder: a reinstall, a second machine, a container's new
volume, or a job removed and added again all write into it, each counting jobs from
its own 1. A record (an album's manifest) is therefore not known by its job number
but by its *owner*: a digest of the job's number, the store's moment of its making and
its input, the same for every engine reading that job from one store (retries and
restarts included), different for another store's job 1 or the same input added
again. A sink recognises its own earlier work by it, and leaves anyone else's as it
is: it writes beside it (``NNNN.<owner>.json``, ``NNNN.<owner>/``), never over it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ferryman.model import Item, Job
from ferryman.sinks.library_copy import file_sha256


def owner_of(job: Job) -> str:
    """The job's mark on its records: stable for the job, unlike another's."""
    seed = f"{job.id}\0{job.created_at!r}\0{job.source}".encode()
    return hashlib.sha256(seed).hexdigest()[:16]


def is_ours(document: dict[str, Any], job: Job, key: str) -> bool:
    """Whether a manifest is this job's own (a record without an owner is an older
    ferryman's: it may be another data folder's job of the same number)."""
    return document.get("owner") == owner_of(job) and document.get("key") == key


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``; None when there is none. One that cannot be read is
    someone else's file: ``{}``, never taken for ours."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def source_digest(item: Item, path: Path | str) -> tuple[int, str]:
    """What the delivered file must hold: the staged entry's size and hash where the
    file is the entry as read (kept in the store since), else read now (a converted
    copy, a part)."""
    if item.sha256 and not item.parts and item.original_path is None:
        return _size(path), item.sha256
    return file_sha256(path)


def _size(path: Path | str) -> int:
    return os.stat(path).st_size
