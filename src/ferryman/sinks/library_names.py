"""The names in a templated library's folders as last listed (``Listings``): a folder
of 100,000 photos is not listed again for each album. Apart from ``sinks/flat.py``,
which chooses and places names under the library's lock with them."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from ferryman.fsutil import fsync_dir

Stamp = tuple[int, int]  # a folder's inode and mtime (ns)


class Listings:
    """The library's folders' names (lower-cased, relative to the library) as last
    listed, kept while the folder's inode and mtime show no change but this sink's own
    moves: a folder that holds 100,000 photos is not listed again for each album (an
    album cost as much as its folder held). One per library in an engine (its shared
    resources: a sink is opened per claim); used under the library's lock only (names
    are chosen and placed under it); a change by another program moves the mtime, and
    the folder is listed again. It also keeps the threads that fsync an album's stage
    while its manifest is written (``fsync_beside``)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Stamp, set[str]]] = {}  # by the folder's path, as text
        # Stages fsynced beside their albums' naming (``fsync_beside``); its threads are
        # made at the first album, one for each album at once.
        self._syncs = ThreadPoolExecutor(4, thread_name_prefix="ferryman-library-sync")

    async def close(self) -> None:
        """Names forgotten, the fsyncing threads let go (a shared resource is closed with
        the engine, once its deliveries are over)."""
        self._seen.clear()
        self._syncs.shutdown(wait=False)

    def fsync_beside(self, folder: Path, sync: Callable[[Path], None] = fsync_dir) -> Future[None]:
        """``sync(folder)`` on a thread of the library's own while the caller goes on;
        the caller waits for it (``result`` raises its error) before counting on it.
        Once closed, here and now."""
        try:
            return self._syncs.submit(sync, folder)
        except RuntimeError:  # shut down: the engine is stopping
            sync(folder)
            done: Future[None] = Future()
            done.set_result(None)
            return done

    def names(self, folder: Path, rel: PurePosixPath) -> set[str]:
        """The names in ``folder`` (``rel`` in the library), empty if it is not a folder."""
        key = str(folder)
        stamp = _stamp(key)
        if stamp is None:
            self._seen.pop(key, None)
            return set()
        seen = self._seen.get(key)
        if seen is None or seen[0] != stamp:
            seen = (stamp, {str(rel / name).lower() for name in os.listdir(folder)})
            self._seen[key] = seen
        return seen[1]

    def check(self, folders: Iterable[str | Path]) -> None:
        """Before a move: a folder changed since it was listed is forgotten."""
        for key in {str(folder) for folder in folders}:
            seen = self._seen.get(key)
            if seen is not None and seen[0] != _stamp(key):
                del self._seen[key]

    def moved_in(self, moved: list[tuple[str | Path, str]]) -> None:
        """After this sink's moves (each file's folder and its name): the names join
        their folders' and the folders' stamps are taken again."""
        into: dict[str, list[str]] = {}
        for folder, name in moved:
            into.setdefault(str(folder), []).append(name)
        for key, names in into.items():
            seen = self._seen.get(key)
            stamp = _stamp(key)
            if seen is None or stamp is None:
                continue
            seen[1].update(names)
            self._seen[key] = (stamp, seen[1])


def _stamp(folder: str) -> Stamp | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns) if stat.S_ISDIR(st.st_mode) else None
