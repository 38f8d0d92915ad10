"""Where the trip's time goes: a timeline per album (read, staged, on the wire, uploaded,
sent) from the engine's events, summarised in one line per run of ``bench trip``.

An album's "read" is when its last entry was read (``JobProgress``), "staged" when its
last item was recorded (``ItemRecorded``: staged, prepared, converted), "on the wire"
its first ``AlbumSending``, "uploaded" its last ``AlbumSending`` (progress of its files), and
"sent" its ``AlbumDelivered``. Times are seconds from the ``add``.

The uplink is busy while some album uploads (the union of their on wire -> uploaded);
each idle stretch before an album goes on the wire is split at that album's "staged":
before it, the uplink waited for the read; after it, an album was there to upload and
the engine held it back. Time with two albums or more uploading at once is counted too
(they share the one uplink, so each is later than alone).
"""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from ferryman.engine.plumbing.events import (
    AlbumDelivered,
    AlbumSending,
    Event,
    ItemConverted,
    ItemRecorded,
    JobProgress,
)
from ferryman.store import Store
from ferryman.store.schema import albums


@dataclass
class AlbumTimes:
    seq: int
    read: float
    staged: float
    on_wire: float
    uploaded: float
    sent: float


@dataclass
class Clock:
    """The engine's events, timed from ``t0`` (``time.perf_counter``)."""

    t0: float = field(default_factory=time.perf_counter)
    entries: dict[int, float] = field(default_factory=dict)  # entry index -> read
    items: dict[int, float] = field(default_factory=dict)  # item id -> last recorded
    wire: dict[int, list[float]] = field(default_factory=dict)  # album seq -> on, up, sent
    transcode_s: float = 0.0

    def start(self) -> None:
        self.t0 = time.perf_counter()

    def on_event(self, event: Event) -> None:
        now = time.perf_counter() - self.t0
        if isinstance(event, JobProgress):
            self.entries.setdefault(event.entry, now)
        elif isinstance(event, ItemRecorded):
            self.items[event.item_id] = now
        elif isinstance(event, AlbumSending):
            self.wire.setdefault(event.album, [now, now, now])[1] = now  # the last: uploaded
        elif isinstance(event, AlbumDelivered):
            self.wire.setdefault(event.album, [now, now, now])[2] = now
        elif isinstance(event, ItemConverted):
            self.transcode_s += event.seconds

    @property
    def marks(self) -> dict[str, float]:
        read = sorted(self.entries.values()) or [0.0]
        on_wire = min((w[0] for w in self.wire.values()), default=0.0)
        return {"first entry read": read[0], "last entry read": read[-1], "first byte up": on_wire}

    async def albums(self, store: Store, job_id: int) -> list[AlbumTimes]:
        """Each delivered album's timeline, in the order they were sent."""
        async with store.reader.connect() as conn:
            rows = await conn.execute(
                select(albums.c.id, albums.c.seq).where(albums.c.job_id == job_id)
            )
            seq_of = {row.id: row.seq for row in rows}
        members: dict[int, list[tuple[int, int]]] = {}
        for item in await store.job_items(job_id):
            if item.album_id in seq_of:
                members.setdefault(seq_of[item.album_id], []).append((item.seq, item.id))
        found = []
        for seq, wire in sorted(self.wire.items(), key=lambda kv: kv[1][0]):
            its = members.get(seq, [])
            read = max((self.entries.get(s, 0.0) for s, _ in its), default=0.0)
            staged = max((self.items.get(i, 0.0) for _, i in its), default=0.0)
            found.append(AlbumTimes(seq, read, staged, *wire))
        return found


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f}/{max(values):.1f}"


@dataclass
class Uplink:
    """Where the uplink's time went between the first album on the wire and the last
    uploaded (seconds): busy, idle waiting for the read, idle with an album staged (held
    back), and shared (two albums or more uploading at once)."""

    busy: float = 0.0
    idle_read: float = 0.0
    idle_held: float = 0.0
    shared: float = 0.0


def uplink(spans: list[AlbumTimes]) -> Uplink:
    """The union of the albums' uploads (on wire -> uploaded), its gaps split at the
    staging of the album that ends each, and the time two or more overlapped."""
    found = Uplink()
    ordered = sorted(spans, key=lambda a: a.on_wire)
    covered = ordered[0].on_wire if ordered else 0.0  # the union's end so far
    for a in ordered:
        if a.on_wire > covered:
            held_from = max(covered, a.staged)
            found.idle_read += max(0.0, min(a.on_wire, held_from) - covered)
            found.idle_held += max(0.0, a.on_wire - held_from)
        found.busy += max(0.0, a.uploaded - max(a.on_wire, covered))
        covered = max(covered, a.uploaded)
    edges = sorted([(a.on_wire, 1) for a in spans] + [(a.uploaded, -1) for a in spans])
    at_once, last = 0, 0.0
    for t, step in edges:
        if at_once >= 2:
            found.shared += t - last
        at_once, last = at_once + step, t
    return found


def details(spans: list[AlbumTimes]) -> list[str]:
    """One line per album, in the order they went on the wire: its marks (s from the add)."""
    return [
        f"album {a.seq:>3}: read {a.read:7.1f} staged {a.staged:7.1f} on wire {a.on_wire:7.1f}"
        f" uploaded {a.uploaded:7.1f} sent {a.sent:7.1f}"
        for a in sorted(spans, key=lambda a: a.on_wire)
    ]


def summary(spans: list[AlbumTimes], marks: dict[str, float], seconds: float) -> str:
    """One line: the start-up, the per-album steps (median/max seconds), the uplink's
    idle gaps between albums and the tail after the last entry was read."""
    if not spans:
        return f"no album sent in {seconds:.1f} s"
    gaps = [max(0.0, b.on_wire - a.sent) for a, b in itertools.pairwise(spans)]
    last_read = marks.get("last entry read", 0.0)
    up = uplink(spans)
    return (
        f"first entry read {marks.get('first entry read', 0):.1f} s, first album on the wire"
        f" {marks.get('first byte up', 0):.1f} s; per album (median/max s over {len(spans)}):"
        f" read->staged {_spread([max(0.0, a.staged - a.read) for a in spans])},"
        f" staged->on wire {_spread([max(0.0, a.on_wire - a.staged) for a in spans])},"
        f" on wire->uploaded {_spread([a.uploaded - a.on_wire for a in spans])},"
        f" uploaded->sent {_spread([a.sent - a.uploaded for a in spans])};"
        f" uplink idle between albums {sum(gaps):.1f} s (max {max(gaps, default=0):.1f});"
        f" uplink busy {up.busy:.1f} s, idle waiting for the read {up.idle_read:.1f} s,"
        f" idle with an album staged {up.idle_held:.1f} s, two or more albums uploading"
        f" at once {up.shared:.1f} s;"
        f" last entry read {last_read:.1f} s, last album sent {spans[-1].sent:.1f} s"
        f" (tail {spans[-1].sent - last_read:.1f} s) of {seconds:.1f} s"
    )
