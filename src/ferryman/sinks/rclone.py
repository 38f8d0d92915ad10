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
import functools
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.model import Item, SinkRecord
from ferryman.naming import delivered_name, zip_member
from ferryman.net.rclone import Rclone, hashes_of, remote_fs, shared_rclone
from ferryman.sinks.base import Delivered, Delivery, Sink, SinkState

_KEY = "put:"
FREE_NAMES = 1000  # "a (1).jpg" … tried at most
COPIES_AT_ONCE = 4  # an album's files copied at once (rclone's own --transfers)
WATCHED = 8 << 20  # a file this big is copied as an rc job, its progress polled
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
        self._kind: tuple[str] | None = None  # the hash both ends make ("": none)

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
        # Names first, one after the other (two files never pick one free name), each
        # recorded before any copy; then the copies, a few at once as rclone's own do.
        planned: list[tuple[Path, str, _Facts, tuple[int, int], str]] = []
        taken: set[str] = set()
        kept = {r.key: r for r in await self.state.records(job.id)}  # one read an album
        for item, part, path in files:
            name = delivered_name(item, part + 1 if item.parts else None)
            placed = zip_member(item.source_path, name)
            # An input wrapped in one folder is named after it: not ``trip/trip/a.jpg``.
            wanted = placed if placed.split("/")[0] == folder else f"{folder}/{placed}"
            facts = (sizes[(item.id, part)], kind, await self._digest(item, part, path, kind))
            chosen, seen = await self._name(job.id, item, part, wanted, facts, taken, kept)
            taken.add(chosen)
            planned.append((path, chosen, facts, (item.id, part), seen))
        gate = asyncio.Semaphore(COPIES_AT_ONCE)

        async def put(
            path: Path, name: str, facts: _Facts, key: tuple[int, int], seen: str
        ) -> None:
            async with gate:
                if seen != "same":  # "same": these bytes are there already
                    progress = functools.partial(tally.sent, key)
                    await self._put(path, name, facts, progress, look=seen == "recorded")
                tally.whole(key)

        await _all(put(*one) for one in planned)
        return Delivered(f"rclone:{self.fs.rstrip('/')}/{folder}")

    async def _hash_kind(self) -> str | None:
        """The strongest hash both rclone's backend there and this side make, if any
        (asked once a sink)."""
        if self._kind is None:
            theirs = {k.lower() for k in await self.rclone.hash_types(self.fs)}
            self._kind = (next((k for k in ("sha256", "sha1", "md5") if k in theirs), ""),)
        return self._kind[0] or None

    async def _digest(self, item: Item, part: int, path: Path, kind: str | None) -> str | None:
        if kind is None:
            return None
        if kind == "sha256" and item.sha256 and not item.parts:
            return item.sha256  # staged and hashed already
        return await asyncio.to_thread(_local_hash, path, kind)

    async def _name(
        self,
        job_id: int,
        item: Item,
        part: int,
        wanted: str,
        facts: _Facts,
        taken: set[str],
        kept: dict[str, SinkRecord],
    ) -> tuple[str, str]:
        """The file's name on the remote and what is known of it there: as recorded
        (chosen before a kill: "recorded", looked at before the copy), else the first of
        ``wanted``, ``stem (1).suffix``… that is free ("free") or holds these very bytes
        ("same"), recorded now (the first writer wins)."""
        record_key = f"{_KEY}{item.id}:{part}"
        mine = kept.get(record_key)
        if mine is not None:
            return str(mine.value["name"]), "recorded"
        name, seen = await self._free_name(wanted, facts, taken)
        record = SinkRecord(record_key, {"name": name}, item_id=item.id)
        mine = (await self.state.claim(job_id, [record]))[0]
        if str(mine.value["name"]) != name:  # another run recorded first
            return str(mine.value["name"]), "recorded"
        return name, seen

    async def _put(
        self,
        path: Path,
        name: str,
        facts: _Facts,
        progress: Callable[[int], None],
        *,
        look: bool,
    ) -> None:
        """The file at ``name``: copied unless the same bytes are there already (looked
        at first when ``look``: a name recorded before a kill), then read back (size and
        hash) before it counts."""
        if look:
            there = await self.rclone.stat(self.fs, name, facts[1])
            if there is not None and _same(there, facts):
                return
        await self.rclone.copy_file(path, self.fs, name, progress, watch=facts[0] >= WATCHED)
        there = await self.rclone.stat(self.fs, name, facts[1])
        if there is None or not _same(there, facts):
            raise FerrymanError(
                "rclone.failed",
                f"{self.fs}/{name} does not hold the bytes sent (read back after the copy)",
            )

    async def _free_name(self, wanted: str, facts: _Facts, taken: set[str]) -> tuple[str, str]:
        """``wanted``, if free or holding these very bytes; else ``stem (N).suffix``;
        with "free" or "same"."""
        stem, suffix = _split(wanted)
        for n in range(FREE_NAMES):
            name = wanted if n == 0 else f"{stem} ({n}){suffix}"
            if name in taken:
                continue
            there = await self.rclone.stat(self.fs, name)  # its size first: no hash made
            if there is None:
                return name, "free"
            if int(there.get("Size", -1)) != facts[0]:
                continue
            there = await self.rclone.stat(self.fs, name, facts[1])
            if there is not None and _same(there, facts):
                return name, "same"
        raise FerrymanError("rclone.failed", f"no free name for {wanted} on {self.fs}")


async def _all(calls: Iterable[Awaitable[None]]) -> None:
    """Every call; the first failure cancels the rest and is raised."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
