"""Nodes as people read them: ``ferryman workers``, ``ferryman drain`` and the web's
``/readyz`` ask here, not the store directly."""

from __future__ import annotations

from typing import Any

from ferryman.errors import FerrymanError
from ferryman.store.ports import Nodes

SILENT_LEASES = 2.0  # a run is silent once its heartbeat is this many leases old


def _state(alive: bool, stopped: bool, draining: bool, held: int) -> str:
    if stopped:
        return "stopped"
    if not alive:
        return "silent"
    if draining:
        return "draining" if held else "drained"
    return "alive"


async def workers(
    store: Nodes, lease_seconds: float, now: float | None = None
) -> list[dict[str, Any]]:
    """Each engine run known to the store, newest first per node: its name, stages, last
    heartbeat, the work it holds, and its state (alive, draining, drained, silent,
    stopped)."""
    now = store.clock() if now is None else now
    found = []
    for run in await store.node_runs():
        alive = run.alive(now, SILENT_LEASES * lease_seconds)
        found.append(
            {
                "node": run.node,
                "owner": run.owner,
                "pid": run.pid,
                "stages": list(run.stages),
                "started_at": run.started_at,
                "heartbeat_age": max(0.0, now - run.heartbeat_at),
                "held": run.held,
                "draining": run.draining,
                "state": _state(alive, run.stopped_at is not None, run.draining, run.held),
            }
        )
    return found


def last_stopped(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """What ``ferryman workers`` lists without ``--all`` (a phone's cron leaves a stopped
    run each time): every run that is not stopped, and of the stopped ones each node's
    newest when no run of that node is live; how many were left out."""
    live = {r["node"] for r in runs if r["state"] != "stopped"}
    newest: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run["state"] == "stopped" and run["node"] not in live:
            seen = newest.get(run["node"])
            if seen is None or run["heartbeat_age"] < seen["heartbeat_age"]:
                newest[run["node"]] = run
    kept = [r for r in runs if r["state"] != "stopped" or newest.get(r["node"]) is r]
    return kept, len(runs) - len(kept)


async def drain(store: Nodes, node: str, on: bool = True) -> None:
    """Let ``node`` finish what it holds and take nothing new (or take work again)."""
    if not await store.set_drain(node, on):
        names = sorted({run.node for run in await store.node_runs()})
        known = f"known: {', '.join(names)}" if names else "none has run against this store"
        raise FerrymanError("node.unknown", f"no worker named {node!r} has run here ({known})")


async def ready_workers(store: Nodes, lease_seconds: float) -> str:
    """For ``/readyz``: raise unless some worker is alive and takes work."""
    runs = await workers(store, lease_seconds)
    taking = [r for r in runs if r["state"] == "alive"]
    if taking:
        names = sorted({r["node"] for r in taking})
        return f"{len(taking)} worker(s) alive: {', '.join(names)}"
    if any(r["state"] in ("draining", "drained") for r in runs):
        raise RuntimeError("every live worker is drained; `ferryman drain NODE --undo`")
    raise RuntimeError(
        f"no worker's heartbeat in the last {SILENT_LEASES * lease_seconds:.0f} s; start"
        " `ferryman run`"
    )
