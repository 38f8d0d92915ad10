"""The library laid out by a template (``sinks/layout.py``): named folders a media server
keeps, ferryman's own records in a hidden ``.ferryman/<job>/`` folder.

Exactly-once, as strong as an album folder's one rename: an album's files are staged in
``.ferryman/<job>/.NNNN.<owner>.partial/`` (the same filesystem: each later move is a
rename), each copied as the library's own and read back (``sinks/library_copy.py``);
then its manifest ``NNNN.json``, naming where each staged file goes, is written and
renamed into place: the commit. Only then are the files moved into the library, one by
one, never over a file. A library is shared by every ferryman that writes into it (data
folders, machines, re-adds): a record is known by its owner, not its job number
(``sinks/library_records.py``): another's ``NNNN.json`` is left, and this job's is
written beside it (``NNNN.<owner>.json``). A name taken by a file of the same bytes is
"already there" (no second copy; kept as an ``already:<item>`` record of the sink's
state for the run's report); by other bytes, the next free name is taken. A kill before
the commit leaves a stage that is swept (nothing was delivered); after it, the manifest
says what is left to move, and the next delivery or start-up sweep moves it (nothing
twice, nothing lost). Names are chosen, committed and placed under a lock on
``.ferryman/lock``: two albums (threads, processes) never take the same free name.

A library that already holds the album layout (``<job>/NNNN/manifest.json``) and no
``.ferryman`` folder keeps that layout: the detection runs once per sink, off the loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.fsutil import fsync_dir, safe_name
from ferryman.model import Item, Job, SinkRecord
from ferryman.naming import delivered_name
from ferryman.rules.sealing import ReadyItem, live_pairs
from ferryman.sinks.album_links import album_paths, item_files, link_entries, make_link, pointed_at
from ferryman.sinks.base import CaptionRender, Delivered, Delivery, SinkState
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
    taken_times,
    write_json,
)
from ferryman.sinks.library_copy import (
    COPY,
    HARDLINK,
    file_sha256,
    holds_bytes,
    ours_alone,
    place_copy,
    put_new,
    verify,
)
from ferryman.sinks.library_names import Listings as Listings
from ferryman.sinks.library_records import is_ours, owner_of, read_manifest, source_digest
from ferryman.sinks.xmp import beside, refresh, wanted, write_xmp, xmp_name

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

    def __init__(
        self,
        root: Path,
        template: str,
        listed: Listings | None = None,
        link: str = COPY,
        state: SinkState | None = None,
    ) -> None:
        super().__init__(root, link)
        self.template = template
        self.state = state
        self._albums: bool | None = None
        self._listed = listed if listed is not None else Listings()  # the engine's

    def albums(self) -> bool:
        """Blocking, once: whether this library keeps the album layout."""
        if self._albums is None:
            self._albums = holds_albums(self.root)
        return self._albums

    def state_dir(self, job: Job) -> Path:
        return self.root / HIDDEN / safe_name(job.name, "job")

    def _manifest(self, job: Job, seq: int, key: str) -> Path | None:
        """The album's committed manifest, if it is there (blocking): ``NNNN.json`` when
        it is this job's own, else ``NNNN.<owner>.json`` (written beside another
        ferryman's ``NNNN.json``)."""
        folder, owner = self.state_dir(job), owner_of(job)
        own = folder / f"{seq:04d}.{owner}.json"
        if own.exists():
            return own
        plain = folder / f"{seq:04d}.json"
        found = read_manifest(plain)
        return plain if found and is_ours(found, job, key) else None

    def _stage(self, job: Job, seq: int) -> Path:
        """Where the album is staged: a name of this job's own, so another ferryman
        staging its album of the same name and number never meets it."""
        return self.state_dir(job) / f".{seq:04d}.{owner_of(job)}.partial"

    async def deliver(self, delivery: Delivery) -> Delivered:
        """The album delivered (on a thread); the items whose bytes were there already
        (no second copy made) kept as records, for the report to say so."""
        ref, found = await asyncio.to_thread(self._deliver_noted, delivery)
        if found and self.state is not None:
            await self.state.put(delivery.job.id, found)
        return Delivered(ref)

    def _deliver_noted(self, delivery: Delivery) -> tuple[str, list[SinkRecord]]:
        """``_deliver``, and in the same hop what of it was there already."""
        ref = self._deliver(delivery)
        if self.state is None or self.albums():
            return ref, []
        return ref, self._already(delivery)

    def _already(self, delivery: Delivery) -> list[SinkRecord]:
        """``already:<item>`` records of the album's files that were there already, as
        its manifest says (read again after a kill)."""
        job, seq = delivery.job, delivery.album.seq
        manifest = self._manifest(job, seq, delivery.key)
        found = read_manifest(manifest) if manifest is not None else None
        if not found:
            return []
        owners = [item.id for item in delivery.album.items for _ in item.files]
        placed = item_files(found.get("placed") or ())  # not its XMPs, not its links
        return [
            SinkRecord(f"already:{item}", {"path": entry["path"]}, item_id=item)
            for item, entry in zip(owners, placed, strict=False)
            if entry.get("already")
        ]

    async def nothing_delivered(self, delivery: Delivery) -> bool:
        """Whether no file of the album is in the library: its manifest (the commit)
        is not written, so none was moved."""

        def check() -> bool:
            if self.albums():
                return not self.album_dir(delivery).exists()
            job = delivery.job
            return self._manifest(job, delivery.album.seq, delivery.key) is None

        return await asyncio.to_thread(check)

    async def make_captions_final(self, job: Job, render: CaptionRender) -> int:
        """As the album layout's, in one hop to a thread (the layout's look was one more:
        a sink is opened per claim, so it looked again at every job's end)."""

        def final() -> int:
            if self.albums():
                folder = self.job_dir(job)
                return final_captions(folder, job, render) if folder.is_dir() else 0
            folder = self.state_dir(job)
            if not folder.is_dir():
                return 0
            return final_captions_of(sorted(folder.glob("[0-9]*.json")), job, render)

        return await asyncio.to_thread(final)

    def sweep_half_built(self, job: Job, seqs: list[int]) -> int:
        """Blocking: a committed album's files left in its stage are moved into place;
        an uncommitted stage goes. An older ferryman's stage (``.NNNN.partial``, its
        manifest ``NNNN.json``) too."""
        if self.albums():
            return super().sweep_half_built(job, seqs)
        folder = self.state_dir(job)
        found = 0
        for seq in seqs:
            key = f"job-{job.id}/album-{seq}"
            for stage, manifest in (
                (self._stage(job, seq), self._manifest(job, seq, key)),
                (folder / f".{seq:04d}.partial", folder / f"{seq:04d}.json"),
            ):
                if not stage.exists():
                    continue
                found += 1
                if manifest is not None and manifest.exists():
                    with self._locked():
                        self._place(manifest, stage=stage)
                else:
                    remove_half(stage)
        return found

    def _deliver(self, delivery: Delivery) -> str:
        if self.albums():
            return super()._deliver(delivery)
        job, seq = delivery.job, delivery.album.seq
        manifest = self._manifest(job, seq, delivery.key)
        if manifest is not None:  # committed before a kill: what is left is moved
            with self._locked():
                return self._place(manifest)
        stage = self._stage(job, seq)
        sizes: dict[str, int] = {}
        committed = False
        try:
            if stage.exists():
                shutil.rmtree(stage)  # uncommitted: started over
            files, document = album_layout(delivery)
            sizes, devices = sizes_and_devices(files)
            check_space(self.root, seq, files, sizes, devices, self._copies(files))
            stage.mkdir(parents=True)
            tally = delivery.tally(sizes)
            staged: list[str] = []
            digests: list[tuple[int, str]] = []
            into = str(stage)  # a file's place in it joined as text: no Path a file
            for number, ((path, name), (item, taken)) in enumerate(
                zip(files, taken_times(delivery), strict=True)
            ):
                staged.append(f"{number:03d}")
                target = os.path.join(into, staged[-1])
                digests.append(source_digest(item, path))
                place_copy(path, target, self.link, taken)
                verify(target, *digests[-1])  # what is on disk, before a record says so
                if wanted(item.media):  # a Takeout's place and description (sinks/xmp)
                    write_xmp(xmp_name(target), item.media)  # type: ignore[arg-type]
                tally.whole(name)
            # The stage made durable beside the naming and the manifest's own fsync
            # (two journal commits waited for at once, not one after the other); the
            # commit's rename waits for both.
            synced = self._listed.fsync_beside(stage, fsync_dir)
            try:
                with self._locked():
                    manifest = self._free_manifest(job, seq)
                    document["owner"] = owner_of(job)
                    document["placed"] = self._choose(delivery, files, staged, digests)
                    _commit(manifest, document, synced.result)
                    committed = True
                    return self._place(manifest, document)
            finally:
                futures.wait([synced])  # an error before the commit: the stage goes after
        except OSError as exc:
            if not committed:
                remove_half(stage)
            if exc.errno in FULL:
                raise no_space(self.root, seq, sum(sizes.values())) from exc
            raise FerrymanError("sink.io", f"cannot write album to {self.root}: {exc}") from exc
        except BaseException:
            if not committed:
                remove_half(stage)
            raise

    def _copies(self, files: list[tuple[Path, str]]) -> set[str]:
        """The files that take room in the library (copied, not linked): a person's."""
        return {name for path, name in files if self.link != HARDLINK and not ours_alone(path)}

    def _free_manifest(self, job: Job, seq: int) -> Path:
        """Under the lock: ``NNNN.json``, unless another ferryman's record holds it."""
        plain = self.state_dir(job) / f"{seq:04d}.json"
        return plain.with_name(f"{seq:04d}.{owner_of(job)}.json") if plain.exists() else plain

    def _choose(
        self,
        delivery: Delivery,
        files: list[tuple[Path, str]],
        staged: list[str],
        digests: list[tuple[int, str]],
    ) -> list[dict[str, Any]]:
        """Each staged file's path in the library: the template rendered; where a file
        is there already, its bytes decide: the same (size and sha256, read now) is
        "already there" (no second copy), others keep theirs and this one takes the
        next free name (``name (2).ext``). Names are the files' own (not the album's,
        unique in one folder): two ``IMG_0001.jpg`` of two folders of the input keep
        their name in their own folders (``{path}``)."""
        items = [
            (item, number if item.parts else None)
            for item in delivery.album.items
            for number in range(1, len(item.files) + 1)
        ]
        whole = [it for it in delivery.album.items if not it.parts and len(it.files) == 1]
        source = source_folder(delivery.job.name, delivery.job.source)
        pairs = live_pairs([ReadyItem(it.id, it.kind, it.plan, it.source_path) for it in whole])
        counts: dict[int, int] = {}  # a Live Photo's half: the count its name took
        used: set[str] = set()  # this album's own choices
        listed: dict[str, set[str]] = {}  # each folder looked at once an album
        placed: list[dict[str, Any]] = []
        for (path, _), (item, part), stage, digest in zip(
            files, items, staged, digests, strict=True
        ):
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
                "photo_album": ((item.media and item.media.albums) or [""])[0],  # a Takeout's
            }
            rel = str(render(self.template, values, _when(item, path)))
            parent = rel.rpartition("/")[0]  # rendered: safe names joined by "/"
            if (on_disk := listed.get(parent)) is None:
                folder = PurePosixPath(parent)
                on_disk = listed[parent] = self._listed.names(self.root / folder, folder)
            first = counts.get(pairs.get(item.id, 0), 1)  # a clip takes its still's count
            chosen, there, counts[item.id] = self._free_or_same(rel, used, on_disk, digest, first)
            entry: dict[str, Any] = {"stage": stage, "path": chosen}
            if there:
                entry["already"] = True
            placed.append(entry)
            if item.media is not None and wanted(item.media):  # its XMP: sinks/xmp.beside
                now = beside(os.path.join(str(self.root), xmp_name(chosen)), item.media, there)
                placed.append({"stage": xmp_name(stage), "path": xmp_name(chosen), **now})
            if item.media is not None and item.media.albums:  # sinks/album_links
                layout = (self.template, _when(item, path))
                paths = album_paths(
                    item.media.albums, values, item.source_path, chosen, layout, used
                )
                placed += link_entries(chosen, paths, xmp_name if wanted(item.media) else None)
        return placed

    def _free_or_same(
        self, rel: str, used: set[str], on_disk: set[str], digest: tuple[int, str], first: int = 1
    ) -> tuple[str, bool, int]:
        """The first of ``rel``, ``rel (2)``… that is free, or holds these very bytes
        (True: already there), and its count; a name this album took is passed over.
        ``first``: the count tried before them (a Live Photo's clip, its still's)."""
        for n in itertools.chain((first,) if first > 1 else (), itertools.count(1)):
            candidate = rel if n == 1 else _numbered(rel, n)
            lowered = candidate.lower()
            if lowered in used:
                continue
            if lowered not in on_disk:
                used.add(lowered)
                return candidate, False, n
            if holds_bytes(os.path.join(str(self.root), candidate), digest):
                used.add(lowered)
                return candidate, True, n
        raise AssertionError("unreachable: the counts never end")

    def _place(
        self,
        manifest: Path,
        document: dict[str, Any] | None = None,
        stage: Path | None = None,
    ) -> str:
        """Every staged file the manifest names, put into place (never over a file:
        one that took its name since the commit, with other bytes, keeps it, and this
        file takes a free one, written to the manifest); a file already there leaves
        its staged copy. Then the stage goes. Where the album went: the folder holding
        all its files. ``document``: the manifest as just committed (not read back).
        Paths are joined as text (a few ``Path`` operations a file were most of this
        thread's Python)."""
        if document is None:
            document = json.loads(manifest.read_text(encoding="utf-8"))
        if stage is None:
            owner = document.get("owner")
            seq = manifest.name.partition(".")[0]
            stage = manifest.with_name(f".{seq}.{owner}.partial" if owner else f".{seq}.partial")
        into = str(stage)
        entries = document.get("placed") or ()
        inside = [self._inside(entry["path"]) for entry in entries]  # (relative, target)
        parents = [os.path.dirname(target) for _, target in inside]
        self._listed.check(set(parents))
        folders: dict[str, None] = {}  # in the order first met
        renamed = False
        links = []  # a Takeout photo's albums: made once every file is in place
        for entry, (rel, target), parent in zip(entries, inside, parents, strict=True):
            if "link" in entry:
                self._inside(pointed_at(entry, rel))  # refused if it leaves the library
                links.append((entry, target, parent))
                continue
            source = os.path.join(into, entry["stage"])
            if not os.path.exists(source):
                continue  # moved before a kill
            if entry.get("refresh"):  # ferryman's XMP, with this export's facts (sinks/xmp)
                if refresh(source, target):
                    folders.setdefault(parent, None)  # the rename synced below
                continue
            if entry.get("already"):
                os.unlink(source)
                continue
            if parent not in folders:  # made once an album, not once a file
                os.makedirs(parent, exist_ok=True)
                folders[parent] = None
            if not put_new(source, target):
                entry["path"] = self._elsewhere(entry["path"], source)
                renamed = True
        for entry, target, parent in links if not renamed else ():  # a name moved: none
            os.makedirs(parent, exist_ok=True)
            if make_link(entry, target):
                folders.setdefault(parent, None)
        for folder in folders:
            fsync_dir(Path(folder))
        if renamed:  # the manifest names where each file is
            _commit(manifest, document, lambda: None)
            inside = [self._inside(entry["path"]) for entry in entries]
            parents = [os.path.dirname(target) for _, target in inside]
        self._listed.moved_in(
            [(parent, rel.lower()) for (rel, _), parent in zip(inside, parents, strict=True)]
        )
        try:  # every file moved: the stage is empty (one rmdir, not a tree's walk)
            os.rmdir(into)
        except OSError:  # gone before a kill, or something left in it
            remove_half(stage)
        return os.path.commonpath(parents) if parents else str(self.root)

    def _elsewhere(self, rel: str, source: str) -> str:
        """A staged file whose name another's file took after the commit: put under the
        next free name (or left, when those are its bytes)."""
        digest = file_sha256(source)
        n = 2
        while True:
            candidate = _numbered(rel, n)
            n += 1
            target = self._inside(candidate)[1]
            if os.path.exists(target):
                if holds_bytes(target, digest):
                    os.unlink(source)
                    return candidate
                continue
            if put_new(source, target):
                return candidate

    def _inside(self, rel: str) -> tuple[str, str]:
        """A path from a manifest, refused if it would leave the library: its parts
        joined again (as ``PurePosixPath`` reads them: no empty part, no ``.``) and the
        file's path in the library."""
        parts = [part for part in rel.split("/") if part and part != "."]
        if rel.startswith("/") or ".." in parts or parts[:1] == [HIDDEN]:
            raise FerrymanError("sink.io", f"{rel!r} in a manifest leaves the library")
        return "/".join(parts), os.path.join(str(self.root), *parts)

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


def _numbered(rel: str, n: int) -> str:
    """``a/b.jpg`` as ``a/b (n).jpg`` (``naming.unique_name``'s form)."""
    path = PurePosixPath(rel)
    folder = "" if str(path.parent) == "." else f"{path.parent}/"
    return f"{folder}{path.stem} ({n}){path.suffix}"
