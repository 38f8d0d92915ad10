"""A folder on an rclone remote (``rclone:REMOTE:path``): its new media files and
archives, each taken once, listed through ``rclone rcd`` (``net/rclone``:
``operations/list``, recursive, with sizes and modification times).

A file's stable id is its content's where the remote keeps a hash of it as metadata
(Drive, OneDrive, S3, Dropbox: the hash listed costs nothing), so a rename or a move
inside the folder is not new; on a remote that would have to read every file to hash
it at each look (the local backend, SFTP: rclone's ``SlowHash``) it is the path with
the size and modification time. A file still being written (modified within
``watch.settle_seconds``, or of another size or time than at the look before) is not
listed yet but named with when to look again (``WatchEntry.ready_at``). Hidden names
are left out. Each new file becomes an ``rclone:REMOTE:path/file`` input (fetched by
``sources/rclone``).

``--then delete`` or ``--then move:REMOTE:folder`` acts on the remote, only once the
file's job delivered it whole (``engine/watch/tidy``), while it is still the delivered
content (looked at again now), and, where the destination can be read back, once a
fresh copy of the remote file is found there byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ferryman.clock import SYSTEM
from ferryman.config import Settings
from ferryman.errors import FerrymanError
from ferryman.net.rclone import Rclone, for_config, hashes_of, shared_rclone
from ferryman.sources.listers.base import WatchEntry
from ferryman.sources.listers.folder import media_or_archive

if TYPE_CHECKING:
    from ferryman.resources import Shared

log = logging.getLogger(__name__)

_FRACTION = re.compile(r"(\.\d{6})\d+")
# Hashes a remote keeps as metadata, strongest first (rclone's names).
_KEPT = ("sha256", "sha1", "md5", "quickxor", "dropbox", "whirlpool", "crc32")


def _fs(source: str) -> str:
    """``rclone:REMOTE:path`` (a connection string too: ``net/rclone_path``) as rclone's
    ``fs`` (``watch.source_unsupported`` if not)."""
    from ferryman.net.rclone_path import parse_remote

    text = source.strip()
    if not text.startswith("rclone:"):
        raise FerrymanError(
            "watch.source_unsupported",
            f"{source}: an rclone watch is rclone:REMOTE:path (a remote of your rclone.conf)",
        )
    found = parse_remote(text.removeprefix("rclone:"), "watch.source_unsupported", "rclone watch")
    return found.fs(found.path.rstrip("/") or found.path)


def modtime(text: object) -> float | None:
    """rclone's ``ModTime`` (RFC 3339, nanoseconds, ``Z`` or an offset) as epoch
    seconds; None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip())).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _version(item: Mapping[str, Any], kind: str | None) -> str:
    """A listed file's id: its content's hash and size where listed, else its path,
    size and whole-second time."""
    size = int(item.get("Size") or 0)
    digest = hashes_of(item).get(kind) if kind else None
    if digest:
        return f"{kind}:{digest.lower()}:{size}"
    return f"{item.get('Path')}#{size}:{int(modtime(item.get('ModTime')) or 0)}"


class RcloneLister:
    kind = "rclone"
    description = "a folder on an rclone remote (rclone:REMOTE:path): its new files, once each"
    changes_in_place = True  # a file replaced at the same path is new content
    read_oldest_first = False

    def __init__(
        self, shared: Shared | None = None, clock: Callable[[], float] = SYSTEM.now
    ) -> None:
        self.shared = shared  # the engine's rclone rcd; None: one of its own for a look
        self.clock = clock
        self._last: dict[tuple[str, str], tuple[int, str]] = {}  # at the look before

    def accepts(self, source: str) -> bool:
        return source.strip().startswith("rclone:")

    def describe(self, source: str) -> str:
        """As typed, a connection string's secret values hidden (``pass=***``)."""
        from ferryman.net.rclone_path import shown_dest  # light: re alone

        return shown_dest(source.strip())

    async def matches(self, source: str, settings: Settings) -> bool:
        return True

    def check_ready(self, settings: Settings, source: str) -> None:
        """rclone, and the remote ``source`` names in the rclone.conf in use."""
        from ferryman.net.rclone_conf import rclone_ready  # lazy: start-up

        rclone_ready(settings, source.strip(), f"watch {source.strip()}")

    @contextlib.asynccontextmanager
    async def _rclone(self, settings: Settings) -> AsyncIterator[Rclone]:
        # ``settings``: the watch's person's (``engine/plumbing/personal``).
        if self.shared is not None:
            yield shared_rclone(self.shared, settings.rclone.config)
            return
        rclone = for_config(settings, settings.rclone.config)
        try:
            yield rclone
        finally:
            await rclone.close()

    async def entries(self, source: str, settings: Settings) -> list[WatchEntry]:
        """The folder's files, newest first; those still being written with their
        ``ready_at``."""
        fs = _fs(source)
        async with self._rclone(settings) as rclone:
            kind = await _kept_hash(rclone, fs)
            opt: dict[str, Any] = {"recurse": True, "filesOnly": True}
            if kind is not None:
                opt |= {"showHash": True, "hashTypes": [kind]}
            try:
                found = await rclone.call("operations/list", fs=fs, remote="", opt=opt)
            except FerrymanError as exc:
                if exc.code == "rclone.not_found":
                    raise FerrymanError(
                        "source.not_found", f"{source}: the watched folder is not there"
                    ) from exc
                raise
        now, settle = self.clock(), settings.watch.settle_seconds
        listed: list[WatchEntry] = []
        for item in found.get("list") or []:
            path = str(item.get("Path") or "")
            if not path or any(p.startswith(".") for p in path.split("/")):
                continue
            if not media_or_archive(PurePosixPath(path).name):
                continue
            when = modtime(item.get("ModTime"))
            look = (int(item.get("Size") or 0), str(item.get("ModTime")))
            before = self._last.get((fs, path))
            self._last[(fs, path)] = look
            ready_at = None
            if when is not None and now - when < settle:
                ready_at = when + settle
            elif before is not None and before != look:  # it changed since the look before
                ready_at = now + max(settle, 1.0)
            listed.append(
                WatchEntry(
                    id=_version(item, kind) if ready_at is None else f"unsettled:{path}",
                    input=f"rclone:{fs.rstrip('/')}/{path}",
                    title=path,
                    published=when,
                    ready_at=ready_at,
                )
            )
        listed.sort(key=lambda e: -(e.published or 0.0))
        return listed

    def checked_after(self, source: str, action: str, settings: Settings, *, remote: bool) -> str:
        """``delete``, or ``move:REMOTE:folder`` (a folder on a remote of the same
        rclone.conf, outside the watched one: a file moved inside it would be listed,
        and moved, again)."""
        word = action.strip()
        if word.lower() == "delete":
            return "delete"
        if word.lower().startswith("move:") and word[5:].strip():
            try:
                target = _fs(f"rclone:{word[5:].strip()}")
            except FerrymanError as exc:
                raise FerrymanError(
                    "watch.bad_then",
                    f"--then '{action}': say delete or move:REMOTE:folder ({exc.message})",
                ) from None
            watched = _fs(source)
            if not _inside(target, watched):
                return f"move:{target}"
            raise FerrymanError(
                "watch.bad_then",
                f"--then {action}: the folder to move to is inside the watched one",
            )
        raise FerrymanError(
            "watch.bad_then", f"--then '{action}': say delete or move:REMOTE:folder"
        )

    async def tidy_after(
        self,
        source: str,
        entry: WatchEntry,
        action: str,
        kept: Callable[[Path], bool] | None,
        settings: Settings,
    ) -> str | None:
        """Delete the remote file, or move it under the folder ``action`` names (its
        subfolder kept, a name taken there getting a number), only while it is still
        the delivered content (looked at now) and the destination holds its bytes
        (``kept``, asked of a fresh copy of it: not the store's word); what was done,
        or None when it was left."""
        fs = _fs(source)
        path = entry.title
        async with self._rclone(settings) as rclone:
            kind = await _kept_hash(rclone, fs)
            there = await rclone.stat(fs, path, kind)
            if there is None or _version({**there, "Path": path}, kind) != entry.id:
                return None  # gone, or other content now
            if kept is not None and not await _held(rclone, fs, path, kept, settings):
                log.warning("%s is not in the destination as it is there: left", entry.input)
                return None
            if action == "delete":
                await rclone.call("operations/deletefile", fs=fs, remote=path)
                return f"deleted {entry.input}"
            target = action.removeprefix("move:")
            name = await _free(rclone, target, path)
            await rclone.call(
                "operations/movefile", srcFs=fs, srcRemote=path, dstFs=target, dstRemote=name
            )
            return f"moved {entry.input} to {target.rstrip('/')}/{name}"


async def _kept_hash(rclone: Rclone, fs: str) -> str | None:
    """The strongest hash the remote keeps as metadata (listed at no cost), if any."""
    info = await rclone.call("operations/fsinfo", fs=fs)
    if (info.get("Features") or {}).get("SlowHash"):
        return None
    theirs = {str(h).lower() for h in info.get("Hashes") or []}
    return next((k for k in _KEPT if k in theirs), None)


async def _held(
    rclone: Rclone, fs: str, path: str, kept: Callable[[Path], bool], settings: Settings
) -> bool:
    """Whether the destination holds the remote file's bytes: a fresh copy of it is
    fetched beside the work area, asked of ``kept``, and removed."""
    folder = Path(
        await asyncio.to_thread(tempfile.mkdtemp, prefix="rclone-then-", dir=settings.data_dir)
    )
    try:
        name = PurePosixPath(path).name
        await rclone.run_job(
            "operations/copyfile",
            {"srcFs": fs, "srcRemote": path, "dstFs": str(folder), "dstRemote": name},
        )
        return await asyncio.to_thread(kept, folder / name)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


async def _free(rclone: Rclone, target: str, path: str) -> str:
    """``path`` under ``target``, or ``stem (N).suffix`` where that is taken."""
    stem, dot, suffix = path.rpartition(".")
    if not stem or "/" in suffix:
        stem, dot, suffix = path, "", ""
    for n in range(1000):
        name = path if n == 0 else f"{stem} ({n}){dot}{suffix}"
        if await rclone.stat(target, name) is None:
            return name
    raise FerrymanError("rclone.failed", f"no free name for {path} in {target}")


def _inside(target: str, folder: str) -> bool:
    """Whether the fs ``target`` is ``folder`` or below it (the same remote, as typed)."""
    from ferryman.net.rclone_path import parse_remote

    t, f = parse_remote(target), parse_remote(folder)
    if t.config != f.config:
        return False
    t_path, f_path = t.path, f.path
    t_parts = [p for p in t_path.split("/") if p]
    f_parts = [p for p in f_path.split("/") if p]
    return t_parts[: len(f_parts)] == f_parts and t_path.startswith("/") == f_path.startswith("/")
