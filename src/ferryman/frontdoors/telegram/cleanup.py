"""``/cleanup``: what ended jobs still keep on disk, and removing it.

Only what no running job needs: work folders of ended jobs (the engine clears these
itself when a job ends, and sweeps them at start; a cancelled job's empty folder may be
left), and the files an older ferryman downloaded in the chat door itself (a row with a
``path``; a file sent now is downloaded into its job's work area by the engine).
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ferryman.config import Settings
from ferryman.engine.plumbing.workarea import job_work_dir
from ferryman.store.chat.sql import DOWNLOADING, InboxRow
from ferryman.store.ports import ChatCleanup


@dataclass(slots=True)
class Leftovers:
    inbox: list[InboxRow] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)
    bytes: int = 0


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


async def find(settings: Settings, store: ChatCleanup) -> Leftovers:
    ended = {job.id for job in await store.list_jobs() if job.state.terminal}
    rows = [
        row
        for row in await store.inbox_rows()
        if row.path is not None
        and row.state != DOWNLOADING
        and (row.job_id is None or row.job_id in ended)
    ]
    folders = [job_work_dir(settings, job_id) for job_id in sorted(ended)]

    def look() -> Leftovers:
        there = [f for f in folders if f.exists()]
        paths = [Path(r.path) for r in rows if r.path] + there
        return Leftovers(rows, there, sum(_size(p) for p in paths))

    return await asyncio.to_thread(look)


def _inbox_folder(path: Path) -> Path | None:
    """The row's own folder (``inbox/<id>``), never anything above it."""
    folder = path.parent
    return folder if folder.parent.name == "inbox" and folder.name.isdigit() else None


async def remove(store: ChatCleanup, found: Leftovers) -> None:
    def delete() -> None:
        for row in found.inbox:
            folder = _inbox_folder(Path(row.path)) if row.path else None
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        for folder in found.folders:
            shutil.rmtree(folder, ignore_errors=True)

    await asyncio.to_thread(delete)
    for row in found.inbox:
        await store.inbox_forget_path(row.id)
