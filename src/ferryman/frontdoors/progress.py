"""What `ferryman run` shows: live bars in a terminal, one plain line per event otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from ferryman.engine.events import Event, EventBus
from ferryman.engine.report import counts
from ferryman.store import Store

_PLAIN = {
    "job.started",
    "job.waiting",
    "job.resumed",
    "job.expanded",
    "album.delivered",
    "album.failed",
    "item.converting",
    "item.converted",
    "item.quarantined",
    "job.finished",
}


def plain_line(event: Event) -> str | None:
    """One log line for an event worth a line, else None."""
    if event.kind == "item.progress":
        fraction = float(event.data.get("fraction", 0))
        if round(fraction * 100) % 10 != 0:
            return None
        return f"job {event.job_id} item {event.item_id}: converting {fraction:.0%}"
    if event.kind not in _PLAIN:
        return None
    details = " ".join(f"{k}={v}" for k, v in event.data.items() if v is not None)
    subject = f"job {event.job_id}" if event.job_id is not None else "engine"
    return f"{subject}: {event.kind} {details}".rstrip()


def attach_renderer(bus: EventBus, store: Store, tty: bool) -> Callable[[], None]:
    """Subscribe a renderer to ``bus``; returns the function that detaches it."""
    if not tty:
        last: dict[tuple[int | None, int | None], str] = {}

        def show(event: Event) -> None:
            line = plain_line(event)
            if line is None or last.get((event.job_id, event.item_id)) == line:
                return
            last[(event.job_id, event.item_id)] = line
            print(line, file=sys.stdout, flush=True)

        return bus.subscribe(show)

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
    )
    bars: dict[int, TaskID] = {}
    converting: dict[int, TaskID] = {}

    def on_event(event: Event) -> None:
        if event.kind == "item.progress" and event.item_id is not None:
            task = converting.get(event.item_id)
            if task is None:
                task = progress.add_task(f"  convert item {event.item_id}", total=100, note="")
                converting[event.item_id] = task
            progress.update(task, completed=float(event.data.get("fraction", 0)) * 100)
        elif event.kind in ("item.converted", "item.quarantined") and event.item_id in converting:
            progress.remove_task(converting.pop(event.item_id))

    async def refresh() -> None:
        while True:
            status = await store.item_counts()
            for job in await store.list_jobs():
                if job.state.terminal and job.id not in bars:
                    continue
                c = counts(status.get(job.id, {}))
                done = c["total"] - c["pending"]
                note = job.wait_reason or ("paused" if job.paused else job.state.value)
                if job.id not in bars:
                    bars[job.id] = progress.add_task(job.name, total=c["total"] or None, note=note)
                progress.update(bars[job.id], completed=done, total=c["total"] or None, note=note)
            await asyncio.sleep(0.5)

    progress.start()
    unsubscribe = bus.subscribe(on_event)
    task = asyncio.get_running_loop().create_task(refresh())

    def detach() -> None:
        unsubscribe()
        task.cancel()
        with contextlib.suppress(Exception):
            progress.stop()

    return detach
