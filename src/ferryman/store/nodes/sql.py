"""Nodes: which engines run against this store, whether they are alive, what they hold,
and which are drained (``ferryman workers``, ``ferryman drain``, ``/readyz``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, bindparam, delete, func, insert, select, update

from ferryman.store.schema import albums, drains, fetches, items, jobs, nodes, watches
from ferryman.store.sql.base import StoreBase

PRUNE_AFTER = 86400.0  # a stopped or silent run's row is forgotten after a day


@dataclass(frozen=True, slots=True)
class NodeRun:
    """One engine run, as ``ferryman workers`` lists it."""

    owner: str
    node: str
    pid: int
    stages: tuple[str, ...]
    started_at: float
    heartbeat_at: float
    stopped_at: float | None
    draining: bool
    held: int  # jobs, fetches, albums, conversions and watch checks it holds a lease on now

    def alive(self, now: float, silent_after: float) -> bool:
        return self.stopped_at is None and now - self.heartbeat_at <= silent_after


class NodeQueries(StoreBase):
    async def node_beat(self, owner: str, node: str, pid: int, stages: tuple[str, ...]) -> bool:
        """Record that ``owner`` (a run on ``node``) is alive; True if its node is drained."""
        now = self.clock()
        async with self._write() as conn:
            done = await conn.execute(
                update(nodes).where(nodes.c.owner == owner).values(heartbeat_at=now)
            )
            if done.rowcount == 0:
                await conn.execute(
                    insert(nodes).values(
                        owner=owner,
                        node=node,
                        pid=pid,
                        stages=",".join(stages),
                        started_at=now,
                        heartbeat_at=now,
                    )
                )
                await conn.execute(
                    delete(nodes).where(
                        nodes.c.heartbeat_at < now - PRUNE_AFTER, nodes.c.owner != owner
                    )
                )
            drained = await conn.execute(select(drains.c.node).where(drains.c.node == node))
            return drained.first() is not None

    async def node_stopped(self, owner: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(nodes).where(nodes.c.owner == owner).values(stopped_at=self.clock())
            )

    async def set_drain(self, node: str, on: bool) -> bool:
        """Drain ``node`` (or stop draining it); False if no run of that name is known
        (and, for an undo, no drain of that name is kept either)."""
        async with self._write() as conn:
            known = (
                await conn.execute(select(nodes.c.owner).where(nodes.c.node == node).limit(1))
            ).first() is not None
            if not known and on:
                return False  # before the delete: a drain kept for a pruned node stays
            undone = await conn.execute(delete(drains).where(drains.c.node == node))
            if not known and undone.rowcount == 0:
                return False
            if on:
                await conn.execute(insert(drains).values(node=node, since=self.clock()))
        await self.wake_engines()  # a running node hears of it now, not at its next heartbeat
        return True

    async def node_runs(self) -> list[NodeRun]:
        """Every run known (newest first per node), with the leases it holds now."""
        now = {"now": self.clock()}
        rows, drains_kept, *counts = await self._snapshot(
            (_RUNS, {}), (_DRAINS, {}), *((held, now) for held in _HELD)
        )
        drained = {r.node for r in drains_kept}
        held: dict[str, int] = {}
        for owner, count in (row for counted in counts for row in counted):
            held[owner] = held.get(owner, 0) + int(count)
        return [
            NodeRun(
                owner=r.owner,
                node=r.node,
                pid=r.pid,
                stages=tuple(s for s in r.stages.split(",") if s),
                started_at=r.started_at,
                heartbeat_at=r.heartbeat_at,
                stopped_at=r.stopped_at,
                draining=r.node in drained,
                held=held.get(r.owner, 0),
            )
            for r in rows
        ]


# ``node_runs``' reads, in one snapshot: the runs, the drains, the leases held per table.
_RUNS = select(nodes).order_by(nodes.c.node, nodes.c.started_at.desc())
_DRAINS = select(drains.c.node)
_HELD = [
    select(table.c.owner, func.count())
    .where(table.c.owner.is_not(None), table.c.lease_until > bindparam("now", type_=Float))
    .group_by(table.c.owner)
    for table in (jobs, fetches, albums, items, watches)
]
