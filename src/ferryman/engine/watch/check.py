"""Checking a watch: list its source, keep what is new and wanted, make one job of it
(a batch's worth: its entries' inputs in the source's order, named after the feed,
channel or folder; ``sources/batch``).

A check holds the watch's lease (renewed while the source is listed: yt-dlp in a child,
feeds and folders on a thread) and records new entries in batches (``watch.batch_size``),
each batch's jobs and seen rows in one short transaction (``store/watches``): other work
runs between batches. At most ``watch.entries_per_pass`` a check; the rest are the next
check's, due at once, found by the seen rows (a check killed between batches keeps what
it recorded). A source that cannot be listed keeps its place and is looked at again
later, ``failures`` in a row making the wait grow (its code and message stay for ``watch
list``). A daily window and the device's conditions (Wi-Fi, battery) move a check, not
counted as a failure.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from ferryman.clock import SYSTEM, Clock
from ferryman.config import Settings
from ferryman.device.conditions import Device
from ferryman.engine.context import Stopping
from ferryman.engine.plumbing.events import Event, WatchFailing, WatchFound
from ferryman.engine.plumbing.leases import held
from ferryman.engine.plumbing.personal import for_watch
from ferryman.engine.watch.takeout_hold import hold_takeouts, not_held, taken
from ferryman.engine.watch.tidy import after_delivery
from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.links.profile import Profile, parse_token
from ferryman.sinks.base import SinkRegistry
from ferryman.sources.base import SourceRegistry
from ferryman.sources.listers.base import ListerRegistry, Resuming, Seen, WatchEntry
from ferryman.store.claimed import Claimed
from ferryman.store.ports import WatchStore
from ferryman.store.shared.rows import LeaseLost
from ferryman.store.watches.sql import Made, Watch, WatchJob, entry_key

log = logging.getLogger(__name__)

BACKOFF_BASE = 60.0  # seconds after the first failure (less for a watch checked more often)
BACKOFF_MAX = 6 * 3600.0  # at most, unless the watch's own period is longer
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_window(text: str) -> tuple[int, int]:
    """``HH:MM-HH:MM`` (local time; the end may be after midnight) as minutes of the day."""
    found = _WINDOW.match(text.strip())
    if found is None:
        raise FerrymanError(
            "watch.bad_window",
            f"window '{text}': give it as HH:MM-HH:MM in 24-hour local time, e.g. 01:00-07:00",
        )
    start = int(found.group(1)) * 60 + int(found.group(2))
    end = int(found.group(3)) * 60 + int(found.group(4))
    if start == end:
        raise FerrymanError("watch.bad_window", f"window '{text}' is empty: start and end agree")
    return start, end


def in_window(window: str | None, at: float) -> bool:
    if window is None:
        return True
    start, end = parse_window(window)
    local = datetime.fromtimestamp(at)
    minute = local.hour * 60 + local.minute
    return start <= minute < end if start < end else minute >= start or minute < end


def next_in_window(window: str | None, at: float) -> float:
    """``at`` if the window is open then, else when it next opens."""
    if in_window(window, at):
        return at
    assert window is not None
    start, _ = parse_window(window)
    local = datetime.fromtimestamp(at)
    opens = local.replace(hour=start // 60, minute=start % 60, second=0, microsecond=0)
    if opens <= local:
        opens += timedelta(days=1)
    return opens.timestamp()


def backoff(watch: Watch, failures: int) -> float:
    """Seconds to the next look after ``failures`` failed checks in a row."""
    base = min(watch.every_seconds, BACKOFF_BASE)
    return float(min(base * 2 ** max(failures - 1, 0), max(watch.every_seconds, BACKOFF_MAX)))


@dataclass(frozen=True, slots=True)
class Found:
    """A check's outcome, as ``watch check`` prints it."""

    watch: Watch
    listed: int = 0
    made: list[tuple[WatchEntry, int]] = field(default_factory=list)  # (entry, job id)
    skipped: list[tuple[WatchEntry, str]] = field(default_factory=list)  # (entry, why)
    error: FerrymanError | None = None
    waited: bool = False  # not checked: the device or the window said not now
    next_at: float = 0.0
    more: int = 0  # new entries left for the next check (one check records a bounded part)
    tidied: list[str] = field(default_factory=list)  # --then: "deleted X", "moved X to Y"
    held: list[WatchEntry] = field(default_factory=list)  # still being written: not yet


class EntryJob(Protocol):
    """How a watch's entry becomes a job's row: intake's (``ops/intake.entry_job``), handed
    to the stage by whoever makes the ``Checker`` (a stage imports no operation)."""

    def __call__(
        self,
        raw: str,
        *,
        dest: str,
        ident: str | None,
        profile: Profile | None,
        sources: SourceRegistry,
        sinks: SinkRegistry,
    ) -> dict[str, object]: ...


@dataclass
class Checker:
    """What a check needs of the engine (or of ``watch check`` without one)."""

    store: WatchStore
    sources: SourceRegistry
    sinks: SinkRegistry
    listers: ListerRegistry
    device: Device
    owner: str
    enter: EntryJob = field(kw_only=True)  # an entry's job, as intake makes it
    # Its person's limits, before a look's entries become a job (``ops/limits``): raises.
    limited: Callable[[Watch], Awaitable[None]] | None = field(default=None, kw_only=True)
    # How the listing is run: the engine cuts it at a stop (``plumbing/stages.until_stopped``:
    # its threads' sockets closed, yt-dlp's child killed); nothing is recorded then.
    cut: Callable[[Awaitable[list[WatchEntry]]], Awaitable[list[WatchEntry]]] | None = None
    # The engine's bus (WatchFound, WatchFailing wake the notifier; the notice's event is
    # written with the check, in the store); None: unheard.
    publish: Callable[[Event], None] | None = None
    # The engine's stop: a check stops between batches (what it recorded stays).
    stopping: asyncio.Event | None = None
    # The engine's clock: the lease's heartbeat renews on it (a test moves it).
    clock: Clock = field(default=SYSTEM, kw_only=True)

    async def check(self, watch: Watch, settings: Settings, *, now_asked: bool = False) -> Found:
        """Check a watch this checker holds the lease of. ``now_asked``: a person asked
        (``watch check``): the window does not hold it back, the device still does. A
        check whose lease was taken meanwhile (it took longer than the lease, and
        another node looked) records nothing and says so."""
        try:
            return await self._check(watch, settings, now_asked)
        except LeaseLost as exc:
            log.warning("watch %s: %s; its look is not recorded", watch.id, exc.message)
            return Found(watch, error=exc)

    async def _check(self, watch: Watch, settings: Settings, now_asked: bool) -> Found:
        store = self.store
        now = store.clock()
        if not now_asked and not in_window(watch.window, now):
            when = next_in_window(watch.window, now)
            await store.watch_moved(watch.id, self.owner, when)
            return Found(watch, waited=True, next_at=when)
        waiting = await self.device.check(settings.network.wifi_only, settings.power.min_battery)
        if waiting is not None:
            when = now + settings.network.recheck_seconds
            await store.watch_failed(watch.id, self.owner, waiting, when, count=False)
            return Found(watch, error=waiting, waited=True, next_at=when)

        try:
            async with held(
                store, Claimed.WATCH, watch.id, self.owner, settings.lease_seconds, clock=self.clock
            ):
                settings = await for_watch(store, settings, watch)  # its person's rclone.conf
                listing = await self._listing(watch, settings)
                listed = await (self.cut(listing) if self.cut is not None else listing)
                lister = self.listers.get(watch.kind)  # a Takeout's parts: held till quiet
                listed, holding, holds = await hold_takeouts(store, watch, lister, listed, settings)
                entries = [entry for entry in listed if entry.ready_at is None]
                writing = [entry for entry in listed if entry.ready_at is not None]
                unsettled = [entry.ready_at for entry in writing if entry.ready_at is not None]
                plan = await self._plan(watch, entries, settings.watch.batch_size)
                if self.limited is not None and any(why is None for _, why in plan):
                    await self.limited(watch)
                limit = settings.watch.entries_per_pass
                into = replace(await self._into(watch, entries), held=holds)
                taken = await self._take(watch, plan[:limit], settings, into)
                tidied = await after_delivery(
                    self.store, lister, watch, entries, settings, self.sinks
                )
        except LeaseLost:
            raise
        except FerrymanError as exc:
            when = next_in_window(watch.window, store.clock() + backoff(watch, watch.failures + 1))
            wait = when - store.clock()
            log.info(
                "watch %s: %s: %s (next look in %.0f s)", watch.id, exc.code, exc.message, wait
            )
            await store.watch_failed(watch.id, self.owner, exc, when)
            if watch.failures == 0 and self.publish is not None:  # it was fine until now
                self.publish(
                    WatchFailing(
                        watch_id=watch.id,
                        source=self._shown(watch),
                        code=exc.code,
                        message=exc.message,
                        next_at=when,
                    )
                )
            return Found(watch, error=exc, next_at=when)
        made, skipped, last, done = taken
        more = len(plan) - done
        when = store.clock()  # the rest is the next check's, at once
        if not more:
            when = next_in_window(watch.window, when + watch.every_seconds)
        if unsettled:  # a file still being written: looked at again once it has settled
            when = min(when, next_in_window(watch.window, max(min(unsettled), store.clock())))
        new = len(made) + sum(1 for _, record in last if record.job is not None)
        message = f"{len(entries)} listed, {new} new" if entries else "nothing listed"
        message += f", {more} more at the next look" if more else ""
        message += f", {len(unsettled)} held for later" if unsettled else ""
        in_notice = [(job, entry.title) for entry, job in made]
        recorded = await store.watch_checked(
            watch.id,
            self.owner,
            [*(job for _, job in into.ordered(last)), *holding],
            when,
            message=message,
            primed=watch.primed or not more,
            in_notice=in_notice,
            name=into.name,
            peers=into.peers,
        )
        made.extend(_made(recorded, last))
        if made and self.publish is not None:
            self.publish(
                WatchFound(
                    watch_id=watch.id,
                    source=self._shown(watch),
                    dest=watch.dest,
                    jobs=tuple(dict.fromkeys(job_id for _, job_id in made)),
                    titles=tuple(entry.title for entry, _ in made),
                )
            )
        found = Found(watch, len(entries), made, skipped, next_at=when, more=more)
        return replace(found, tidied=tidied, held=writing)

    async def _into(self, watch: Watch, entries: Sequence[WatchEntry]) -> _Into:
        """What a look's job is called and where its entries may already be: the
        watches of the same kind to the same place, when the source's entries have an
        identity however the source is spelled (a chat by name or by number)."""
        peers: tuple[int, ...] = ()
        if any(entry.ident is not None for entry in entries):
            peers = tuple(
                w.id
                for w in await self.store.list_watches()
                if w.id != watch.id and w.kind == watch.kind and w.dest == watch.dest
            )
        group = next((e.group for e in entries if e.group), None)
        name = safe_name(group, "watch") if group else _named_after(self._shown(watch))
        listed = list(entries)
        if self.listers.get(watch.kind).read_oldest_first:
            listed.reverse()  # a chat, listed newest first, is read top down
        return _Into(name, peers, {entry.id: n for n, entry in enumerate(listed)})

    async def _take(
        self,
        watch: Watch,
        plan: Sequence[tuple[WatchEntry, str | None]],
        settings: Settings,
        into: _Into,
    ) -> tuple[
        list[tuple[WatchEntry, int]],
        list[tuple[WatchEntry, str]],
        list[tuple[WatchEntry, WatchJob]],
        int,
    ]:
        """Record ``plan`` batch by batch, each in its own short transaction, other work
        running between them; a stop ends it between batches. The last batch is not
        recorded here but returned, for the check's own last transaction (a check of a
        few new entries stays one transaction). Returns the jobs made, the entries only
        marked seen, that last batch, and how many of ``plan`` these are."""
        size = settings.watch.batch_size
        made: list[tuple[WatchEntry, int]] = []
        skipped: list[tuple[WatchEntry, str]] = []
        for start in range(0, len(plan), size):
            batch = await self._batch(watch, plan[start : start + size], settings, skipped)
            if start + size >= len(plan):
                return made, skipped, batch, len(plan)
            recorded = await self.store.watch_recorded(
                watch.id,
                self.owner,
                [job for _, job in into.ordered(batch)],
                name=into.name,
                peers=into.peers,
            )
            made.extend(_made(recorded, batch))
            if self.stopping is not None and self.stopping.is_set():
                return made, skipped, [], start + size
        return made, skipped, [], 0

    def _stop_now(self) -> None:
        """Raise ``Stopping`` at the engine's stop: nothing of this pass is written yet."""
        if self.stopping is not None and self.stopping.is_set():
            raise Stopping

    async def _batch(
        self,
        watch: Watch,
        batch: Sequence[tuple[WatchEntry, str | None]],
        settings: Settings,
        skipped: list[tuple[WatchEntry, str]],
    ) -> list[tuple[WatchEntry, WatchJob]]:
        """A batch's records: each wanted entry's job (understood on a thread), each
        entry left out (added to ``skipped``, with why) marked seen only."""
        wanted = [entry for entry, why in batch if why is None]
        understood = iter(await asyncio.to_thread(self._understand_all, watch, wanted, settings))
        records: list[tuple[WatchEntry, WatchJob]] = []
        for entry, why in batch:
            job = next(understood) if why is None else why
            if isinstance(job, str):
                skipped.append((entry, job))
                records.append((entry, WatchJob(entry.id, entry.title, None)))
            else:
                records.append((entry, WatchJob(entry.id, entry.title, job)))
        return records

    async def _listing(self, watch: Watch, settings: Settings) -> Awaitable[list[WatchEntry]]:
        """The source's listing, to be awaited: a source read on from a point (a chat's
        history) is told what the watch has seen and what its first check takes."""
        lister = self.listers.get(watch.kind)
        if isinstance(lister, Resuming):
            ids = not_held(entry for entry, _ in await self.store.watch_seen_rows(watch.id))
            seen = Seen(ids, None if watch.primed else watch.since)
            return lister.entries_after(watch.source, settings, seen)
        return lister.entries(watch.source, settings)

    def _shown(self, watch: Watch) -> str:
        """The source as ``watch list`` shows it (no user info, no query)."""
        try:
            return self.listers.get(watch.kind).describe(watch.source)
        except FerrymanError:
            return watch.kind

    async def _plan(
        self, watch: Watch, entries: Sequence[WatchEntry], batch_size: int
    ) -> list[tuple[WatchEntry, str | None]]:
        """The new entries in the order they are recorded: those only marked seen first
        (with why), then those to make into jobs, oldest first. Left out first, so a
        first check carried over to another pass makes the same choice again (its
        ``--since`` newest are still among what is left). Seen rows are asked about a
        batch at a time, yielding between batches."""
        new: list[WatchEntry] = []
        keys: set[str] = set()
        for start in range(0, len(entries), batch_size):
            self._stop_now()
            chunk = entries[start : start + batch_size]
            seen = await self.store.watch_seen_among(watch.id, {entry_key(e.id) for e in chunk})
            for entry in chunk:
                key = entry_key(entry.id)
                if key not in seen and key not in keys:
                    keys.add(key)
                    new.append(entry)
        left_out = [(e, e.skip) for e in new if e.skip is not None]  # seen, never a job
        take, before = _first_check(watch, [e for e in new if e.skip is None])
        left_out.extend(before)
        wanted: list[WatchEntry] = []
        for entry in take:
            why = _filtered(watch, entry)
            if why is None:
                wanted.append(entry)
            else:
                left_out.append((entry, why))
        return [*left_out, *((entry, None) for entry in _oldest_first(wanted))]

    def _understand_all(
        self, watch: Watch, entries: list[WatchEntry], settings: Settings
    ) -> list[dict[str, object] | str]:
        """Each entry's job (``add_job`` arguments), or why it cannot be one; on one
        thread (a hop per entry cost more than the work). The destination is checked
        once, not per entry (a library's check makes and removes a folder)."""
        found: list[dict[str, object] | str] = []
        if entries:
            self.sinks.check_ready(settings, watch.dest)  # no entry can go: try later
        for entry in entries:
            try:
                found.append(self._understand(watch, entry))
            except FerrymanError as exc:
                if exc.code.startswith(("sink.", "telegram.", "link.bad_profile")):
                    raise  # the destination or the profile: no entry can go; try later
                found.append(f"{exc.code}: {exc.message}")
        return found

    def _understand(self, watch: Watch, entry: WatchEntry) -> dict[str, object]:
        profile = parse_token(watch.profile) if watch.profile else None
        if profile is None and watch.kind == "ytdlp":
            profile = Profile()  # a video page: an MP4 up to 1080p, as `add` makes it
        job = self.enter(  # no settings: the destination was checked for the batch
            entry.input,
            dest=watch.dest,
            ident=entry.ident,  # one chat however spelled: one job per post
            profile=profile,
            sources=self.sources,
            sinks=self.sinks,
        )
        job["notify"] = watch.notify  # the watch's notice targets are its jobs' too
        if self.listers.get(watch.kind).changes_in_place:
            job["dedupe_key"] = None  # a changed file is new: the seen rows keep it once
        return job


@dataclass(frozen=True, slots=True)
class _Into:
    """The job a look's entries become: its name (the feed's title, else the source's
    last part), the watches whose jobs may hold an entry already, each entry's place
    in the listing (the inputs keep the source's order), held Takeout parts' records."""

    name: str
    peers: tuple[int, ...]
    places: dict[str, int]
    held: dict[str, str] = field(default_factory=dict)  # gone as their parts are taken

    def ordered(
        self, batch: Sequence[tuple[WatchEntry, WatchJob]]
    ) -> list[tuple[WatchEntry, WatchJob]]:
        made = sorted(batch, key=lambda pair: self.places.get(pair[0].id, 0))
        return [(entry, taken(job, self.held)) for entry, job in made]


def _named_after(shown: str) -> str:
    """A job name from the watched source as shown (``https://t.me/newsroom`` →
    ``newsroom``, ``…/Family/`` → ``Family``, ``…/feed.xml`` → ``feed``)."""

    parts = urllib.parse.urlsplit(shown)
    tail = (parts.path if parts.scheme else shown).rstrip("/").rpartition("/")[2]
    tail = urllib.parse.unquote(tail) or parts.netloc or shown
    stem, dot, ext = tail.rpartition(".")
    if dot and stem and mimetypes.guess_type(f"x.{ext}")[0] is not None:
        tail = stem
    return safe_name(tail, "watch")


def _made(
    recorded: Made, batch: Sequence[tuple[WatchEntry, WatchJob]]
) -> list[tuple[WatchEntry, int]]:
    """(entry, job id) of each entry of ``batch`` the store made a job; an entry the
    store found seen meanwhile (another check) is neither made nor left out by this one."""
    by_entry = {entry: job for entry, job in recorded.jobs}
    return [
        (entry, job.id)
        for entry, record in batch
        if record.job is not None and (job := by_entry.get(entry.id)) is not None
    ]


def _first_check(
    watch: Watch, new: list[WatchEntry]
) -> tuple[list[WatchEntry], list[tuple[WatchEntry, str]]]:
    """What the first check takes: ``since`` now (nothing there before), all, or the N
    newest; the rest is only marked seen."""
    if watch.primed or watch.since == "all":
        return new, []
    keep = 0 if watch.since == "now" else int(watch.since)
    newest = _newest_first(new)
    return newest[:keep], [(e, "there before the watch (--since)") for e in newest[keep:]]


def _newest_first(entries: list[WatchEntry]) -> list[WatchEntry]:
    """By publication time when every entry has one, else in the source's order."""
    if entries and all(e.published is not None for e in entries):
        return sorted(entries, key=lambda e: -(e.published or 0.0))
    return list(entries)


def _oldest_first(entries: list[WatchEntry]) -> list[WatchEntry]:
    return list(reversed(_newest_first(entries)))


def _filtered(watch: Watch, entry: WatchEntry) -> str | None:
    """Why the watch's filters leave the entry out, or None. An unknown duration passes."""
    if watch.match and re.search(watch.match, entry.title, re.IGNORECASE) is None:
        return f"title does not match {watch.match!r}"
    if watch.skip_match and re.search(watch.skip_match, entry.title, re.IGNORECASE):
        return f"title matches {watch.skip_match!r}"
    if entry.duration is not None:
        if watch.min_duration is not None and entry.duration < watch.min_duration:
            return f"shorter than {watch.min_duration:g} s"
        if watch.max_duration is not None and entry.duration > watch.max_duration:
            return f"longer than {watch.max_duration:g} s"
    return None
