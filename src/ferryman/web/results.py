"""The results store on disk: what the ``link:`` destination delivered, listed for the
API, served one file at a time or as a zip made on the fly, and deleted after
``results.retention``."""

from __future__ import annotations

import json
import mimetypes
import shutil
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from ferryman.errors import FerrymanError
from ferryman.fsutil import unique_name
from ferryman.sinks.library import MANIFEST
from ferryman.sinks.link import job_results


@dataclass(frozen=True, slots=True)
class ResultFile:
    path: str  # inside the job's results: "0001/clip.mp4"
    name: str
    size: int
    mime: str


class Results:
    def __init__(self, root: Path) -> None:
        self.root = root

    def files(self, job_id: int) -> list[ResultFile]:
        """A job's delivered files in album order (albums being written are skipped)."""
        folder = job_results(self.root, job_id)
        found: list[ResultFile] = []
        if not folder.is_dir():
            return found
        for album in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
            for name in _album_files(album):
                file = album / name
                mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
                found.append(ResultFile(f"{album.name}/{name}", name, file.stat().st_size, mime))
        return found

    def locate(self, job_id: int, path: str) -> Path:
        """The file ``path`` of a job; ``link.gone`` if it is no longer kept."""
        folder = job_results(self.root, job_id).resolve()
        target = (folder / path).resolve()
        if folder not in target.parents or not target.is_file() or target.name == MANIFEST:
            raise FerrymanError("link.gone", f"job {job_id}: {path} is no longer kept")
        return target

    def zip_stream(
        self, job_id: int, files: list[ResultFile], chunk: int = 1 << 20
    ) -> Iterator[bytes]:
        """``files`` of the job (``files()``) as one zip, written as it is sent (stored:
        media does not compress), so nothing is kept on disk and the first bytes leave
        at once."""
        sink = _Chunks()
        with zipfile.ZipFile(cast("IO[bytes]", sink), "w", zipfile.ZIP_STORED) as archive:
            used: set[str] = set()
            for entry in files:
                name = unique_name(entry.name, used)
                source = job_results(self.root, job_id) / entry.path
                with open(source, "rb") as src, archive.open(name, "w", force_zip64=True) as dst:
                    while block := src.read(chunk):
                        dst.write(block)
                        yield from sink.take()
            yield from sink.take()
        yield from sink.take()

    def sweep(self, retention: float, now: float | None = None) -> tuple[int, int]:
        """Delete jobs' results older than ``retention``; (folders, bytes) removed."""
        now = time.time() if now is None else now
        removed = freed = 0
        if not self.root.is_dir():
            return 0, 0
        for folder in self.root.iterdir():
            if not folder.name.startswith("job-") or not folder.is_dir():
                continue
            if now - folder.stat().st_mtime < retention:
                continue
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
            freed += size
        return removed, freed

    def used_bytes(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def _album_files(album: Path) -> list[str]:
    """The files in the manifest's order; a folder without one lists its files."""
    try:
        manifest = json.loads((album / MANIFEST).read_text(encoding="utf-8"))
        names = [n for e in manifest["items"] for n in (e.get("parts") or [e["file"]])]
        return [n for n in names if (album / n).is_file()]
    except (OSError, ValueError, KeyError, TypeError):
        return sorted(p.name for p in album.iterdir() if p.is_file() and p.name != MANIFEST)


class _Chunks:
    """A write-only, unseekable file for ZipFile: what it writes is taken in pieces."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        return None

    def take(self) -> Iterator[bytes]:
        parts, self._parts = self._parts, []
        if parts:
            yield b"".join(parts)
