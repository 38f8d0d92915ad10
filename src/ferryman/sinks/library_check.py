"""Whether a library holds a person's file, read back now: asked before a watch's
``--then delete|move`` lets the file go (``engine/watch/tidy.py``).

The job's own records (``sinks/library_records.owner_of``: never another ferryman's)
name where each of its files went; one of them must hold the person's bytes: the same
size and sha256, read from the library's disk at that moment, not the store's word. A
converted file (a remux, a transcode) is other bytes: its original stays. A file never
vouches for itself: the person's file, met among the library's (a library inside the
watched folder, whose copies the watch lists as the files it delivered), is not the
library holding it; deleting it would delete the library's copy."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ferryman.fsutil import safe_name
from ferryman.model import Job
from ferryman.sinks.library_copy import file_sha256
from ferryman.sinks.library_records import owner_of

HIDDEN = ".ferryman"
MANIFEST = "manifest.json"


def library_holds(root: Path, job: Job, path: Path) -> bool:
    """Whether a file the job placed in the library at ``root`` holds the bytes of
    ``path`` (blocking: reads the file, then the library's candidates of its size)."""
    try:
        digest = file_sha256(path)
    except OSError:
        return False
    for candidate in _placed(root, job):
        try:
            if _same_entry(candidate, path):
                continue  # the very name to be let go: no copy of it
            if os.stat(candidate).st_size == digest[0] and file_sha256(candidate) == digest:
                return True
        except OSError:
            continue
    return False


def _same_entry(candidate: str, path: Path) -> bool:
    """Whether ``candidate`` names the very file ``path`` names: one name in one folder
    (reached through any link), not a second name of its bytes, nor of its inode (a
    library asked for hard links keeps its own name of the person's file)."""
    if not os.path.samefile(os.path.dirname(candidate), path.parent):
        return False
    name = os.path.basename(candidate)
    return name == path.name or (
        name.casefold() == path.name.casefold() and os.path.samefile(candidate, path)
    )  # a disk that ignores case: one file under two spellings


def _placed(root: Path, job: Job) -> list[str]:
    """Every file the job's own manifests say it placed: a laid-out library's
    ``.ferryman/<job>/NNNN[.owner].json``, or album folders ``<job>/NNNN[.owner]/``."""
    owner, name = owner_of(job), safe_name(job.name, "job")
    found: list[str] = []
    for manifest in sorted((root / HIDDEN / name).glob("[0-9]*.json")):
        document = _ours(manifest, owner)
        for entry in document.get("placed") or ():
            rel = str(entry.get("path", ""))
            parts = [p for p in rel.split("/") if p and p != "."]
            if parts and ".." not in parts and not rel.startswith("/"):
                found.append(os.path.join(root, *parts))
    for manifest in sorted((root / name).glob(f"[0-9][0-9][0-9][0-9]*/{MANIFEST}")):
        document = _ours(manifest, owner)
        for item in document.get("items") or ():
            for file in item.get("parts") or [item.get("file")]:
                if isinstance(file, str) and "/" not in file and file not in ("", ".", ".."):
                    found.append(os.path.join(manifest.parent, file))
    return found


def _ours(manifest: Path, owner: str) -> dict[str, Any]:
    """The manifest, if this job wrote it; else empty."""
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) and document.get("owner") == owner else {}
