"""Results in an S3-compatible bucket (``[results.s3]``): several web front ends serve
one set of results, and a file's link is a presigned S3 URL, so its bytes never pass
through ferryman. The whole-job zip is still made here, from the objects as they are
read."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ferryman.clock import SYSTEM, Clock
from ferryman.errors import FerrymanError
from ferryman.net.s3 import PRESIGN_MAX, S3Object
from ferryman.sinks.library import MANIFEST
from ferryman.sinks.link import PREVIEWS, job_prefix, s3_client
from ferryman.web.results import (
    Facts,
    ResultFile,
    ZipWriter,
    album_facts,
    disposition,
    result_file,
)

if TYPE_CHECKING:
    from ferryman.config import S3Settings

USED_FRESH = 60.0  # seconds a count of the bucket's bytes is reused (/metrics scrapes)


class S3Results:
    max_ttl = float(PRESIGN_MAX)

    def __init__(self, settings: S3Settings, clock: Clock = SYSTEM) -> None:
        self.clock = clock  # a link's seconds left, a sweep's age, the usage's freshness
        self.client = s3_client(settings)
        self.prefix = settings.prefix
        # (key, modified) -> the album's files and facts, None when not a manifest
        self._manifests: dict[tuple[str, float], tuple[list[str], dict[str, Facts]] | None] = {}
        self._used: tuple[float, int] | None = None

    async def files(self, job_id: int) -> list[ResultFile]:
        base = job_prefix(self.prefix, job_id)
        albums: dict[str, dict[str, S3Object]] = {}
        previews: dict[str, set[str]] = {}
        for obj in await self.client.list(base):
            album, _, name = obj.key[len(base) :].partition("/")
            if album.isdigit() and name and "/" not in name:
                albums.setdefault(album, {})[name] = obj
            elif album.isdigit() and name.startswith(f"{PREVIEWS}/"):
                previews.setdefault(album, set()).add(name)
        found: list[ResultFile] = []
        for album in sorted(albums):
            objects = albums[album]
            manifest = objects.get(MANIFEST)
            if manifest is None:
                continue  # still being uploaded: the manifest goes last
            names, facts = await self._facts(manifest) or (sorted(objects), {})
            for name in names:
                if name in objects and name != MANIFEST:
                    size = objects[name].size
                    found.append(
                        result_file(album, name, size, facts.get(name), previews.get(album, set()))
                    )
        return found

    async def _facts(self, manifest: S3Object) -> tuple[list[str], dict[str, Facts]] | None:
        """An album's files in order, with their facts; a manifest is read once (it
        never changes)."""
        key = (manifest.key, manifest.modified)
        if key not in self._manifests:
            body = await self.client.get_bytes(manifest.key)
            self._manifests[key] = album_facts(body) if body is not None else None
        return self._manifests[key]

    def direct_url(self, job_id: int, file: ResultFile, expires: float) -> str | None:
        seconds = max(1, round(expires - self.clock.now()))
        return self.client.presign(
            self._key(job_id, file.path),
            seconds,
            {"response-content-disposition": disposition(file.name)},
        )

    def _key(self, job_id: int, path: str) -> str:
        return job_prefix(self.prefix, job_id) + path

    async def locate(self, job_id: int, path: str) -> str:
        found = {f.path: f for f in await self.files(job_id)}
        previews = {f.preview: f for f in found.values() if f.preview}
        if path in previews:  # a preview: served as the file it shows would be
            found[path] = ResultFile(path, f"{previews[path].name}.webp", 0, "image/webp")
        file = found.get(path)
        if file is None:
            raise FerrymanError("link.gone", f"job {job_id}: {path} is no longer kept")
        url = self.direct_url(job_id, file, self.clock.now() + 600)
        assert url is not None
        return url

    async def zip_stream(self, job_id: int, files: list[ResultFile]) -> AsyncIterator[bytes]:
        """The objects read one after another, zipped (CRC and copies) off the loop."""
        writer = ZipWriter()
        for entry in files:
            yield writer.start(entry.member or entry.name)
            async for block in self.client.stream(self._key(job_id, entry.path)):
                if out := await asyncio.to_thread(writer.write, block):
                    yield out
            yield writer.end()
        yield writer.finish()

    async def sweep(self, retention: float, now: float | None = None) -> tuple[int, int]:
        """A job's objects go together once its newest is older than ``retention``."""
        now = self.clock.now() if now is None else now
        jobs: dict[str, list[S3Object]] = {}
        for obj in await self.client.list(f"{self.prefix}job-"):
            folder = obj.key[len(self.prefix) :].partition("/")[0]
            jobs.setdefault(folder, []).append(obj)
        removed = freed = 0
        for objects in jobs.values():
            if now - max(o.modified for o in objects) < retention:
                continue
            for obj in sorted(objects, key=lambda o: not o.key.endswith(MANIFEST)):
                await self.client.delete(obj.key)  # manifests first: a half-deleted
                freed += obj.size  # album is no longer listed, never a broken one
            removed += 1
        self._manifests.clear()
        return removed, freed

    async def remove(self, job_id: int) -> None:
        objects = await self.client.list(self._key(job_id, ""))
        for obj in sorted(objects, key=lambda o: not o.key.endswith(MANIFEST)):
            await self.client.delete(obj.key)  # manifests first, as in sweep
        self._manifests.clear()

    async def used_bytes(self) -> int:
        if self._used is None or self.clock.monotonic() - self._used[0] > USED_FRESH:
            total = sum(o.size for o in await self.client.list(f"{self.prefix}job-"))
            self._used = (self.clock.monotonic(), total)
        return self._used[1]

    async def check(self) -> str:
        await self.client.check()
        target = self.client.target
        host = urllib.parse.urlsplit(target.endpoint).netloc
        return f"S3 bucket {target.bucket} at {host} answers"

    async def close(self) -> None:
        await self.client.close()
