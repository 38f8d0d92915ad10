"""Uploads that survive a dropped connection: the file is sent in pieces, each with a
``Content-Range``, and a client that lost its connection asks where to go on.

``POST /api/v1/uploads {name, size}`` makes one; ``PUT`` with ``Content-Range: bytes
START-END/SIZE`` appends a piece that must start where the file ends now (else
``upload.offset`` with the offset to resume from); ``GET`` says the offset. Pieces stream
to disk (never held in memory) under ``<data_dir>/uploads/<id>/``, with the name
sanitised. A finished upload becomes a job's input, read from where it lies.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ferryman.clock import SYSTEM
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name

_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    name: str
    size: int
    offset: int
    path: Path

    @property
    def done(self) -> bool:
        return self.offset >= self.size

    def view(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "offset": self.offset,
            "done": self.done,
        }


class Uploads:
    def __init__(self, root: Path, max_size: int) -> None:
        self.root = root
        self.max_size = max_size

    def create(self, name: str, size: int) -> Upload:
        if size < 0:
            raise FerrymanError("request.invalid", "size must not be negative")
        if self.max_size and size > self.max_size:
            raise FerrymanError(
                "upload.too_large", f"{size} bytes is over web.max_upload ({self.max_size})"
            )
        upload_id = secrets.token_urlsafe(18)
        folder = self.root / upload_id
        folder.mkdir(parents=True)
        clean = safe_name(Path(name.replace("\\", "/")).name, "upload")
        (folder / "upload.json").write_text(json.dumps({"name": clean, "size": size}))
        (folder / clean).touch()
        return self.get(upload_id)

    def get(self, upload_id: str) -> Upload:
        if not _ID.match(upload_id):
            raise FerrymanError("upload.not_found", "no such upload")
        folder = self.root / upload_id
        try:
            meta = json.loads((folder / "upload.json").read_text())
        except (OSError, ValueError):
            raise FerrymanError("upload.not_found", f"no upload {upload_id}") from None
        path = folder / meta["name"]
        offset = path.stat().st_size if path.exists() else 0
        return Upload(upload_id, meta["name"], int(meta["size"]), offset, path)

    async def append(
        self, upload_id: str, content_range: str | None, body: AsyncIterator[bytes]
    ) -> Upload:
        """Write one piece; it must start at the current offset and stay in the size."""

        upload = self.get(upload_id)
        if content_range is None:
            start, end, total = 0, upload.size - 1, upload.size
        else:
            found = _RANGE.match(content_range.strip())
            if found is None:
                raise FerrymanError(
                    "request.invalid", "Content-Range must be 'bytes START-END/SIZE'"
                )
            start, end, total = (int(g) for g in found.groups())
        if total != upload.size or end < start or end >= total:
            raise FerrymanError("request.invalid", f"the range does not fit {upload.size} bytes")
        if start != upload.offset:
            raise FerrymanError(
                "upload.offset", f"the upload is at byte {upload.offset}, not {start}"
            )
        expected = end - start + 1
        written = 0
        handle = await asyncio.to_thread(open, upload.path, "ab")
        try:
            async for block in body:
                if written + len(block) > expected:
                    block = block[: expected - written]
                await asyncio.to_thread(handle.write, block)
                written += len(block)
                if written >= expected:
                    break
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        finally:
            handle.close()
        return self.get(upload_id)

    def sweep(
        self, older_than: float, now: float | None = None, *, abandoned: float | None = None
    ) -> int:
        """Delete uploads untouched for ``older_than`` seconds (one whose job has long
        ended), and unfinished ones untouched for ``abandoned`` (``web.upload_expiry``:
        the page was left mid-file, its bytes would lie there for good); how many went."""

        now = SYSTEM.now() if now is None else now
        gone = 0
        if not self.root.is_dir():
            return 0
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            newest = max((p.stat().st_mtime for p in folder.iterdir()), default=0.0)
            limit = older_than
            if abandoned is not None and not self._finished(folder):
                limit = min(limit, abandoned)
            if now - max(newest, folder.stat().st_mtime) > limit:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        return gone

    def _finished(self, folder: Path) -> bool:
        """All its bytes arrived (a job may read it); a folder unreadable as an upload
        counts as unfinished: nothing could read it."""
        try:
            return self.get(folder.name).done
        except (FerrymanError, OSError, KeyError, ValueError):
            return False

    def remove(self, upload_id: str) -> None:
        """Delete an upload that no job took (its job was refused)."""

        shutil.rmtree(self.get(upload_id).path.parent, ignore_errors=True)

    def remove_source(self, source: Path) -> bool:
        """Delete the upload a removed job read from, when its input was one."""

        folder = source.parent
        if folder.parent.resolve() != self.root.resolve() or not _ID.match(folder.name):
            return False  # a link, or a file elsewhere: not ours to delete
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def finished(self, upload_id: str) -> Upload:
        upload = self.get(upload_id)
        if not upload.done:
            raise FerrymanError(
                "upload.incomplete", f"{upload.name}: {upload.offset} of {upload.size} bytes"
            )
        return upload
