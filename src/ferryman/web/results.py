"""The results store, as the web sees it: what the ``link:`` destination delivered, listed
for the API, served one file at a time or as a zip made on the fly, and deleted after
``results.retention``. A folder on disk by default (``LocalResults``); an S3 bucket with
``[results.s3]`` (``web.results_s3``), whose files are fetched from S3 itself through
presigned URLs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ferryman.clock import SYSTEM, Clock
from ferryman.errors import FerrymanError
from ferryman.fsutil import Held, open_below, open_folder
from ferryman.sinks.library import MANIFEST
from ferryman.sinks.link import PREVIEWS, job_results
from ferryman.web.result_files import Facts, ResultFile, ZipWriter, album_facts, result_file

if TYPE_CHECKING:
    from ferryman.config import Settings


class ResultsStore(Protocol):
    """What the web needs of a results store, folder or bucket."""

    max_ttl: float  # the longest a link to one of its files may live

    async def files(self, job_id: int) -> list[ResultFile]:
        """A job's delivered files in album order (albums still being written are not)."""
        ...

    def direct_url(self, job_id: int, file: ResultFile, expires: float) -> str | None:
        """A URL serving the file without ferryman (presigned S3); None: use ``/d/``."""
        ...

    async def locate(self, job_id: int, path: str) -> Held | str:
        """The file behind a ``/d/`` link: opened here (served from that handle), or a
        URL to send the client to; ``link.gone`` when it is no longer kept."""
        ...

    def zip_stream(
        self, job_id: int, files: list[ResultFile]
    ) -> Iterator[bytes] | AsyncIterator[bytes]:
        """``files`` of the job as one zip, made while it is sent."""
        ...

    async def sweep(self, retention: float, now: float | None = None) -> tuple[int, int]:
        """Delete jobs' results older than ``retention``; (jobs, bytes) removed."""
        ...

    async def used_bytes(self) -> int: ...

    async def remove(self, job_id: int) -> None:
        """Delete the job's results now (the job is removed; its links go with it)."""
        ...

    async def check(self) -> str:
        """Raise when results cannot be kept; else say where they go."""
        ...

    async def close(self) -> None: ...


def open_results(settings: Settings, clock: Clock = SYSTEM) -> ResultsStore:
    """The results store the settings name; a bucket's links are signed on ``clock``."""
    if settings.results.s3 is not None:
        from ferryman.web.results_s3 import S3Results  # lazy: only with [results.s3]

        return S3Results(settings.results.s3, clock)
    return LocalResults(settings.results_dir)


class LocalResults:
    """Results in a folder (``results.dir``), served by ferryman's ``/d/`` links."""

    max_ttl = float("inf")

    def __init__(self, root: Path) -> None:
        self.root = root

    async def files(self, job_id: int) -> list[ResultFile]:
        return await asyncio.to_thread(self.files_now, job_id)

    def files_now(self, job_id: int) -> list[ResultFile]:
        folder = job_results(self.root, job_id)
        found: list[ResultFile] = []
        if not folder.is_dir():
            return found
        for album in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
            names, facts = _album_files(album)
            previews = _previews(album)
            for name in names:
                st = (album / name).lstat()
                if stat.S_ISREG(st.st_mode):  # a link is never listed, nor served
                    found.append(
                        result_file(album.name, name, st.st_size, facts.get(name), previews)
                    )
        return found

    def direct_url(self, job_id: int, file: ResultFile, expires: float) -> str | None:
        return None

    async def locate(self, job_id: int, path: str) -> Held:
        return await asyncio.to_thread(self.open_now, job_id, path)

    def open_now(self, job_id: int, path: str) -> Held:
        """The file inside the job's own folder, opened by handle below the folder,
        following no link (``fsutil.open_below``), a regular file: what a ``/d/`` link
        serves is read from this handle. ``link.gone`` else."""
        folder = job_results(self.root, job_id).resolve()
        target = (folder / path).resolve()
        if folder not in target.parents or target.name == MANIFEST:
            raise FerrymanError("link.gone", f"job {job_id}: {path} is no longer kept")
        return self._held(job_id, target.relative_to(folder).as_posix())

    def locate_now(self, job_id: int, path: str) -> Path:
        """The file's path inside the job's own folder, checked as ``open_now`` opens
        it and still naming that inode."""
        held = self.open_now(job_id, path)
        target = (job_results(self.root, job_id).resolve() / path).resolve()
        try:
            same = os.stat(target)
        except OSError:
            same = None
        finally:
            held.close()
        if same is None or (same.st_dev, same.st_ino) != (held.st.st_dev, held.st.st_ino):
            raise FerrymanError("link.gone", f"job {job_id}: {path} is no longer kept")
        return target

    def _held(self, job_id: int, path: str) -> Held:
        """``path`` opened below the job's folder; ``link.gone`` for a link, anything
        but a regular file, or nothing there."""
        folder = job_results(self.root, job_id)
        try:
            root = open_folder(folder)
        except OSError:
            raise FerrymanError("link.gone", f"job {job_id} has no files kept") from None
        try:
            return open_below(root, path, folder / path)
        except OSError:
            raise FerrymanError("link.gone", f"job {job_id}: {path} is no longer kept") from None
        finally:
            os.close(root)

    def zip_stream(
        self, job_id: int, files: list[ResultFile], chunk: int = 1 << 20
    ) -> Iterator[bytes]:
        """Read and zipped in the server's thread pool (a plain iterator), so the event
        loop never waits on the disk. Each file is opened below the job's own folder,
        following no link, and read from that handle."""
        writer = ZipWriter()
        for entry in files:
            held = self._held(job_id, entry.path)
            try:
                yield writer.start(entry.member or entry.name)
                for block in held.blocks(chunk):
                    if out := writer.write(block):
                        yield out
            finally:
                held.close()
            yield writer.end()
        yield writer.finish()

    async def sweep(self, retention: float, now: float | None = None) -> tuple[int, int]:
        return await asyncio.to_thread(self.sweep_now, retention, now)

    def sweep_now(self, retention: float, now: float | None = None) -> tuple[int, int]:
        now = SYSTEM.now() if now is None else now
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

    async def used_bytes(self) -> int:
        return await asyncio.to_thread(self._used)

    async def remove(self, job_id: int) -> None:
        await asyncio.to_thread(shutil.rmtree, job_results(self.root, job_id), True)

    def _used(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    async def check(self) -> str:
        return await asyncio.to_thread(writable_with_space, self.root, 0)

    async def close(self) -> None:
        return None


def writable_with_space(folder: Path, floor: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / ".ready-probe"
    probe.write_bytes(b"ok")
    probe.unlink()
    free = shutil.disk_usage(folder).free
    if free < floor:
        raise RuntimeError(f"{free} bytes free, under the floor of {floor}")
    return f"writable, {free // 2**20} MiB free"


def _album_files(album: Path) -> tuple[list[str], dict[str, Facts]]:
    """The files in the manifest's order; a folder without one lists its files."""
    try:
        read = album_facts((album / MANIFEST).read_bytes())
    except OSError:
        read = None
    if read is not None:
        return [n for n in read[0] if (album / n).is_file()], read[1]
    names = sorted(p.name for p in album.iterdir() if p.is_file() and p.name != MANIFEST)
    return names, {}


def _previews(album: Path) -> set[str]:
    """The album's previews, as paths inside it (one listing, not a look per file)."""
    try:
        return {f"{PREVIEWS}/{p.name}" for p in (album / PREVIEWS).iterdir()}
    except OSError:
        return set()
