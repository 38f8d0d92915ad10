"""The ``batch:`` source: several inputs read as one job, in their order.

A watch's check makes one job of the entries it found (``engine/watch/check``): its source is
``batch:`` and a JSON list of the entries' inputs (any URI the registry reads: links,
``tg:`` messages, ``dav:`` files…) with their titles, and the name the job goes by
(the feed's, channel's or folder's). It is no input a person types. Each input is
fetched by its own source into a folder of its own (``1/``, ``2/``… in the list's
order), a record beside it once it is whole, so a fetch tried again goes on with the
inputs not yet recorded. Several are fetched at once (``window_of``: twice the fetch
stage's workers, a look of many small posts costing a few round trips, not one each),
through the shared connections their sources keep (``Shared``); one that fails
lets those in flight end (and be recorded) and starts no more, the first failure in
the list's order failing the fetch. Then the inputs are read in the list's order,
indexes counting on across them, so the destination's albums follow the list. An
input that cannot be had for good (gone, not media) is one failed entry of the job;
a passing fault (the network, a server's wait, disk room) fails the fetch, which the
fetch stage tries again, until the input has had ``retry.max_attempts`` - 2 such faults
(then it fails alone). An input that is one file (a photo, a video, a made MP3) is
named after its entry's title (``Title.jpg``); an archive's or a torrent's files keep
their own names; a name met twice in the job gets its input's place as a suffix.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import json
import mimetypes
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.archive.reader import EntryInfo, EntryType
from ferryman.archive.suffixes import strip_archive_suffixes
from ferryman.errors import FerrymanError, ServerWait
from ferryman.fsutil import safe_name
from ferryman.model import BATCH_SCHEME as SCHEME
from ferryman.model import Batch, BatchItem
from ferryman.net.progress import DownloadProgress, ProgressCallback
from ferryman.sources.base import (
    Access,
    Fetched,
    Fetching,
    FetchPlan,
    Inspection,
    ReadOptions,
    SourceEntry,
)

if TYPE_CHECKING:
    from ferryman.sources.base import SourceMemo, SourceRegistry
    from ferryman.sources.takeout import TakeoutIndex

_DONE = "batch-input.json"  # beside an input's fetched files: it is whole


class BatchSource:
    """Several inputs as one, each read by the source ``registry`` names for it."""

    schemes: tuple[str, ...] = (SCHEME,)
    description = "the entries a watch found at one look, as one job"
    shown_as = ""  # made by watches, not typed by people
    access = Access.FETCH

    def __init__(self, registry: SourceRegistry) -> None:
        self.registry = registry

    def recognise(self, raw: str) -> str | None:
        return raw if raw.startswith(f"{SCHEME}:{{") else None

    def describe(self, uri: str) -> str:
        batch = _parse(uri)
        count = len(batch.items)
        return f"{batch.name} ({count} entr{'y' if count == 1 else 'ies'})"

    def local_path(self, uri: str) -> None:
        return None

    def inspect(self, uri: str) -> Inspection:
        batch = _parse(uri)
        return Inspection(batch.name, hashlib.sha256(uri.encode()).hexdigest())

    async def fetch(self, uri: str, plan: FetchPlan) -> Fetched:
        items = _parse(uri).items
        folders = [plan.folder / str(place) for place in range(1, len(items) + 1)]
        records = await asyncio.to_thread(lambda: [_done(folder) for folder in folders])
        tally = _Tally(plan.on_progress, [_size_of(r) if r else None for r in records])
        window = asyncio.Semaphore(window_of(plan))
        failed: dict[int, BaseException] = {}
        weighing = asyncio.Lock()  # held while a passing fault's tries are counted

        async def one(n: int) -> None:
            async with window:
                async with weighing:  # a fault being weighed may fail the fetch: its word
                    pass
                if failed:
                    return  # one failed: the fetch is tried again from what is recorded
                try:
                    own = dataclasses.replace(plan, folder=folders[n], on_progress=tally.of(n))
                    done = await self._fetch_one(items[n], folders[n], own, weighing)
                    await asyncio.to_thread(_record, folders[n], done)
                except Exception as exc:  # the others in flight end (and are recorded)
                    failed[n] = exc
                    return
                records[n] = done
                tally.whole(n, _size_of(done))

        tasks = [asyncio.ensure_future(one(n)) for n, r in enumerate(records) if r is None]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if failed:
            raise failed[min(failed)]  # the first in the list's order
        total = sum(_size_of(r) or 0 for r in records if r is not None)
        return Fetched(plan.folder, total, "")  # no name: the job keeps the watch's

    async def _fetch_one(
        self, item: BatchItem, folder: Path, plan: FetchPlan, weighing: asyncio.Lock
    ) -> dict[str, object]:
        """One input fetched into ``folder``: its record (a relative path or None: read
        where it is; or the error that fails it for good). A passing fault is counted
        under ``weighing`` (a thread hop), which no input starts through: else one in
        flight that ended meanwhile let another start after the fault."""
        try:
            source = self.registry.for_uri(item.uri)
            if not isinstance(source, Fetching):
                return {"path": None, "size": None}
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            # A part of a set among the batch's inputs: its parts are inputs too.
            alone = dataclasses.replace(plan, folder=folder, alone=True)
            got = await source.fetch(item.uri, alone)
        except FerrymanError as exc:
            if isinstance(exc, ServerWait) or exc.waits or exc.code.startswith("engine."):
                raise  # a wait (not counted), or a fault of ours: the whole fetch's
            if exc.retryable:
                async with weighing:
                    tried = await asyncio.to_thread(_tried, folder)
                if tried < _tries(plan):
                    raise  # tried again with the fetch, from this input on
            return {"path": None, "size": None, "error": [exc.code, exc.message]}
        path = None if got.path is None else str(got.path.relative_to(folder))
        return {"path": path, "size": got.size, "name": got.name}

    @contextmanager
    def open(self, uri: str, options: ReadOptions) -> Iterator[Iterator[SourceEntry]]:
        if options.fetched is None:
            raise FerrymanError("engine.internal", f"{uri}: read before it was fetched")
        entries = self._entries(_parse(uri), options.fetched, options)
        try:
            yield entries
        finally:
            entries.close()

    def _entries(self, batch: Batch, fetched: Path, options: ReadOptions) -> Generator[SourceEntry]:
        index = 0
        used: set[str] = set()
        inputs = []
        for place, item in enumerate(batch.items, 1):
            folder = fetched / str(place)
            done = _done(folder) or {"path": None}
            inner = dataclasses.replace(
                options,
                fetched=folder / str(done["path"]) if done.get("path") is not None else None,
                memo=_Prefixed(options.memo, f"{place}:") if options.memo is not None else None,
                job_name=_title_stem(item.title) or options.job_name,
                part_alone=True,  # its set, if its parts are here, is indexed here
            )
            inputs.append((item, done, inner))
        takeouts = self._takeouts(inputs)  # a Google Takeout's parts: indexed together
        for place, (item, done, inner) in enumerate(inputs, 1):
            own = {str(done.get("name") or ""), Path(str(done.get("path") or "")).name} - {""}
            name = _zip_name(item, done)
            told = takeouts.get(name)
            for entry in self._read_one(item, done, inner):
                if told is not None:  # under the part's name when its source puts it so
                    entry = told.told(entry, f"{name}/")
                path = entry.info.path
                if (kept := _in_folders(path, item)) is not None:
                    path = kept  # a watched folder's file: its folders in the folder kept
                elif path in own:  # the input is this one file (not an archive's): titled
                    path = _named(path, item.title)
                path = _unique(path, used, place)
                info = dataclasses.replace(entry.info, index=index, path=path)
                index += 1
                yield dataclasses.replace(entry, info=info)

    def _takeouts(
        self, inputs: list[tuple[BatchItem, dict[str, object], ReadOptions]]
    ) -> dict[str, TakeoutIndex]:
        """The parts of a Google Takeout among the inputs (by the names they were
        fetched under), each set indexed together (``sources/takeout_remote``): a
        sidecar in one part pairs with its photo in another, a copy in two is kept once."""
        from ferryman.sources.takeout_remote import set_index  # lazy: start-up

        parts = []
        for item, done, inner in inputs:
            name = _zip_name(item, done)
            if done.get("error") is not None or not name:
                continue
            source = self.registry.for_uri(item.uri)
            opener = getattr(source, "zip_in_place", None)
            in_place = functools.partial(opener, item.uri, inner) if callable(opener) else None
            parts.append((name, inner.fetched, in_place))
        return set_index(parts) if len(parts) > 1 else {}

    def _read_one(
        self, item: BatchItem, done: dict[str, object], options: ReadOptions
    ) -> Iterator[SourceEntry]:
        """One input's entries; one failed entry when it could not be had or read."""
        error = done.get("error")
        failed: FerrymanError | None = None
        if isinstance(error, list):
            failed = FerrymanError(str(error[0]), str(error[1]))
        else:
            try:
                with self.registry.for_uri(item.uri).open(item.uri, options) as entries:
                    yield from entries
                return
            except FerrymanError as exc:
                if exc.retryable or exc.code.startswith(("archive.password", "engine.", "space.")):
                    raise  # a password the person gives, a passing fault, room: the job's
                failed = exc
        name = safe_name(item.title or self.registry.describe(item.uri).rpartition("/")[2], "entry")
        info = EntryInfo(index=0, path=name, size=None, mtime=None, type=EntryType.FILE)
        yield SourceEntry(info, _no_blocks, error=failed)


def _zip_name(item: BatchItem, done: dict[str, object]) -> str:
    """The zip (or ``.tgz``) an input is, by the name it was fetched under, else its
    title's (a file read where it lies is fetched under its stem); "" when it is none."""
    for name in (str(done.get("name") or ""), (item.title or "").rpartition("/")[2]):
        if name.casefold().endswith((".zip", ".tgz")):
            return name
    return ""


def _no_blocks() -> Iterator[bytes]:
    return iter(())


def _title_stem(title: str | None) -> str | None:
    """An entry's title as a file's stem: an archive's or a known file type's
    extension goes (``drop01.zip`` → ``drop01``); None when there is nothing left."""
    if not title or not title.strip():
        return None
    stem = strip_archive_suffixes(title.strip())
    if stem == title.strip():
        before, dot, ext = stem.rpartition(".")
        if dot and before.strip() and mimetypes.guess_type(f"x.{ext}")[0] is not None:
            stem = before
    stem = safe_name(stem.strip(), "")
    return stem or None


def _named(path: str, title: str | None) -> str:
    """A file that is its whole input named after the input's title, keeping its own
    extension."""
    stem = _title_stem(title)
    if stem is None:
        return path
    base, dot, ext = path.rpartition(".")
    return f"{stem}.{ext}" if dot and base else stem


def _in_folders(path: str, item: BatchItem) -> str | None:
    """A file of this machine titled with its own path inside the watched folder
    (``2026/IMG_0001.jpg``: the folder lister's titles) keeps those folders, as
    ``ferryman add FOLDER`` does (the library's ``{path}``); None for any other input,
    whose title is a name, never folders (a feed's "AC/DC live" stays one name)."""
    title = item.title or ""
    if not item.uri.startswith("file:") or "/" not in title:
        return None
    parts = [part for part in title.split("/") if part not in ("", ".", "..")]
    if not parts or parts[-1] != path:
        return None
    return "/".join(safe_name(part, "_") for part in parts)


def _unique(path: str, used: set[str], place: int) -> str:
    """A name met twice in one job gets its input's place as a suffix."""
    stem, dot, suffix = path.rpartition(".")
    if not (dot and stem):
        stem, suffix = path, ""
    found, n = path, 0
    while found in used:
        n += 1
        mark = f"{place}" if n == 1 else f"{place}-{n}"
        found = f"{stem} ({mark}).{suffix}" if suffix else f"{stem} ({mark})"
    used.add(found)
    return found


def window_of(plan: FetchPlan) -> int:
    """Inputs fetched at once: twice the fetch stage's workers (one on a phone: two)."""
    workers = plan.settings.concurrency.fetch if plan.settings is not None else 1
    return max(2, 2 * workers)


def _size_of(done: dict[str, object]) -> int | None:
    size = done.get("size")
    return size if isinstance(size, int) else None


class _Tally:
    """The inputs' progress as one: bytes of all, the share a mean of the inputs'
    (whole: 1, not begun: 0), the speed of those in flight summed."""

    def __init__(self, report: ProgressCallback | None, sizes: list[int | None]) -> None:
        self.report = report
        self.shares = [1.0 if size is not None else 0.0 for size in sizes]
        self.done = [size or 0 for size in sizes]
        self.totals = list(sizes)
        self.speeds = [0.0] * len(sizes)

    def of(self, n: int) -> ProgressCallback | None:
        if self.report is None:
            return None

        def update(p: DownloadProgress) -> None:
            self.done[n], self.totals[n], self.speeds[n] = p.done, p.total, p.speed
            self.shares[n] = min(1.0, p.share or 0.0)
            self._send(p.phase)

        return update

    def whole(self, n: int, size: int | None) -> None:
        self.shares[n], self.speeds[n] = 1.0, 0.0
        self.done[n] = self.totals[n] = size or self.done[n]
        self._send("downloading")

    def _send(self, phase: str) -> None:
        if self.report is None or not self.shares:
            return
        known = None if None in self.totals else sum(t or 0 for t in self.totals)
        share = sum(self.shares) / len(self.shares)
        self.report(
            DownloadProgress(sum(self.done), known, sum(self.speeds), None, 0, share, phase)
        )


def _tries(plan: FetchPlan) -> int:
    """Passing faults one input is given before it fails alone, fewer than the fetch's
    own (``retry.max_attempts``), so one dead link does not fail the other inputs."""
    return max(1, plan.retry.max_attempts - 2)


def _tried(folder: Path) -> int:
    """Count one more passing fault of the input fetched into ``folder``; the count
    before it."""
    marks = folder / "batch-tries"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        before = int(marks.read_text(encoding="utf-8") or 0)
    except (OSError, ValueError):
        before = 0
    marks.write_text(str(before + 1), encoding="utf-8")
    return before + 1


def _done(folder: Path) -> dict[str, object] | None:
    try:
        found = json.loads((folder / _DONE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _record(folder: Path, done: dict[str, object]) -> None:
    """Written whole (a rename), so a crash leaves either no record or this one."""

    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{_DONE}.part"
    part.write_text(json.dumps(done), encoding="utf-8")
    os.replace(part, folder / _DONE)


class _Prefixed:
    """One input's share of the job's source memo (a WebDAV walk's listing per input)."""

    def __init__(self, memo: SourceMemo, prefix: str) -> None:
        self.memo, self.prefix = memo, prefix

    def get(self, key: str) -> str | None:
        return self.memo.get(self.prefix + key)

    def put(self, key: str, value: str) -> None:
        self.memo.put(self.prefix + key, value)


def _parse(uri: str) -> Batch:
    try:
        return Batch.parse(uri)
    except ValueError as exc:
        raise FerrymanError("source.invalid", f"not a batch of inputs: {exc}") from None
