"""What the runner asks of the memory store beside the stages' ports (``store/memory``):
the nodes' heartbeats and drains, the housekeeper's look, the work area's live files,
the sinks' own records; as ``nodes``, ``jobs``, ``items``, ``job_ends`` and
``sink_state`` keep them in SQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ferryman.model import ItemState, JobState, SinkRecord
from ferryman.store.job_ends import KeeperLook
from ferryman.store.memory_base import Row
from ferryman.store.memory_chat import MemoryChat
from ferryman.store.nodes import PRUNE_AFTER, NodeRun
from ferryman.store.rows import Clock, item_from_mapping

_LIVE = (JobState.EXPANDING.value, JobState.ACTIVE.value, JobState.NEEDS_PASSWORD.value)
# The claimed kinds a node's held leases are counted in (``nodes.node_runs``).
_HELD_IN = ("jobs", "fetches", "albums", "items", "watches")


@dataclass
class SinkKept:
    """Every sink's records and waits (``sink_records``, ``sink_waits``)."""

    records: dict[tuple[str, int, str], SinkRecord] = field(default_factory=dict)
    waits: dict[tuple[str, str], float] = field(default_factory=dict)

    def forget(self, gone: Callable[[int, SinkRecord], bool]) -> None:
        """Drop the records ``gone`` says went with their job, album or item (the SQL
        store's ``ON DELETE CASCADE``)."""
        self.records = {k: r for k, r in self.records.items() if not gone(k[1], r)}


class MemorySinkState:
    """``sinks.base.SinkState`` on the memory store for the sink ``sink``."""

    def __init__(self, kept: SinkKept, clock: Clock, sink: str) -> None:
        self._kept = kept
        self._clock = clock
        self.sink = sink

    def now(self) -> float:
        return self._clock()

    async def records(
        self, job_id: int, *, album_id: int | None = None, item_id: int | None = None
    ) -> list[SinkRecord]:
        return sorted(
            (
                record
                for (sink, job, _), record in self._kept.records.items()
                if (sink, job) == (self.sink, job_id)
                and (album_id is None or record.album_id == album_id)
                and (item_id is None or record.item_id == item_id)
            ),
            key=lambda record: record.key,
        )

    async def claim(self, job_id: int, records: Sequence[SinkRecord]) -> list[SinkRecord]:
        for record in records:
            self._kept.records.setdefault((self.sink, job_id, record.key), record)
        return [self._kept.records[self.sink, job_id, record.key] for record in records]

    async def put(
        self, job_id: int, records: Sequence[SinkRecord] = (), *, forget: Sequence[str] = ()
    ) -> None:
        for key in forget:
            self._kept.records.pop((self.sink, job_id, key), None)
        for record in records:
            self._kept.records[self.sink, job_id, record.key] = record

    async def wait_until(self, scopes: Sequence[str]) -> float:
        return max((self._kept.waits.get((self.sink, s), 0.0) for s in scopes), default=0.0)

    async def set_wait(self, scope: str, not_before: float, reason: str) -> None:
        self._kept.waits[self.sink, scope] = not_before


class MemoryRuns(MemoryChat):
    """Nodes, drains, the housekeeper's reads, the work area's files, sinks' records."""

    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self.nodes: dict[str, Row] = {}  # owner -> its run
        self.drains: dict[str, float] = {}  # node -> since
        self.kept = SinkKept()

    def listener(self, on_wake: Callable[[], None]) -> None:
        """No other process sees this store, so none wakes an engine on it."""
        return None

    def sink_state(self, sink: str) -> MemorySinkState:
        return MemorySinkState(self.kept, self.clock, sink)

    # ------------------------------------------------------------------ nodes

    async def node_beat(self, owner: str, node: str, pid: int, stages: tuple[str, ...]) -> bool:
        now = self.clock()
        run = self.nodes.get(owner)
        if run is not None:
            run["heartbeat_at"] = now
        else:
            self.nodes = {
                o: r for o, r in self.nodes.items() if r["heartbeat_at"] >= now - PRUNE_AFTER
            }
            self.nodes[owner] = {
                "owner": owner, "node": node, "pid": pid, "stages": stages,
                "started_at": now, "heartbeat_at": now, "stopped_at": None,
            }  # fmt: skip
        return node in self.drains

    async def release(self, owner: str | None, *, stopped: bool = False) -> int:
        if stopped and owner is not None and owner in self.nodes:
            self.nodes[owner]["stopped_at"] = self.clock()
        return await super().release(owner, stopped=stopped)

    async def node_stopped(self, owner: str) -> None:
        if owner in self.nodes:
            self.nodes[owner]["stopped_at"] = self.clock()

    async def set_drain(self, node: str, on: bool) -> bool:
        known = any(run["node"] == node for run in self.nodes.values())
        if not known and on:
            return False
        undone = self.drains.pop(node, None) is not None
        if not known and not undone:
            return False
        if on:
            self.drains[node] = self.clock()
        return True

    async def node_runs(self) -> list[NodeRun]:
        now, held = self.clock(), dict[str, int]()
        for table in _HELD_IN:
            for row in self.tables[table].values():
                if row["owner"] is not None and row["lease_until"] > now:
                    held[row["owner"]] = held.get(row["owner"], 0) + 1
        runs = sorted(self.nodes.values(), key=lambda r: (r["node"], -r["started_at"]))
        return [
            NodeRun(**r, draining=r["node"] in self.drains, held=held.get(r["owner"], 0))
            for r in runs
        ]

    # ------------------------------------------------------------ housekeeping

    async def active_jobs(self) -> dict[int, bool]:
        return {
            job["id"]: any(i["state"] == ItemState.READY.value for i in self.items_of(job["id"]))
            for job in self.tables["jobs"].values()
            if job["state"] in _LIVE and not job["paused"]
        }

    async def keeper_look(self) -> KeeperLook:
        """Watches first, as the SQL store's one read asks them."""
        finishable = bool(self._finishable())
        return KeeperLook(finishable, await self.watches_idle() and await self.idle())

    async def work_paths(self) -> set[str]:
        return {
            path
            for item in self.tables["items"].values()
            if not ItemState(item["state"]).terminal
            for path in item_from_mapping(item).work_files
        }
