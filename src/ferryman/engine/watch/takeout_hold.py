"""A Google Takeout's parts held until their set is quiet, for every kind of watch (a
folder, WebDAV, an rclone remote, a Telegram chat): one rule, here, between the
listing and the plan (``engine/watch/check``).

Google numbers a Takeout's parts (``takeout-20261129T101010Z-001.zip``, ``-002.zip``,
newer exports ``…Z-3-001.zip``) and never says how many there are; they come one by
one, minutes or hours apart. A part read before the part holding its photos' sidecars
came would keep its photos' own dates, and a photo in two parts' album folders would be
stored twice. So a watch holds every part of a set it has not taken yet until no part of
the set has come or changed for ``watch.takeout_quiet_seconds``, then takes all of them
at one look: one job, its parts indexed together (``sources/batch``, ``takeout_remote``).

A part is "come" at the later of when the watch first listed it and its own time (a
file's modification time, a post's date; a time after now counts as now), so a part
copied in with an old time is still waited for. When the watch first listed it is
recorded in the store (a ``watch_seen`` row named ``takeout-held:`` with the part's
entry, written in the look's own transaction, removed in the one that records the part
taken: ``WatchJob.replaces``), never in memory: a restart during the quiet time keeps
the set's clock and its parts, and a part is taken once, with the seen rows that make
every job once. A chat is read on from its last message, so a held
part is not listed again: its recorded entry is put back into each look.

A part that comes after its set was taken (a set is quiet for the whole quiet time
first) is a set of its own: held as well, then its own job. Its photos whose sidecars
were in the parts already taken keep their own dates (and a photo it shares with them
is stored again). A ``.tgz`` export's parts are held by a watch of a folder here or of
an rclone remote (copied whole: indexed together), not by others, where a ``.tgz`` is
read alone (``listers.base.part_set``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from ferryman.config import Settings
from ferryman.sources.listers.base import Lister, Resuming, WatchEntry, part_set
from ferryman.store.ports import WatchStore
from ferryman.store.watches.sql import Watch, WatchJob, entry_key

HELD = "takeout-held:"  # a held part's seen row: its entry and when it was first listed


@dataclass(frozen=True, slots=True)
class Held:
    """A part recorded while its set was held: its entry and when the watch first
    listed it (the store's clock); ``row``: its seen row's id, removed in the
    transaction that records the part taken (``WatchJob.replaces``)."""

    entry: WatchEntry
    at: float
    row: str = ""


def not_held(ids: Iterable[str]) -> tuple[str, ...]:
    """Seen entry ids without the held parts' records (a chat reads on from these)."""
    return tuple(ident for ident in ids if not ident.startswith(HELD))


def held_row(entry: WatchEntry, at: float) -> WatchJob:
    """The seen row that records ``entry`` held since ``at`` (marked seen, no job)."""
    said = {
        "id": entry.id,
        "input": entry.input,
        "title": entry.title,
        "published": entry.published,
        "ident": entry.ident,
        "name": entry.name,
        "at": at,
    }
    return WatchJob(HELD + json.dumps(said, sort_keys=True), entry.title, None)


def recorded(ids: Iterable[str]) -> dict[str, Held]:
    """The held parts recorded among seen entry ids, by their entry's id (a record that
    cannot be read is none: its part is first listed again)."""
    found: dict[str, Held] = {}
    for ident in ids:
        if not ident.startswith(HELD):
            continue
        try:
            said = json.loads(ident[len(HELD) :])
            entry = WatchEntry(
                id=str(said["id"]),
                input=str(said["input"]),
                title=str(said["title"]),
                published=_number(said.get("published")),
                ident=_text(said.get("ident")),
                name=_text(said.get("name")),
            )
            at = _number(said["at"])
        except (ValueError, KeyError, TypeError):
            continue
        if at is not None:
            found[entry.id] = Held(entry, at, ident)
    return found


def hold(
    listed: Iterable[WatchEntry],
    held: Mapping[str, Held],
    seen: Collection[str],
    now: float,
    quiet: float,
    *,
    resuming: bool,
) -> tuple[list[WatchEntry], list[WatchJob]]:
    """The listing with each part of a set not quiet yet given the time to look again
    (``ready_at``: not taken at this look), and the seen rows recording the parts first
    listed now. ``held``: the parts recorded before; ``seen``: the ids the watch has
    seen (a part taken is no longer its set's); ``resuming``: a chat, whose held parts
    are put back into the listing."""
    entries = list(listed)
    if resuming:
        there = {entry.id for entry in entries}
        entries += [h.entry for i, h in held.items() if i not in there and i not in seen]
    sets: dict[tuple[str, str], list[int]] = {}
    for n, entry in enumerate(entries):
        key = part_set(entry)
        if key is not None and entry.skip is None and entry.id not in seen:
            sets.setdefault(key, []).append(n)
    rows: list[WatchJob] = []
    for places in sets.values():
        changed, new = 0.0, []
        for n in places:
            entry = entries[n]
            before = held.get(entry.id)
            if before is None and entry.ready_at is None:
                new.append(entry)
            first = now if before is None else before.at
            changed = max(changed, first, min(entry.published or 0.0, now))
        if now - changed >= quiet:
            continue  # quiet: every part there now, at this look
        rows += [held_row(entry, now) for entry in new]
        for n in places:
            ready = max(entries[n].ready_at or 0.0, changed + quiet)
            entries[n] = replace(entries[n], ready_at=ready)
    return entries, rows


async def hold_takeouts(
    store: WatchStore,
    watch: Watch,
    lister: Lister,
    listed: list[WatchEntry],
    settings: Settings,
) -> tuple[list[WatchEntry], list[WatchJob], dict[str, str]]:
    """``hold`` for a watch's look, its records read from the store: only when a part
    not taken yet is listed (or the source is a chat, where a held part is not listed
    again). A first look's ``--since`` decides alone what was there before the watch.
    Also each held part's record by its entry's id: a part taken at this look carries
    its record's id (``taken``), which goes in the transaction that makes its job."""
    if not watch.primed and watch.since != "all":
        return listed, [], {}
    resuming = isinstance(lister, Resuming)
    parts = {entry_key(e.id) for e in listed if e.skip is None and part_set(e) is not None}
    if not resuming and (
        not parts or len(await store.watch_seen_among(watch.id, parts)) == len(parts)
    ):
        return listed, [], {}
    ids = [ident for ident, _ in await store.watch_seen_rows(watch.id)]
    quiet = settings.watch.takeout_quiet_seconds
    held = recorded(ids)
    entries, rows = hold(listed, held, set(ids), store.clock(), quiet, resuming=resuming)
    return entries, rows, {i: h.row for i, h in held.items()}


def taken(job: WatchJob, held: Mapping[str, str]) -> WatchJob:
    """``job`` (a part's, recorded now) replacing its held record, if it has one."""
    row = held.get(job.entry_id)
    return job if row is None else replace(job, replaces=row)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
