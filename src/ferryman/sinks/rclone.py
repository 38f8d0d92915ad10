"""``rclone:REMOTE:path``: albums put on any remote rclone reaches (Google Drive, OneDrive,
an SFTP box, a NAS share, S3…), through ``net/rclone`` (``rclone rcd``, driven by its API).

Files keep their input's folders under one named after the job
(``REMOTE:path/trip/Day 1/a.jpg``), byte for byte, as a library keeps them. Exactly
once across kills: each file's name on the remote is chosen and recorded
(``SinkState.claim``) before its copy starts, so a repeat writes the same object, never
a second one; a name already holding the same bytes (size and every hash both ends
know) is "already there" and nothing is copied; a name another file holds is left alone
and the file takes a free one (``a (1).jpg``). After each copy the object is read back
(its size and hashes) before the album is said to be there.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.model import Item, SinkRecord
from ferryman.naming import delivered_name, zip_member
from ferryman.net.rclone import Rclone, hashes_of, remote_fs, shared_rclone
from ferryman.sinks.base import Delivered, Delivery, Sink, SinkState, Tally

_KEY = "put:"
FREE_NAMES = 1000  # "a (1).jpg" … tried at most
_HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def _local_hash(path: Path, kind: str) -> str:
    """The file's hash of ``kind``, in one read. Blocking."""
    made = _HASHES[kind]()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            made.update(block)
    return made.hexdigest()


class RcloneSink(Sink):
    def __init__(self, rclone: Rclone, state: SinkState, target: str) -> None:
        self.rclone = rclone
        self.state = state
        self.fs = remote_fs(target)  # the destination folder; files named inside it

    async def deliver(self, delivery: Delivery) -> Delivered:
        job = delivery.job
        folder = safe_name(job.name, f"job-{job.id}")
        files = [
            (item, part, Path(path))
            for item in delivery.album.items
            for part, path in enumerate(item.files)
        ]
        if not files:
            raise FerrymanError("engine.internal", "an album with no file to deliver")
        sizes = await asyncio.to_thread(
            lambda: {(it.id, part): p.stat().st_size for it, part, p in files}
        )
        tally = delivery.tally(sizes)
        kind = await self._hash_kind()
        for item, part, path in files:
            name = delivered_name(item, part + 1 if item.parts else None)
            placed = zip_member(item.source_path, name)
            # An input wrapped in one folder is named after it: not ``trip/trip/a.jpg``.
            wanted = placed if placed.split("/")[0] == folder else f"{folder}/{placed}"
            size = sizes[(item.id, part)]
            digest = await self._digest(item, part, path, kind)
            await self._put(job.id, item, part, path, wanted, (size, kind, digest), tally)
            tally.whole((item.id, part))
        return Delivered(f"rclone:{self.fs.rstrip('/')}/{folder}")

    async def _hash_kind(self) -> str | None:
        """The strongest hash both rclone's backend there and this side make, if any."""
        theirs = {k.lower() for k in await self.rclone.hash_types(self.fs)}
        return next((k for k in ("sha256", "sha1", "md5") if k in theirs), None)

    async def _digest(self, item: Item, part: int, path: Path, kind: str | None) -> str | None:
        if kind is None:
            return None
        if kind == "sha256" and item.sha256 and not item.parts:
            return item.sha256  # staged and hashed already
        return await asyncio.to_thread(_local_hash, path, kind)

    async def _put(
        self,
        job_id: int,
        item: Item,
        part: int,
        path: Path,
        wanted: str,
        facts: _Facts,
        tally: Tally,
    ) -> str:
        """The file at its recorded name (chosen once), copied unless the same bytes are
        there already, and read back; the name it holds."""
        record_key = f"{_KEY}{item.id}:{part}"
        records = await self.state.records(job_id, item_id=item.id)
        mine = next((r for r in records if r.key == record_key), None)
        if mine is None:
            name = await self._free_name(wanted, facts)
            record = SinkRecord(record_key, {"name": name}, item_id=item.id)
            mine = (await self.state.claim(job_id, [record]))[0]
        name = str(mine.value["name"])
        there = await self.rclone.stat(self.fs, name)
        if there is None or not _same(there, facts):
            key = (item.id, part)
            await self.rclone.copy_file(path, self.fs, name, lambda done: tally.sent(key, done))
            there = await self.rclone.stat(self.fs, name)
            if there is None or not _same(there, facts):
                raise FerrymanError(
                    "rclone.failed",
                    f"{self.fs}/{name} does not hold the bytes sent (read back after the copy)",
                )
        return name

    async def _free_name(self, wanted: str, facts: _Facts) -> str:
        """``wanted``, if free or holding these very bytes; else ``stem (N).suffix``."""
        stem, suffix = _split(wanted)
        for n in range(FREE_NAMES):
            name = wanted if n == 0 else f"{stem} ({n}){suffix}"
            there = await self.rclone.stat(self.fs, name)
            if there is None or _same(there, facts):
                return name
        raise FerrymanError("rclone.failed", f"no free name for {wanted} on {self.fs}")


_Facts = tuple[int, str | None, str | None]  # size, hash kind, digest


def _same(item: dict[str, Any], facts: _Facts) -> bool:
    """Whether a remote object holds these bytes: its size, and the hash both know."""
    size, kind, digest = facts
    if int(item.get("Size", -1)) != size:
        return False
    if kind is None or digest is None:
        return True
    theirs = {k.lower(): v.lower() for k, v in hashes_of(item).items()}
    return theirs.get(kind) == digest.lower()


def _split(name: str) -> tuple[str, str]:
    path = PurePosixPath(name)
    suffix = path.suffix if path.stem else ""
    return name[: len(name) - len(suffix)], suffix


__all__ = ["RcloneSink", "shared_rclone"]
