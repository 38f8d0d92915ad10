"""The library laid out by a template (``sinks/layout.py``): named folders a media
server keeps, ferryman's own records in a hidden ``.ferryman/<job>/`` folder.

Exactly-once, as strong as an album folder's one rename: an album's files are staged
in ``.ferryman/<job>/.NNNN.partial/`` (the same filesystem: each later move is a
rename), then its manifest ``NNNN.json``, naming where each staged file goes, is
written and renamed into place: the commit. Only then are the files renamed into the
library, one by one. A kill before the commit leaves a stage that is swept (nothing was
delivered); after it, the manifest says what is left to move, and the next delivery or
start-up sweep moves it (nothing twice, nothing lost). Names are chosen, committed and
placed under a lock on ``.ferryman/lock``, so two albums (two threads, or two processes)
never take the same free name.

A library that already holds the album layout (``<job>/NNNN/manifest.json``) and no
``.ferryman`` folder keeps that layout: the detection runs once per sink, off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.fsutil import fsync_dir, link_or_copy, safe_name
from ferryman.model import Item, Job
from ferryman.naming import delivered_name, unique_name
from ferryman.sinks.base import Delivery
from ferryman.sinks.layout import input_folders, render, source_folder
from ferryman.sinks.library import (
    FULL,
    MANIFEST,
    LibrarySink,
    album_layout,
    check_space,
    final_captions,
    final_captions_of,
    no_space,
    remove_half,
    sizes_and_devices,
    write_json,
)

HIDDEN = ".ferryman"


def holds_albums(root: Path) -> bool:
    """Whether ``root`` is a library in the album layout (blocking: lists its folders)."""
    if not root.is_dir() or (root / HIDDEN).exists():
        return False
    for job in root.iterdir():
        if job.is_dir() and any(job.glob(f"[0-9][0-9][0-9][0-9]/{MANIFEST}")):
            return True
    return False


class FlatLibrarySink(LibrarySink):
    """Delivers each file where ``template`` says, unless ``root`` holds albums."""

    def __init__(self, root: Path, template: str, listed: Listings | None = None) -> None:
        super().__init__(root)
        self.template = template
        self._albums: bool | None = None
        self._listed = listed if listed is not None else Listings()  # the engine's

    def albums(self) -> bool:
        """Blocking, once: whether this library keeps the album layout."""
        if self._albums is None:
            self._albums = holds_albums(self.root)
        return self._albums

    def state_dir(self, job: Job) -> Path:
        return self.root / HIDDEN / safe_name(job.name, "job")

    def _manifest(self, delivery: Delivery) -> Path:
        return self.state_dir(delivery.job) / f"{delivery.album.seq:04d}.json"

    async def nothing_delivered(self, delivery: Delivery) -> bool:
        """Whether no file of the album is in the library: its manifest (the commit)
        is not written, so none was moved."""

        def check() -> bool:
            if self.albums():
                return not self.album_dir(delivery).exists()
            return not self._manifest(delivery).exists()

        return await asyncio.to_thread(check)

    async def make_captions_final(self, job: Job, render: Callable[[int, int], str]) -> int:
        """As the album layout's, in one hop to a thread (the layout's look was one more:
        a sink is opened per claim, so it looked again at every job's end)."""

        def final() -> int:
            if self.albums():
                folder = self.job_dir(job)
                return final_captions(folder, job.id, render) if folder.is_dir() else 0
            folder = self.state_dir(job)
            if not folder.is_dir():
                return 0
            return final_captions_of(sorted(folder.glob("[0-9]*.json")), job.id, render)

        return await asyncio.to_thread(final)

    def sweep_half_built(self, job: Job, seqs: list[int]) -> int:
        """Blocking: a committed album's files left in its stage are moved into place;
        an uncommitted stage goes."""
        if self.albums():
            return super().sweep_half_built(job, seqs)
        folder = self.state_dir(job)
        found = [seq for seq in seqs if (folder / f".{seq:04d}.partial").exists()]
        for seq in found:
            manifest = folder / f"{seq:04d}.json"
            if manifest.exists():
                with self._locked():
                    self._place(manifest)
            else:
                remove_half(folder / f".{seq:04d}.partial")
        return len(found)

    def _deliver(self, delivery: Delivery) -> str:
        if self.albums():
            return super()._deliver(delivery)
        manifest = self._manifest(delivery)
        if manifest.exists():  # committed before a kill: what is left is moved
            self._check_key(manifest, delivery)
            with self._locked():
                return self._place(manifest)
        stage = manifest.with_name(f".{manifest.stem}.partial")
        sizes: dict[str, int] = {}
        try:
            if stage.exists():
                shutil.rmtree(stage)  # uncommitted: started over
            files, document = album_layout(delivery)
            sizes, devices = sizes_and_devices(files)
            check_space(self.root, delivery.album.seq, files, sizes, devices)
            stage.mkdir(parents=True)
            tally = delivery.tally(sizes)
            staged = []
            into = str(stage)  # a file's place in it joined as text: no Path a file
            times = _taken_times(delivery)
            for number, (path, name) in enumerate(files):
                staged.append(f"{number:03d}")
                ours = _own(path)  # checked before the stage's link adds a name
                link_or_copy(path, os.path.join(into, staged[-1]))
                if ours and (taken := times[number]) is not None:
                    _date(os.path.join(into, staged[-1]), taken)
                tally.whole(name)
            # The stage's links made durable beside the naming and the manifest's own
            # fsync (two journal commits waited for at once, not one after the other);
            # the commit's rename waits for both.
            synced = self._listed.fsync_beside(stage)
            try:
                with self._locked():
                    document["placed"] = self._choose(delivery, files, staged)
                    _commit(manifest, document, synced.result)
                    return self._place(manifest, document)
            finally:
                futures.wait([synced])  # an error before the commit: the stage goes after
        except OSError as exc:
            if not manifest.exists():
                remove_half(stage)
            if exc.errno in FULL:
                raise no_space(self.root, delivery.album.seq, sum(sizes.values())) from exc
            raise FerrymanError("sink.io", f"cannot write album to {self.root}: {exc}") from exc
        except BaseException:
            if not manifest.exists():
                remove_half(stage)
            raise

    def _choose(
        self, delivery: Delivery, files: list[tuple[Path, str]], staged: list[str]
    ) -> list[dict[str, str]]:
        """Each staged file's path in the library: the template rendered, made unique
        (``name (2).ext``) against what is on disk and what this album takes. Names are
        the files' own (not the album's, unique in one folder): two ``IMG_0001.jpg`` of
        two folders of the input keep their name in their own folders (``{path}``)."""
        items = [
            (item, number if item.parts else None)
            for item in delivery.album.items
            for number in range(1, len(item.files) + 1)
        ]
        source = source_folder(delivery.job.name, delivery.job.source)
        used: set[str] = set()  # this album's own choices
        listed: dict[str, set[str]] = {}  # each folder looked at once an album
        placed = []
        for (path, _), (item, part), stage in zip(files, items, staged, strict=True):
            name = delivered_name(item, part)
            title, dot, ext = name.rpartition(".")
            values = {
                "source": source,
                "path": input_folders(item.source_path, source),
                "name": name,
                "title": title if dot else name,
                "ext": ext if dot else "",
                "album": f"{delivery.album.seq:04d}",
                "index": str(item.seq),
                "kind": item.kind.value,
            }
            rel = str(render(self.template, values, _when(item, path)))
            parent = rel.rpartition("/")[0]  # rendered: safe names joined by "/"
            if (on_disk := listed.get(parent)) is None:
                folder = PurePosixPath(parent)
                on_disk = listed[parent] = self._listed.names(self.root / folder, folder)
            chosen = unique_name(rel, used, also=on_disk)
            placed.append({"stage": stage, "path": chosen})
        return placed

    def _place(self, manifest: Path, document: dict[str, Any] | None = None) -> str:
        """Every staged file the manifest names, renamed into place; then the stage goes.
        Where the album went: the folder holding all its files. ``document``: the
        manifest as just committed (not read back). Paths are joined as text (a few
        ``Path`` operations a file were most of this thread's Python)."""
        if document is None:
            document = json.loads(manifest.read_text(encoding="utf-8"))
        stage = str(manifest.with_name(f".{manifest.stem}.partial"))
        entries = document.get("placed") or ()
        inside = [self._inside(entry["path"]) for entry in entries]  # (relative, target)
        parents = [os.path.dirname(target) for _, target in inside]
        self._listed.check(set(parents))
        folders: dict[str, None] = {}  # in the order first met
        for entry, (_, target), parent in zip(entries, inside, parents, strict=True):
            source = os.path.join(stage, entry["stage"])
            if os.path.exists(source):  # else moved before a kill
                if parent not in folders:  # made once an album, not once a file
                    os.makedirs(parent, exist_ok=True)
                    folders[parent] = None
                os.rename(source, target)
        for folder in folders:
            fsync_dir(Path(folder))
        self._listed.moved_in(
            [(parent, rel.lower()) for (rel, _), parent in zip(inside, parents, strict=True)]
        )
        try:  # every file moved: the stage is empty (one rmdir, not a tree's walk)
            os.rmdir(stage)
        except OSError:  # gone before a kill, or something left in it
            remove_half(Path(stage))
        return os.path.commonpath(parents) if parents else str(self.root)

    def _inside(self, rel: str) -> tuple[str, str]:
        """A path from a manifest, refused if it would leave the library: its parts
        joined again (as ``PurePosixPath`` reads them: no empty part, no ``.``) and the
        file's path in the library."""
        parts = [part for part in rel.split("/") if part and part != "."]
        if rel.startswith("/") or ".." in parts or parts[:1] == [HIDDEN]:
            raise FerrymanError("sink.io", f"{rel!r} in a manifest leaves the library")
        return "/".join(parts), os.path.join(str(self.root), *parts)

    def _check_key(self, manifest: Path, delivery: Delivery) -> None:
        try:
            key = json.loads(manifest.read_text(encoding="utf-8")).get("key")
        except (OSError, ValueError) as exc:
            raise FerrymanError("sink.io", f"{manifest} is not a ferryman manifest") from exc
        if key != delivery.key:
            raise FerrymanError("sink.io", f"{manifest} holds album {key}, not {delivery.key}")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One chooser of names at a time in this library, across threads and processes."""
        lock = self.root / HIDDEN / "lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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

    def fsync_beside(self, folder: Path) -> Future[None]:
        """``fsync_dir(folder)`` on a thread of the library's own while the caller goes
        on; the caller waits for it (``result`` raises its error) before counting on it.
        Once closed, here and now."""
        try:
            return self._syncs.submit(fsync_dir, folder)
        except RuntimeError:  # shut down: the engine is stopping
            fsync_dir(folder)
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


def _commit(manifest: Path, document: dict[str, Any], staged: Callable[[], object]) -> None:
    """The manifest written beside, fsynced and renamed into place: the album's commit,
    once ``staged()`` returns (the stage is durable; it raises the fsync's error)."""
    fresh = manifest.with_name(f".{manifest.name}.new")
    try:
        write_json(fresh, document)
        staged()
        os.replace(fresh, manifest)
    except OSError:
        fresh.unlink(missing_ok=True)  # a full disk: nothing of the commit stays behind
        raise
    fsync_dir(manifest.parent)


def _when(item: Item, path: Path) -> datetime:
    """What ``{date}`` shows: when the file says it was taken (EXIF, a video's
    ``creation_time``, read by its probe), else its modified time: its entry's own, or
    now, if neither can be read."""
    taken = item.media.taken if item.media is not None else None
    try:
        return datetime.fromtimestamp(taken if taken is not None else path.stat().st_mtime)
    except (OSError, OverflowError, ValueError):
        return datetime.now()


def _taken_times(delivery: Delivery) -> list[float | None]:
    """Each file's time taken, in ``album_layout``'s order (an item's parts share it)."""
    return [
        item.media.taken if item.media is not None else None
        for item in delivery.album.items
        for _ in item.files
    ]


def _own(path: Path) -> bool:
    """Whether the work file is ferryman's alone (a copy it wrote or made): a file linked
    from a person's own folder shares its inode, whose dates are theirs, never changed."""
    try:
        return os.stat(path).st_nlink == 1
    except OSError:
        return False


def _date(staged: str, taken: float) -> None:
    """A library file dated when it was taken: a file browser sorts a 2019 photo as
    2019's. A time the file system cannot hold leaves the entry's own."""
    with contextlib.suppress(OSError, OverflowError, ValueError):
        os.utime(staged, (taken, taken))
