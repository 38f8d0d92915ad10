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
import contextlib
import functools
import hashlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
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
COPIES_AT_ONCE = 4  # an album's files copied at once (rclone's own --transfers)
WATCHED = 8 << 20  # a file this big is copied as an rc job (a cancel stops it in rclone)
_HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def _local_hash(path: Path, kind: str) -> str:
    """The file's hash of ``kind``, in one read. Blocking."""
    made = _HASHES[kind]()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            made.update(block)
    return made.hexdigest()


class RcloneSink(Sink):
    # The copies are the preparation: the next albums' files go while this one's
    # record is written (``engine/deliver/lookahead``), so the link never waits on it.
    prepares = True
    # More than the engine's own look-ahead: the albums ahead are claimed as they are
    # sealed, beside this one's copy (not once it is recorded), so their names and links
    # are made meanwhile and the next copy starts as this one's ends (``sending``); this
    # one is read back and recorded as the next copies.
    prepares_at_once = 4

    def __init__(
        self, rclone: Rclone, state: SinkState, target: str, work: Path | None = None
    ) -> None:
        self.rclone = rclone
        self.work = work  # the work area: an album's files linked there go in one copy
        self.state = state
        self.fs = remote_fs(target)  # the destination folder; files named inside it
        self._kind: tuple[str] | None = None  # the hash both ends make ("": none)
        self._choosing: set[tuple[str, str]] = set()  # names taken while an album's are chosen

    def warm(self) -> None:
        self.rclone.warm(self.fs)

    async def prepare(self, delivery: Delivery) -> Mapping[int, str]:
        """The album's files copied and read back ahead of its turn (safe to repeat:
        ``deliver`` finds them checked)."""
        await self._send(delivery)
        return {}

    async def deliver(self, delivery: Delivery) -> Delivered:
        folder = await self._send(delivery)
        return Delivered(f"rclone:{self.fs.rstrip('/')}/{folder}")

    async def _send(self, delivery: Delivery) -> str:
        """Every file of the album on the remote, read back, and recorded so; the job's
        folder there."""
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
        kept = {r.key: r for r in await self.state.records(job.id)}  # one read an album
        facts: dict[tuple[int, int], _Facts] = {}
        todo: list[tuple[Item, int, Path, str]] = []
        for item, part, path in files:
            mine = kept.get(_key(item.id, part))
            if mine is not None and _checked(mine.value, item, sizes[(item.id, part)], kind):
                tally.whole((item.id, part))  # copied and read back before (its prepare)
                continue
            digest = await self._digest(item, part, path, kind)
            facts[(item.id, part)] = (sizes[(item.id, part)], kind, digest)
            if mine is not None and mine.value.get("checked") == list(facts[(item.id, part)]):
                tally.whole((item.id, part))  # a part of a split video: told by its digest
                continue
            name = delivered_name(item, part + 1 if item.parts else None)
            placed = zip_member(item.source_path, name)
            # An input wrapped in one folder is named after it: not ``trip/trip/a.jpg``.
            wanted = placed if placed.split("/")[0] == folder else f"{folder}/{placed}"
            todo.append((item, part, path, wanted))
        if not todo:
            return folder
        lock = self.rclone.naming.setdefault(self.fs, asyncio.Lock())
        async with lock:  # an album's names chosen and recorded before any copy
            try:
                planned = await self._names(job.id, todo, facts, kept)
            finally:  # a name chosen but not recorded (a failure meanwhile) is free again
                self.rclone.writing.difference_update(self._choosing)
                self._choosing.clear()
            self.rclone.writing.update((self.fs, n) for _, _, n, _ in planned)
        try:
            await self._copies(planned, facts, tally)
        finally:
            self.rclone.writing.difference_update((self.fs, n) for _, _, n, _ in planned)
        checked = [
            SinkRecord(
                _key(item.id, part),
                {"name": name, "checked": list(facts[(item.id, part)]), "sha256": item.sha256}
                | ({"already": True} if seen == "same" else {}),  # the run says "already there"
                item_id=item.id,
            )
            for item, part, name, seen in planned
        ]
        await self.state.put(job.id, checked)  # one transaction: the album is there
        return folder

    async def _names(
        self,
        job_id: int,
        todo: list[tuple[Item, int, Path, str]],
        facts: dict[tuple[int, int], _Facts],
        kept: dict[str, SinkRecord],
    ) -> list[tuple[Item, int, str, str]]:
        """Each file's name on the remote and what is known of it there: as recorded
        (chosen before a kill: "recorded", looked at before the copy), else the first of
        ``wanted``, ``stem (1).suffix``… that is free ("free") or holds these very bytes
        ("same"), all recorded now in one transaction (the first writer wins). The
        folders are listed once each (a name per stat made ten round trips an album)."""
        planned: list[tuple[Item, int, str, str]] = []
        fresh: list[tuple[Item, int, str, str]] = []
        listed: dict[str, dict[str, dict[str, Any]]] = {}
        for item, part, _, wanted in todo:
            mine = kept.get(_key(item.id, part))
            if mine is not None:
                planned.append((item, part, str(mine.value["name"]), "recorded"))
                continue
            parent = wanted.rpartition("/")[0]
            if parent not in listed:
                listed[parent] = {
                    str(i.get("Path")): i for i in await self.rclone.listing(self.fs, parent)
                }
            name, seen = await self._free_name(wanted, facts[(item.id, part)], listed[parent])
            self._choosing.add((self.fs, name))
            self.rclone.writing.add((self.fs, name))
            fresh.append((item, part, name, seen))
        records = [
            SinkRecord(_key(it.id, part), {"name": n}, item_id=it.id) for it, part, n, _ in fresh
        ]
        stored = await self.state.claim(job_id, records) if records else []
        for (item, part, name, seen), mine in zip(fresh, stored, strict=True):
            if str(mine.value["name"]) != name:  # another run recorded first
                planned.append((item, part, str(mine.value["name"]), "recorded"))
            else:
                planned.append((item, part, name, seen))
        return planned

    async def _copies(
        self,
        planned: list[tuple[Item, int, str, str]],
        facts: dict[tuple[int, int], _Facts],
        tally: Tally,
    ) -> None:
        """The album's copies, a few at once as rclone's own do, counted in one stats
        group of rclone's: the album's progress and speed are rclone's own numbers."""
        paths = {(it.id, part): Path(it.files[part]) for it, part, _, _ in planned}
        group = f"ferryman-{secrets.token_hex(6)}"
        gate = asyncio.Semaphore(COPIES_AT_ONCE)
        skipped: dict[tuple[int, int], int] = {}

        async def put(key: tuple[int, int], name: str, seen: str) -> None:
            async with gate:
                if seen != "same":  # "same": these bytes are there already
                    await self._put(paths[key], name, facts[key], group, look=seen == "recorded")
                else:
                    skipped[key] = facts[key][0]
                    tally.sent("there", sum(skipped.values()))

        turn = self.rclone.sending.setdefault(self.fs, asyncio.Lock())

        @contextlib.asynccontextmanager
        async def copying() -> AsyncIterator[None]:
            # The album's turn to copy, its stats followed while it lasts: an album
            # prepared ahead, waiting its turn, or one being read back asks rclone nothing.
            async with turn:
                told = functools.partial(tally.sent, "copied")
                watching = asyncio.ensure_future(self.rclone.follow_stats(group, told))
                try:
                    yield
                finally:
                    watching.cancel()
                    await asyncio.gather(watching, return_exceptions=True)
                with contextlib.suppress(FerrymanError):  # copied: its bytes told as they are
                    told(int((await self.rclone.stats(group)).get("bytes") or 0))

        sending = [
            (paths[(it.id, part)], name, facts[(it.id, part)][2])
            for it, part, name, seen in planned
            if seen != "same"
        ]
        linked = None
        if (
            self.work is not None
            and len(sending) > 1
            and all(facts[key][0] < WATCHED for key in paths)
        ):
            linked = await asyncio.to_thread(_linked, self.work, sending)
        try:
            if linked is not None:  # the album's files in one copy and one check
                for key, (_, _, _, seen) in zip(paths, planned, strict=True):
                    if seen == "same":
                        skipped[key] = facts[key][0]
                tally.sent("there", sum(skipped.values()))
                kind = next(iter(facts.values()))[1]
                await self._batch(
                    linked[0], summed=linked[1], kind=kind, group=group, copying=copying()
                )
            else:
                async with copying():
                    await _all(put((it.id, part), name, seen) for it, part, name, seen in planned)
        finally:
            if linked is not None:
                await asyncio.to_thread(shutil.rmtree, linked[0], True)
            await self.rclone.forget_stats(group)
        for key in paths:
            tally.whole(key)

    async def _batch(
        self,
        tree: Path,
        *,
        summed: bool,
        kind: str | None,
        group: str,
        copying: contextlib.AbstractAsyncContextManager[None] | None = None,
    ) -> None:
        """The files linked under ``tree`` (``_linked``) copied in one ``sync/copy``
        (rclone's own transfers at once; each named object looked up, the folder not
        listed; a name already holding the same size and hash left), then read back in
        one ``operations/check``: each object's hash against the one known here (a SUM
        file of them: the work area's copies are not read again), else its size and a
        hash both ends make. Where a hash is read back, rclone's own check of each
        transfer (both ends hashed again) is left out: the read-back holds the copy's
        slot no longer, and the next album copies as it runs."""
        common: dict[str, Any] = {
            "srcFs": str(tree / "files"),
            "dstFs": self.fs,
            "_filter": {"FilesFromRaw": [str(tree / "names")]},
        }
        # The copy's turn (``_copies``), over once it is copied: the next album copies as
        # this one is read back.
        async with copying or contextlib.nullcontext():
            await self.rclone.call(
                "sync/copy",
                **common,
                _group=group,
                _config={
                    "NoTraverse": True,
                    "CheckSum": bool(kind),
                    # rclone's own hashing of both ends after each transfer is left to
                    # the read-back below (a copy's slot stood idle as it hashed).
                    "IgnoreChecksum": bool(kind),
                    "Transfers": COPIES_AT_ONCE,
                },
            )
        if kind is not None and summed:  # only the remote's side hashed
            checked = await self.rclone.call(
                "operations/check",
                dstFs=self.fs,
                _filter=common["_filter"],
                checkFileHash=kind,
                checkFileFs=str(tree),
                checkFileRemote="sums",
                oneWay=True,
            )
        else:
            checked = await self.rclone.call("operations/check", **common, oneWay=True)
        if not checked.get("success"):
            wrong = [*checked.get("differ", []), *checked.get("missingOnDst", [])]
            raise FerrymanError(
                "rclone.failed",
                f"{self.fs}: {', '.join(map(str, wrong[:3])) or checked.get('status')} does not"
                " hold the bytes sent (read back after the copy)",
            )

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

    async def _put(self, path: Path, name: str, facts: _Facts, group: str, *, look: bool) -> None:
        """The file at ``name``: copied unless the same bytes are there already (looked
        at first when ``look``: a name recorded before a kill), then read back (size and
        hash) before it counts."""
        if look:
            there = await self.rclone.stat(self.fs, name, facts[1])
            if there is not None and _same(there, facts):
                return
        await self.rclone.copy_file(path, self.fs, name, watch=facts[0] >= WATCHED, group=group)
        there = await self.rclone.stat(self.fs, name, facts[1])
        if there is None or not _same(there, facts):
            raise FerrymanError(
                "rclone.failed",
                f"{self.fs}/{name} does not hold the bytes sent (read back after the copy)",
            )

    async def _free_name(
        self, wanted: str, facts: _Facts, listed: dict[str, dict[str, Any]]
    ) -> tuple[str, str]:
        """``wanted``, if free or holding these very bytes; else ``stem (N).suffix``;
        with "free" or "same". ``listed``: its folder's objects by path (sizes, no
        hash made); a name another album here is writing is not free."""
        stem, suffix = _split(wanted)
        for n in range(FREE_NAMES):
            name = wanted if n == 0 else f"{stem} ({n}){suffix}"
            if (self.fs, name) in self.rclone.writing:
                continue
            there = listed.get(name)
            if there is None:
                return name, "free"
            if there.get("IsDir") or int(there.get("Size", -1)) != facts[0]:
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


def _checked(value: Mapping[str, Any], item: Item, size: int, kind: str | None) -> bool:
    """Whether a record says this very file was copied and read back: its size and hash
    kind as now, and the item's sha256 as then (its bytes are the staged ones: not
    hashed again for a remote's other kind of hash)."""
    checked = value.get("checked")
    if not isinstance(checked, list) or len(checked) != 3:
        return False
    if checked[0] != size or checked[1] != kind:
        return False
    if item.sha256 is not None and not item.parts:
        return bool(value.get("sha256") == item.sha256)
    return False  # no hash of its own to tell it by: its digest is made and compared


def _linked(work: Path, sending: list[tuple[Path, str, str | None]]) -> tuple[Path, bool] | None:
    """The album's files hard-linked under a folder of the work area by their names on
    the remote, with the list of those names (rclone's ``--files-from-raw``) and, where
    each file's digest is known, a SUM file of them; None where a file cannot be
    linked there (another file system, a name this one cannot hold): they go one by
    one. Blocking. The folder, and whether it holds a SUM file."""
    tree = work / f".rclone-{secrets.token_hex(6)}"
    try:
        for path, name, _ in sending:
            if "\n" in name or "\r" in name:
                raise OSError("a name no list of names can hold")
            linked = tree / "files" / name
            linked.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, linked)
        (tree / "names").write_text("".join(f"{name}\n" for _, name, _ in sending), "utf-8")
        summed = all(digest and "\\" not in name for _, name, digest in sending)
        if summed:
            sums = "".join(f"{digest}  {name}\n" for _, name, digest in sending)
            (tree / "sums").write_text(sums, "utf-8")
    except (OSError, ValueError):
        shutil.rmtree(tree, ignore_errors=True)
        return None
    return tree, summed


def _key(item_id: int, part: int) -> str:
    return f"{_KEY}{item_id}:{part}"


def _split(name: str) -> tuple[str, str]:
    path = PurePosixPath(name)
    suffix = path.suffix if path.stem else ""
    return name[: len(name) - len(suffix)], suffix


__all__ = ["RcloneSink", "shared_rclone"]
