"""The results store, as the web sees it: what the ``link:`` destination delivered, listed
for the API, served one file at a time or as a zip made on the fly, and deleted after
``results.retention``. A folder on disk by default (``LocalResults``); an S3 bucket with
``[results.s3]`` (``web.results_s3``), whose files are fetched from S3 itself through
presigned URLs.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import shutil
import urllib.parse
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol, cast

from ferryman.clock import SYSTEM, Clock
from ferryman.errors import FerrymanError
from ferryman.naming import unique_name, zip_member
from ferryman.sinks.library import MANIFEST
from ferryman.sinks.link import PREVIEWS, job_results, preview_path

if TYPE_CHECKING:
    from ferryman.config import Settings


@dataclass(frozen=True, slots=True)
class ResultFile:
    path: str  # inside the job's results: "0001/clip.mp4"
    name: str
    size: int
    mime: str
    kind: str = "other"  # photo, video, audio or other: how the page shows it
    duration: float | None = None  # seconds, for a video or audio file
    preview: str | None = None  # its WebP preview inside the job's results, if made
    member: str = ""  # in the job's zip, under its input's folders: "Holiday 2024/a.jpg"


@dataclass(frozen=True, slots=True)
class Facts:
    """What an album's manifest says of one of its files."""

    kind: str
    duration: float | None
    member: str = ""  # where it goes in the job's zip (``naming.zip_member``)


_SHOWN_AS = {"photo": "photo", "video": "video", "animation": "video", "audio": "audio"}
_BY_MIME = {"image": "photo", "video": "video", "audio": "audio"}


def result_file(
    album: str, name: str, size: int, facts: Facts | None, previews: set[str]
) -> ResultFile:
    """One delivered file as the web lists it; without a manifest, its kind is guessed
    from its name."""
    mime = mime_of(name)
    if facts is None:
        facts = Facts(_BY_MIME.get(mime.partition("/")[0], "other"), None)
    elif facts.kind == "video" and mime.startswith("image/"):  # an animation kept as a GIF
        facts = Facts("photo", None, facts.member)
    preview = f"{album}/{preview_path(name)}" if preview_path(name) in previews else None
    return ResultFile(
        f"{album}/{name}", name, size, mime, facts.kind, facts.duration, preview, facts.member
    )


class ResultsStore(Protocol):
    """What the web needs of a results store, folder or bucket."""

    max_ttl: float  # the longest a link to one of its files may live

    async def files(self, job_id: int) -> list[ResultFile]:
        """A job's delivered files in album order (albums still being written are not)."""
        ...

    def direct_url(self, job_id: int, file: ResultFile, expires: float) -> str | None:
        """A URL serving the file without ferryman (presigned S3); None: use ``/d/``."""
        ...

    async def locate(self, job_id: int, path: str) -> Path | str:
        """The file behind a ``/d/`` link: a local path, or a URL to send the client to;
        ``link.gone`` when it is no longer kept."""
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
        from ferryman.web.results_s3 import S3Results  # lazy: import cycle (it reads Facts here)

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
                size = (album / name).stat().st_size
                found.append(result_file(album.name, name, size, facts.get(name), previews))
        return found

    def direct_url(self, job_id: int, file: ResultFile, expires: float) -> str | None:
        return None

    async def locate(self, job_id: int, path: str) -> Path:
        return await asyncio.to_thread(self.locate_now, job_id, path)

    def locate_now(self, job_id: int, path: str) -> Path:
        folder = job_results(self.root, job_id).resolve()
        target = (folder / path).resolve()
        if folder not in target.parents or not target.is_file() or target.name == MANIFEST:
            raise FerrymanError("link.gone", f"job {job_id}: {path} is no longer kept")
        return target

    def zip_stream(
        self, job_id: int, files: list[ResultFile], chunk: int = 1 << 20
    ) -> Iterator[bytes]:
        """Read and zipped in the server's thread pool (a plain iterator), so the event
        loop never waits on the disk."""
        writer = ZipWriter()
        for entry in files:
            yield writer.start(entry.member or entry.name)
            with open(job_results(self.root, job_id) / entry.path, "rb") as src:
                while block := src.read(chunk):
                    if out := writer.write(block):
                        yield out
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


def disposition(name: str) -> str:
    """RFC 6266: an ASCII fallback and the real name as UTF-8 ``filename*``."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name)}"


def mime_of(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def album_facts(manifest: bytes) -> tuple[list[str], dict[str, Facts]] | None:
    """The files of an album in the manifest's order, with what it says of each (a
    split video's parts share its kind; the duration is the whole video's, so it is
    given to the only file of an unsplit one; its place in the job's zip, under the
    folders its source path had); None if it is not a manifest."""
    try:
        items = json.loads(manifest)["items"]
        names: list[str] = []
        facts: dict[str, Facts] = {}
        for entry in items:
            files = entry.get("parts") or [entry["file"]]
            media = entry.get("media") or {}
            seconds = media.get("duration") if len(files) == 1 else None
            kind = _SHOWN_AS.get(str(entry.get("kind")), "other")
            source = str(entry.get("source_path") or "")
            for name in files:
                names.append(name)
                member = zip_member(source, name)
                facts[name] = Facts(kind, float(seconds) if seconds else None, member)
        return names, facts
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


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


class ZipWriter:
    """A zip written as it is sent (stored: media does not compress; ZIP64, so any
    size): each call returns the bytes it made, for the response to send."""

    def __init__(self) -> None:
        self._sink = _Chunks()
        self._archive = zipfile.ZipFile(cast("IO[bytes]", self._sink), "w", zipfile.ZIP_STORED)
        self._used: set[str] = set()
        self._entry: IO[bytes] | None = None

    def start(self, name: str) -> bytes:
        """Begin the next file, ``name`` a path in the zip (a second ``a.jpg`` in one
        folder becomes ``a (2).jpg``)."""
        self._entry = self._archive.open(unique_name(name, self._used), "w", force_zip64=True)
        return self._sink.take()

    def write(self, block: bytes) -> bytes:
        assert self._entry is not None
        self._entry.write(block)
        return self._sink.take()

    def end(self) -> bytes:
        assert self._entry is not None
        self._entry.close()
        self._entry = None
        return self._sink.take()

    def finish(self) -> bytes:
        self._archive.close()
        return self._sink.take()


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

    def take(self) -> bytes:
        parts, self._parts = self._parts, []
        return b"".join(parts)
