"""Results kept for a while: the same video asked the same way is not fetched again.

The key is the canonical link with the output profile (``youtube:ID|mp3-192``), so an
MP3 is never handed out for an MP4 request, and ``youtu.be/ID`` finds what
``watch?v=ID`` made. Entries live in ``<data_dir>/cache/links/<hash>/`` with the files
(hard links where the disk allows, so a cached result costs no second copy while the
job's copy exists) and ``result.json``; an entry older than ``links.cache_ttl`` is
removed when next looked at. Blocking: call from a thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferryman import fsutil

META = "result.json"


@dataclass(frozen=True, slots=True)
class Hit:
    folder: Path
    files: tuple[str, ...]
    done: dict[str, Any]  # what grab's done.json said of each entry
    at: float


class ResultCache:
    def __init__(self, root: Path, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.ttl = ttl
        self.clock = clock

    def _folder(self, key: str) -> Path:
        return self.root / hashlib.sha256(key.encode()).hexdigest()[:40]

    def get(self, key: str) -> Hit | None:
        if self.ttl <= 0:
            return None
        folder = self._folder(key)
        try:
            meta = json.loads((folder / META).read_text())
        except (OSError, ValueError):
            return None
        files = tuple(str(name) for name in meta.get("files", ()))
        fresh = self.clock() - float(meta.get("at", 0)) <= self.ttl
        if meta.get("key") != key or not fresh or not all((folder / f).is_file() for f in files):
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return Hit(folder, files, dict(meta.get("done") or {}), float(meta["at"]))

    def put(self, key: str, out: Path, files: list[str], done: dict[str, Any]) -> None:
        """Keep ``files`` of ``out`` under ``key`` (replacing an older entry)."""
        if self.ttl <= 0:
            return
        folder = self._folder(key)
        tmp = folder.with_name(folder.name + ".new")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in files:
            link_or_copy(out / name, tmp / name)
        meta = {"key": key, "at": self.clock(), "files": files, "done": done}
        (tmp / META).write_text(json.dumps(meta))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        self.prune()

    def restore(self, hit: Hit, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for name in hit.files:
            link_or_copy(hit.folder / name, out / name)

    def prune(self) -> int:
        """Remove expired entries; returns how many went."""
        gone = 0
        if not self.root.is_dir():
            return 0
        for folder in self.root.iterdir():
            if folder.name.endswith(".new"):  # being written
                continue
            try:
                at = float(json.loads((folder / META).read_text()).get("at", 0))
            except (OSError, ValueError):
                at = 0.0
            if self.clock() - at > self.ttl:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        return gone


def link_or_copy(src: Path, dst: Path) -> None:
    """``fsutil.link_or_copy`` over whatever ``dst`` held."""
    dst.unlink(missing_ok=True)
    fsutil.link_or_copy(src, dst)
