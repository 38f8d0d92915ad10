"""What the runner asks of the memory store beside the stages' ports (``store/memory``):
the nodes' heartbeats and drains, the housekeeper's look, the work area's live files,
the sinks' own records; as ``nodes``, ``jobs``, ``items``, ``job_ends`` and
``sink_state`` keep them in SQL."""

from __future__ import annotations

from collections.abc import Callable

from ferryman.clock import SYSTEM
from ferryman.model import ItemState, JobState
from ferryman.store.chat.memory import MemoryChat
from ferryman.store.jobs.ends import HousekeepingState
from ferryman.store.memory.base import Row
from ferryman.store.nodes.sql import PRUNE_AFTER, NodeRun
from ferryman.store.shared.rows import Clock, item_from_mapping
from ferryman.store.sinks.memory import MemorySinkState

_LIVE = (JobState.READING.value, JobState.ACTIVE.value, JobState.NEEDS_PASSWORD.value)
# The claimed kinds a node's held leases are counted in (``nodes.node_runs``).
_HELD_IN = ("jobs", "fetches", "albums", "items", "watches")


class MemoryRuns(MemoryChat):
    """Nodes, drains, the housekeeper's reads, the work area's files, sinks' records."""

    def __init__(self, clock: Clock = SYSTEM.now) -> None:
        super().__init__(clock)
        self.nodes: dict[str, Row] = {}  # owner -> its run
        self.drains: dict[str, float] = {}  # node -> since

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

    async def housekeeping_state(self) -> HousekeepingState:
        """Watches first, as the SQL store's one read asks them."""
        finishable = bool(self._finishable())
        return HousekeepingState(finishable, await self.watches_idle() and await self.idle())

    async def work_paths(self) -> set[str]:
        return {
            path
            for item in self.tables["items"].values()
            if not ItemState(item["state"]).terminal
            for path in item_from_mapping(item).work_files
        }
