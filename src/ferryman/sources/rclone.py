"""``rclone:REMOTE:path`` as an input: a file (an archive, a video) or a folder on any
remote of the person's rclone.conf, fetched through ``rclone rcd`` (``net/rclone``) into
the job's work area, then read as a local input.

Fetched first, as a Telegram message's file is: rclone copies into the fetch folder
(a file with ``operations/copyfile``, a folder with ``sync/copy``), its progress from
rclone's own stats; a file already there whole (its size as the remote says) is not
copied again after a restart. The disk room the input needs is asked before the copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError
from ferryman.sources import ready
from ferryman.sources.base import (
    Access,
    Fetched,
    FetchPlan,
    Inspection,
    ReadOptions,
    SourceEntry,
)

if TYPE_CHECKING:
    from ferryman.net.rclone import Rclone


def _parts(uri: str) -> tuple[str, str, str]:
    """(the parent folder's ``fs``, the leaf's name, the leaf's own ``fs``); the remote
    part as typed (a connection string too: ``net/rclone_path``), for rclone to read."""
    from ferryman.net.rclone_path import parse_remote

    if not uri.startswith("rclone:"):
        raise FerrymanError("source.invalid", f"'{uri}' is not rclone:REMOTE:path")
    found = parse_remote(uri.removeprefix("rclone:"), "source.invalid", "rclone input")
    path = found.path.rstrip("/")
    leaf = PurePosixPath(path).name
    if not leaf:
        raise FerrymanError(
            "source.invalid", f"'{uri}' names a remote's root: name a file or folder in it"
        )
    parent = path[: len(path) - len(leaf)].rstrip("/") or ("/" if path.startswith("/") else "")
    return found.fs(parent), leaf, found.fs(path)


class RcloneSource:
    """A file or folder on an rclone remote."""

    schemes: tuple[str, ...] = ("rclone",)
    description = (
        "rclone:REMOTE:path: a file or folder on a remote of your rclone.conf (or an rclone"
        " connection string: REMOTE,key=value:path, :backend,key=value:path)"
    )
    shown_as = "rclone:REMOTE:path"
    access = Access.FETCH

    def recognise(self, raw: str) -> str | None:
        if not raw.startswith("rclone:"):
            return None
        _parts(raw)  # refused now, not when fetched
        return raw

    check_ready = ready.rclone  # rclone and the remote: refused when added without them

    def describe(self, uri: str) -> str:
        """As typed, a connection string's secret values hidden (``pass=***``)."""
        from ferryman.net.rclone_path import shown_dest  # light: re alone

        return shown_dest(uri)

    def local_path(self, uri: str) -> None:
        return None  # the fetched copy is the engine's (ReadOptions.fetched)

    def inspect(self, uri: str) -> Inspection:
        """Offline: named after the file or folder; the same path is the same input, and
        a part of a set (``x.7z.002``, ``takeout-…-002.zip``) is its set's, named and
        known by its first part's name: it is fetched and read with its set."""
        _, given, _ = _parts(uri)
        leaf = first_part_name(given)
        ident = uri.rstrip("/")
        ident = ident[: len(ident) - len(given)] + leaf
        stem = leaf
        for suffix in (".zip", ".tar", ".7z", ".rar"):
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
        return Inspection(stem or leaf, ident)

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        import asyncio  # lazy: `ferryman add` imports the sources, not the event loop

        from ferryman.net.rclone import for_config, shared_rclone  # lazy: start-up (httpx)
        from ferryman.net.rclone_conf import config_for

        settings = plan.settings or (plan.shared.settings if plan.shared else None)
        if settings is None:
            raise FerrymanError("engine.internal", f"{uri}: fetched without settings")
        if plan.person is not None:  # a person's: a remote of their own file, never more
            from ferryman.net.rclone_path import refuse_for_person

            refuse_for_person([uri])
        # The job's person's own rclone.conf (``rclone.no_conf`` if they have none).
        config = await asyncio.to_thread(config_for, settings, plan.person)
        if plan.shared is not None:
            return await _fetch(shared_rclone(plan.shared, config), uri, plan)
        rclone = for_config(settings, config)  # no engine to share one with
        try:
            return await _fetch(rclone, uri, plan)
        finally:
            await rclone.close()

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        from ferryman.sources.local import iter_local

        if options.fetched is None:
            raise FerrymanError("engine.internal", f"{uri}: read before it was fetched")
        with iter_local(options.fetched, options) as entries:
            yield entries


async def _fetch(rclone: Rclone, uri: str, plan: FetchPlan) -> Fetched:
    from ferryman.net.progress import DownloadProgress

    parent, leaf, own = _parts(uri)
    found = await rclone.stat(parent, leaf)
    if found is None:
        raise FerrymanError("source.not_found", f"{uri}: no such file or folder on the remote")
    into = plan.folder / leaf
    began = time.monotonic()

    def told(total: int | None) -> Callable[[int], None]:
        def progress(done: int) -> None:
            if plan.on_progress is None:
                return
            speed = done / max(time.monotonic() - began, 1e-3)
            left = (total - done) / speed if total and speed > 0 else None
            plan.on_progress(DownloadProgress(done, total, speed, left, 0))

        return progress

    if found.get("IsDir"):
        listed = await rclone.call(
            "operations/list", fs=own, remote="", opt={"recurse": True, "filesOnly": True}
        )
        total = sum(int(f.get("Size") or 0) for f in listed.get("list") or [])
        if plan.wait_to_write is not None:
            await plan.wait_to_write(total)
        await rclone.run_job("sync/copy", {"srcFs": own, "dstFs": str(into)}, told(total))
        return Fetched(into, total, leaf)
    sizes = {leaf: int(found.get("Size") or 0)}
    if in_a_set(leaf) and not plan.alone:
        # A part of a set (``x.7z.002``, ``takeout-…-001.zip``) is read with its set, as
        # on this machine: the other parts beside it are fetched beside it.
        files = await rclone.listing(parent, "", filesOnly=True)
        there = {str(f.get("Name") or ""): int(f.get("Size") or 0) for f in files}
        sizes |= {n: there[n] for n in set_names(leaf, there) if n in there}
    todo = {
        name: size
        for name, size in sizes.items()
        if not ((plan.folder / name).is_file() and (plan.folder / name).stat().st_size == size)
    }
    if todo and plan.wait_to_write is not None:
        await plan.wait_to_write(sum(todo.values()))
    progress, done = told(sum(todo.values())), 0

    def after(before: int) -> Callable[[int], None]:  # one part's bytes, after the others'
        return lambda moved: progress(before + moved)

    for name, size in todo.items():
        await rclone.run_job(
            "operations/copyfile",
            {"srcFs": parent, "srcRemote": name, "dstFs": str(plan.folder), "dstRemote": name},
            after(done),
        )
        done += size
    return Fetched(into, sum(sizes.values()), leaf)


def first_part_name(leaf: str) -> str:
    """The name of the first part of the set a file named ``leaf`` is a part of, by
    name alone; ``leaf`` when it is none."""
    from ferryman.archive.volumes import first_volume_name
    from ferryman.sources.takeout_names import PART

    part = PART.match(leaf)
    if part is None:
        return first_volume_name(leaf)
    return f"{part.group('set')}-{1:0{len(part.group('num'))}d}.{part.group('ext')}"


def in_a_set(leaf: str) -> bool:
    """Whether a file of this name may be a part of a set (``set_names``)."""
    from ferryman.archive.volumes import may_be_volume
    from ferryman.sources.takeout_names import PART

    return PART.match(leaf) is not None or may_be_volume(leaf)


def set_names(leaf: str, names: Iterable[str]) -> list[str]:
    """``leaf`` and the names among ``names`` (its folder's files) of the set it is a
    part of: a split archive's volumes, a Google Takeout's numbered parts."""
    from ferryman.archive.volumes import volume_names
    from ferryman.sources.takeout_names import PART, part_key

    part = PART.match(leaf)
    if part is None:
        return volume_names(leaf, names)
    key, digits = part_key(part), len(part.group("num"))
    return [leaf] + [
        n
        for n in names
        if n != leaf
        and (other := PART.match(n)) is not None
        and part_key(other) == key
        and len(other.group("num")) == digits
    ]


__all__ = ["RcloneSource"]
