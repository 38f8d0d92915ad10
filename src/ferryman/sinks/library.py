"""The library sink: each album becomes ``<library>/<job name>/<NNNN>/`` with a manifest.

The folder is built under a hidden temporary name and renamed into place, so a reader
never sees half an album and a crash never leaves two. Each file is the library's own
(``sinks/library_copy.py``: a clone or a copy of a person's file, checked once written);
an album folder another ferryman wrote (``sinks/library_records.py``) is left as it is.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ferryman.errors import FerrymanError
from ferryman.fsutil import fsync_dir, fsync_file, safe_name
from ferryman.model import Item, Job
from ferryman.naming import delivered_name, unique_name, unique_pair
from ferryman.rules.sealing import ReadyItem, live_pairs
from ferryman.sinks.base import CaptionRender, Delivered, Delivery, Sink, size_of
from ferryman.sinks.library_copy import COPY, HARDLINK, ours_alone, place_copy, verify
from ferryman.sinks.library_records import is_ours, owner_of, read_manifest, source_digest
from ferryman.sinks.xmp import wanted, write_xmp, xmp_name

MANIFEST = "manifest.json"
# A full disk, or the user's quota: a wait for room, not a failure.
FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
# Kept free beyond the album's files: its manifest, previews, the folder itself.
MARGIN = 64 << 10
# fsyncs at once when a job's captions are made final (see ``final_captions``)
SYNC_THREADS = 16
log = logging.getLogger(__name__)


def check_writable(folder: Path) -> None:
    """``sink.unwritable`` unless ``folder`` is a writable folder or can be made: tried
    for real (a probe made and removed), since permissions alone do not tell (root, a
    read-only mount, /proc)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == folder else f"is under {existing}, a file"
        raise FerrymanError("sink.unwritable", f"{folder} {what}, not a folder")
    try:  # a name of its own (mkdtemp): a watch's check and an add at once never meet
        os.rmdir(tempfile.mkdtemp(prefix=".ferryman-probe-", dir=existing))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = "" if existing == folder else f" (it would be made in {existing})"
        raise FerrymanError(
            "sink.unwritable", f"cannot write to {folder}{where}: {reason}"
        ) from exc


class LibrarySink(Sink):
    """Delivers albums as folders under ``root``."""

    def __init__(self, root: Path, link: str = COPY) -> None:
        self.root = root
        self.link = link  # ``library_link``: copy (a backup), or hardlink (asked for)

    async def deliver(self, delivery: Delivery) -> Delivered:
        import asyncio  # loads with the engine, not with the CLI that lists destinations

        return Delivered(await asyncio.to_thread(self._deliver, delivery))

    async def nothing_delivered(self, delivery: Delivery) -> bool:
        """Whether none of the album is at its destination: its folder appears whole
        (renamed into place) or not at all, so the engine may split it into albums of one
        (new folders) without a file arriving twice."""
        import asyncio  # lazy: start-up

        return not await asyncio.to_thread(self.album_dir(delivery).exists)

    def job_dir(self, job: Job) -> Path:
        """The folder of the job's albums."""
        return self.root / safe_name(job.name, "job")

    def album_dir(self, delivery: Delivery) -> Path:
        """The album's folder (blocking: looks): ``NNNN`` when free or this job's own,
        else ``NNNN.<owner>`` beside another ferryman's (a job of the same name and
        number from another data folder, or the same input added again)."""
        plain = self.job_dir(delivery.job) / f"{delivery.album.seq:04d}"
        own = plain.with_name(f"{plain.name}.{owner_of(delivery.job)}")
        if own.exists():
            return own
        found = read_manifest(plain / MANIFEST)
        if not plain.exists() or (found is not None and is_ours(found, delivery.job, delivery.key)):
            return plain
        return own

    async def make_captions_final(self, job: Job, render: CaptionRender) -> int:
        """At the job's end: every album's caption with the final number of albums
        (the deliveries may all have gone before it was known)."""
        import asyncio  # lazy: start-up

        folder = self.job_dir(job)
        if not folder.is_dir():
            return 0
        return await asyncio.to_thread(final_captions, folder, job, render)

    def add_extras(self, delivery: Delivery, files: list[tuple[Path, str]], tmp: Path) -> None:
        """Written into the album's folder before it is renamed into place (a blocking
        call, on the delivery's thread): for a library, an XMP sidecar beside each file a
        sidecar told the place or description of (``sinks/xmp``), not over a file."""
        names = {name.casefold() for _, name in files}
        for (_, name), (item, _) in zip(files, taken_times(delivery), strict=True):
            if wanted(item.media) and xmp_name(name).casefold() not in names:
                assert item.media is not None
                write_xmp(str(tmp / xmp_name(name)), item.media)

    def sweep_half_built(self, job: Job, seqs: list[int]) -> int:
        """Blocking: the half-built folders a killed run left of these albums (none
        is being written: the engine asks at start-up, of albums no one holds)."""
        folder = self.job_dir(job)
        if not folder.is_dir():
            return 0
        owner = owner_of(job)
        names = [f".{seq:04d}.{owner}.partial" for seq in seqs]
        names += [f".{seq:04d}.partial" for seq in seqs]  # an older ferryman's
        found = [tmp for name in names if (tmp := folder / name).exists()]
        for tmp in found:
            remove_half(tmp)
        return len(found)

    def _deliver(self, delivery: Delivery) -> str:
        final = self.album_dir(delivery)
        if final.exists():
            return self._already_there(final, delivery)
        return self._write_album(final, delivery)

    def _write_album(self, final: Path, delivery: Delivery) -> str:
        """Built under ``.NNNN.<owner>.partial`` (no other ferryman's build meets it)
        and renamed into place; whatever ends the build (a full disk, an error, a
        stop) takes the half-built folder with it. Each file is checked once written."""
        owner = owner_of(delivery.job)
        tmp = final.with_name(f".{final.name.partition('.')[0]}.{owner}.partial")
        sizes: dict[str, int] = {}
        try:
            if tmp.exists():
                shutil.rmtree(tmp)  # a crash left half an album: start it over
            files, manifest = album_layout(delivery)
            sizes = {name: size_of(path) for path, name in files}
            copies = {
                name for path, name in files if self.link != HARDLINK and not ours_alone(path)
            }
            check_space(final.parent, delivery.album.seq, files, sizes, None, copies)
            tmp.mkdir(parents=True)
            tally = delivery.tally(sizes)
            taken = taken_times(delivery)
            for (path, name), (item, when) in zip(files, taken, strict=True):
                expected = source_digest(item, path)
                place_copy(path, str(tmp / name), self.link, when)
                verify(tmp / name, *expected)
                tally.whole(name)
            self.add_extras(delivery, files, tmp)
            manifest["owner"] = owner
            write_json(tmp / MANIFEST, manifest)
            fsync_dir(tmp)
            os.rename(tmp, final)
            fsync_dir(final.parent)
        except OSError as exc:
            remove_half(tmp)
            if exc.errno in FULL:
                raise no_space(final.parent, delivery.album.seq, sum(sizes.values())) from exc
            raise FerrymanError("sink.io", f"cannot write album to {final}: {exc}") from exc
        except BaseException:
            remove_half(tmp)
            raise
        return str(final)

    def _already_there(self, final: Path, delivery: Delivery) -> str:
        """The album's own folder, written before a kill kept the store from knowing."""
        found = read_manifest(final / MANIFEST)
        if not found or not is_ours(found, delivery.job, delivery.key):
            raise FerrymanError("sink.io", f"{final} exists but is not this album's; move it away")
        return str(final)


def check_space(
    folder: Path,
    seq: int,
    files: list[tuple[Path, str]],
    sizes: dict[str, int],
    devices: dict[str, int | None] | None = None,
    copies: Collection[str] = (),
) -> None:
    """``sink.space_low`` before a byte is written when the files that must be copied
    (on another filesystem, or named in ``copies``: a person's file) exceed the free
    space at ``folder``; so a wait for room rechecks with one ``statvfs``, not by
    filling the disk again. ``devices``: each file's, by name, where the caller has
    them (``sizes_and_devices``)."""
    existing = _existing(folder)
    device = existing.stat().st_dev
    on = devices if devices is not None else {name: _device(path) for path, name in files}
    needed = sum(sizes[name] for _, name in files if on[name] != device or name in copies)
    if needed and shutil.disk_usage(existing).free < needed + MARGIN:
        raise no_space(folder, seq, needed + MARGIN)


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def sizes_and_devices(
    files: list[tuple[Path, str]],
) -> tuple[dict[str, int], dict[str, int | None]]:
    """Each file's size (0 when gone, as ``size_of``) and filesystem, by name: one
    ``stat`` a file where ``size_of`` and ``check_space`` made one each."""
    sizes: dict[str, int] = {}
    devices: dict[str, int | None] = {}
    for path, name in files:
        try:
            st = os.stat(path)
        except OSError:
            sizes[name], devices[name] = 0, None
        else:
            sizes[name], devices[name] = st.st_size, st.st_dev
    return sizes, devices


def _device(path: Path) -> int | None:
    try:
        return path.stat().st_dev
    except OSError:
        return None  # gone: the copy says so


def no_space(folder: Path, seq: int, needed: int) -> FerrymanError:
    """The destination's wait for room: where, and how much the album needs."""
    try:
        usage = shutil.disk_usage(_existing(folder))
    except OSError:
        free = ""
    else:
        free = f", {usage.free / 1e6:.1f} MB free"
        if needed > usage.total:  # waited for all the same: the person decides
            free += " (more than the whole disk: it never fits; choose another destination)"
    return FerrymanError(
        "sink.space_low",
        f"the disk holding {folder} is full: album {seq} needs {needed / 1e6:.1f} MB there{free}",
    )


def remove_half(tmp: Path) -> None:
    """A half-built album folder goes (logged if it cannot: the next try removes it)."""
    try:
        shutil.rmtree(tmp)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("half-built album %s not removed: %s", tmp, exc)


def final_captions(job_dir: Path, job: Job, render: CaptionRender) -> int:
    """Rewrite the captions of the job's albums in ``job_dir`` whose manifests were
    written before the number of albums was known ("1/3+"); how many changed. Each
    manifest is replaced whole (written beside it, then renamed); one that cannot be
    is left as it was, logged: the albums themselves are delivered.

    Every new manifest is written first, then all are fsynced at once, renamed, and
    their folders fsynced at once: fsyncs that wait together share the journal's
    commits. One album after another (write, fsync, rename, fsync) took 2.5 s for 200
    albums here, a third of a 2,000-photo job; together, under half a second."""
    albums = sorted(p for p in job_dir.iterdir() if p.name[:4].isdigit() and p.is_dir())
    return final_captions_of([album / MANIFEST for album in albums], job, render)


def final_captions_of(paths: list[Path], job: Job, render: CaptionRender) -> int:
    """``final_captions`` of these manifests, wherever they are (an album's folder, or
    a laid-out library's hidden ``.ferryman/<job>/NNNN.json``): the job's own only
    (another data folder's job of the same name and number keeps its captions)."""
    owner = owner_of(job)
    written: list[tuple[Path, Path]] = []  # (the new manifest beside it, the manifest)
    for path in paths:
        album = path.parent
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if manifest.get("owner") != owner or manifest.get("job") != job.id:
                continue
            said = manifest.get("caption_fields") or {}
            wanted = render(int(manifest["album"]), len(manifest.get("items") or ()), said)
            if manifest.get("caption") == wanted:
                continue
            manifest["caption"] = wanted
            fresh = album / f".{path.name}.{os.getpid()}.{threading.get_ident()}"  # one each
            try:
                write_json(fresh, manifest, sync=False)
            except OSError:
                fresh.unlink(missing_ok=True)
                raise
            written.append((fresh, path))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("caption of %s not made final: %s", album, exc)
    if not written:
        return 0
    with ThreadPoolExecutor(min(SYNC_THREADS, len(written))) as pool:
        synced = _each(pool, fsync_file, [fresh for fresh, _ in written])
        renamed: list[Path] = []
        for (fresh, path), failed in zip(written, synced, strict=True):
            try:
                if failed is not None:
                    raise failed
                os.replace(fresh, path)
                renamed.append(path.parent)
            except OSError as exc:
                fresh.unlink(missing_ok=True)
                log.warning("caption of %s not made final: %s", path.parent, exc)
        # One fsync a folder, after all its renames: a laid-out library keeps every
        # manifest of a job in one folder (it was fsynced once for each of them).
        folders = list(dict.fromkeys(renamed))
        failures = dict(zip(folders, _each(pool, fsync_dir, folders), strict=True))
        changed = 0
        for album in renamed:
            if (failed := failures[album]) is None:
                changed += 1
            else:
                log.warning("caption of %s not made final: %s", album, failed)
    return changed


def _each(pool: Executor, fn: Callable[[Path], None], paths: list[Path]) -> list[OSError | None]:
    """``fn`` on every path at once on ``pool``; each one's error, or None."""

    def one(path: Path) -> OSError | None:
        try:
            fn(path)
        except OSError as exc:
            return exc
        return None

    return list(pool.map(one, paths))


def album_layout(delivery: Delivery) -> tuple[list[tuple[Path, str]], dict[str, Any]]:
    """Which file goes under which name, and the album's manifest: the same for every
    store that keeps albums as folders of files (the library, the link sink's results)."""
    files: list[tuple[Path, str]] = []
    entries = []
    used: set[str] = set()
    paired = _live_names(delivery.album.items, used)
    for item in delivery.album.items:
        names = []
        for number, path in enumerate(_require(item.files, item), start=1):
            name = paired.get(item.id) or unique_name(
                delivered_name(item, number if item.parts else None), used
            )
            files.append((Path(path), name))
            names.append(name)
        entries.append(_manifest_entry(item, names))
    manifest = {
        "key": delivery.key,
        "job": delivery.job.id,
        "source": delivery.source,  # never job.source: a link's token or login
        "album": delivery.album.seq,
        "group": delivery.album.group.value,
        "caption": delivery.caption,
        "items": entries,
    }
    if delivery.caption_fields:  # what its caption said of its photos, said again at the end
        manifest["caption_fields"] = dict(delivery.caption_fields)
    return files, manifest


def _live_names(items: list[Item], used: set[str]) -> dict[int, str]:
    """A Live Photo's still and clip in one album (``rules.sealing.live_pairs``), named
    first and under one stem (``IMG_1 (2).HEIC`` and ``IMG_1 (2).MOV`` when another
    ``IMG_1`` is in the album too); by item id."""
    whole = [it for it in items if not it.parts and len(it.files) == 1]
    ready = [ReadyItem(it.id, it.kind, it.plan, it.source_path) for it in whole]
    pairs = live_pairs(ready)
    by_id = {it.id: it for it in whole}
    names: dict[int, str] = {}
    for item in whole:
        partner = pairs.get(item.id)
        if partner is None or item.id in names:
            continue
        first, second = delivered_name(item, None), delivered_name(by_id[partner], None)
        names[item.id], names[partner] = unique_pair(first, second, used)
    return names


def taken_times(delivery: Delivery) -> list[tuple[Item, float | None]]:
    """Each file's item and when it was taken (EXIF, a video's ``creation_time``: its
    probe's), in ``album_layout``'s order (an item's parts share it): a copy's modified
    time; None leaves the entry's own."""
    return [
        (item, item.media.taken if item.media is not None else None)
        for item in delivery.album.items
        for _ in item.files
    ]


def _require(paths: list[str], item: Item) -> list[str]:
    if not paths:
        raise FerrymanError("engine.internal", f"item {item.id} has no file to deliver")
    return paths


def _manifest_entry(item: Item, names: list[str]) -> dict[str, Any]:
    return {
        "file": names[0],
        "parts": names if item.parts else None,
        "source_path": item.source_path,
        "size": item.size,
        "sha256": item.sha256,
        "kind": item.kind.value,
        "plan": item.plan.value if item.plan else None,
        "actions": item.actions,
        "media": item.media.to_json() if item.media else None,
    }


def write_json(path: Path, data: dict[str, Any], *, sync: bool = True) -> None:
    """The document made whole and compact, then written: with an indent ``json``
    takes its pure-Python encoder (0.26 ms an album here, once per album and again at
    the job's end); without one, its C encoder (a few µs)."""
    document = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    with open(path, "wb") as handle:
        handle.write(document)
        if sync:
            handle.flush()
            os.fsync(handle.fileno())
