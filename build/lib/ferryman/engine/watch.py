"""Checking a watch: list its source, keep what is new and wanted, make jobs of it.

A check holds the watch's lease (renewed while the source is listed, which may take a
while: yt-dlp runs in a child process, feeds and folders on a thread) and records
everything it made in one transaction with the seen rows (``store/watches``): a check
killed before that transaction made nothing, and the next check finds the same entries
new. A source that cannot be listed keeps its place and is looked at again later,
``failures`` in a row making the wait grow (its code and message stay for ``watch
list``). A daily window and the device's conditions (Wi-Fi only, battery) are
honoured: a check that may not run now is moved, not counted as a failure.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ferryman.config import Settings
from ferryman.device.conditions import Device
from ferryman.engine.events import Event, WatchFailing, WatchFound
from ferryman.errors import FerrymanError
from ferryman.sinks.base import SinkRegistry
from ferryman.sources.base import SourceRegistry
from ferryman.sources.listers.base import ListerRegistry, Resuming, Seen, WatchEntry
from ferryman.store import Store
from ferryman.store.rows import LeaseLost
from ferryman.store.schema import watches
from ferryman.store.watches import Watch, WatchJob, entry_key

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


@dataclass
class Checker:
    """What a check needs of the engine (or of ``watch check`` without one)."""

    store: Store
    sources: SourceRegistry
    sinks: SinkRegistry
    listers: ListerRegistry
    device: Device
    owner: str
    # How the listing is run: the engine cuts it at a stop (``pipeline.until_stopped``:
    # its threads' sockets closed, yt-dlp's child killed); nothing is recorded then.
    cut: Callable[[Awaitable[list[WatchEntry]]], Awaitable[list[WatchEntry]]] | None = None
    # The engine's bus (WatchFound, WatchFailing wake the notifier; the notice's event is
    # written with the check, in the store); None: unheard.
    publish: Callable[[Event], None] | None = None

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
        from ferryman.engine.leases import held

        try:
            async with held(store, watches, watch.id, self.owner, settings.lease_seconds):
                listing = await self._listing(watch, settings)
                entries = await (self.cut(listing) if self.cut is not None else listing)
                found = await self._sort(watch, entries, settings)
        except LeaseLost:
            raise
        except FerrymanError as exc:
            when = next_in_window(watch.window, store.clock() + backoff(watch, watch.failures + 1))
            log.info(
                "watch %s: %s: %s (next look in %.0f s)",
                watch.id,
                exc.code,
                exc.message,
                when - store.clock(),
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
        made, skipped, jobs = found
        when = next_in_window(watch.window, store.clock() + watch.every_seconds)
        message = f"{len(entries)} listed, {len(made)} new" if entries else "nothing listed"
        recorded = await store.watch_checked(watch.id, self.owner, jobs, when, message=message)
        by_entry = {entry: job for entry, job in recorded.jobs}
        made_jobs = [
            (entry, job.id) for entry in made if (job := by_entry.get(entry.id)) is not None
        ]
        if made_jobs and self.publish is not None:
            self.publish(
                WatchFound(
                    watch_id=watch.id,
                    source=self._shown(watch),
                    dest=watch.dest,
                    jobs=tuple(job_id for _, job_id in made_jobs),
                    titles=tuple(entry.title for entry, _ in made_jobs),
                )
            )
        return Found(watch, len(entries), made_jobs, skipped, next_at=when)

    async def _listing(self, watch: Watch, settings: Settings) -> Awaitable[list[WatchEntry]]:
        """The source's listing, to be awaited: a source read on from a point (a chat's
        history) is told what the watch has seen and what its first check takes."""
        lister = self.listers.get(watch.kind)
        if isinstance(lister, Resuming):
            ids = tuple(entry for entry, _ in await self.store.watch_seen_rows(watch.id))
            seen = Seen(ids, None if watch.primed else watch.since)
            return lister.entries_after(watch.source, settings, seen)
        return lister.entries(watch.source, settings)

    def _shown(self, watch: Watch) -> str:
        """The source as ``watch list`` shows it (no user info, no query)."""
        try:
            return self.listers.get(watch.kind).describe(watch.source)
        except FerrymanError:
            return watch.kind

    async def _sort(
        self, watch: Watch, entries: Sequence[WatchEntry], settings: Settings
    ) -> tuple[list[WatchEntry], list[tuple[WatchEntry, str]], list[WatchJob]]:
        """The new entries: those to make into jobs (oldest first) and those only marked
        seen (with why), and the store's records for both."""
        seen = await self.store.watch_seen_keys(watch.id)
        new: list[WatchEntry] = []
        for entry in entries:
            key = entry_key(entry.id)
            if key not in seen:
                seen.add(key)
                new.append(entry)
        marks = [(e, e.skip) for e in new if e.skip is not None]  # seen, never a job
        take, skipped = _first_check(watch, [e for e in new if e.skip is None])
        skipped.extend(marks)
        wanted: list[WatchEntry] = []
        for entry in take:
            why = _filtered(watch, entry)
            if why is None:
                wanted.append(entry)
            else:
                skipped.append((entry, why))
        wanted = _oldest_first(wanted)
        understood = await asyncio.to_thread(self._understand_all, watch, wanted, settings)
        records: list[WatchJob] = []
        made: list[WatchEntry] = []
        for entry, job in zip(wanted, understood, strict=True):
            if isinstance(job, str):
                skipped.append((entry, job))
                continue
            made.append(entry)
            records.append(WatchJob(entry.id, entry.title, job))
        records.extend(WatchJob(entry.id, entry.title, None) for entry, _ in skipped)
        return made, skipped, records

    def _understand_all(
        self, watch: Watch, entries: list[WatchEntry], settings: Settings
    ) -> list[dict[str, object] | str]:
        """Each entry's job (``add_job`` arguments), or why it cannot be one; on one
        thread (a hop per entry cost more than the work)."""
        found: list[dict[str, object] | str] = []
        for entry in entries:
            try:
                found.append(self._understand(watch, entry, settings))
            except FerrymanError as exc:
                if exc.code.startswith(("sink.", "telegram.", "link.bad_profile")):
                    raise  # the destination or the profile: no entry can go; try later
                found.append(f"{exc.code}: {exc.message}")
        return found

    def _understand(self, watch: Watch, entry: WatchEntry, settings: Settings) -> dict[str, object]:
        from ferryman.engine.intake import understand
        from ferryman.links.profile import Profile, parse_token

        profile = parse_token(watch.profile) if watch.profile else None
        if profile is None and watch.kind == "ytdlp":
            profile = Profile()  # a video page: an MP4 up to 1080p, as `add` makes it
        new = understand(
            entry.input,
            dest=watch.dest,
            sources=self.sources,
            sinks=self.sinks,
            settings=settings,
            profile=profile,
        )
        job = new.job(new.name, 0, None)
        job["notify"] = watch.notify  # the watch's notice targets are its jobs' too
        if entry.ident is not None:  # one chat however spelled: one job per post
            from ferryman.engine.intake import dedupe_key

            job["dedupe_key"] = dedupe_key(entry.ident, str(job["dest"]))
        if self.listers.get(watch.kind).changes_in_place:
            job["dedupe_key"] = None  # a changed file is new: the seen rows keep it once
        return job


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
