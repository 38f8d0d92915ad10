"""Helpers for engine tests: real inputs, running the engine, reading the library back."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from ferryman.config import Settings
from ferryman.engine.runner import Engine
from ferryman.model import Job
from ferryman.store.engine_store import EngineStore
from tests.support.waiting import eventually


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def library_files(library: Path) -> list[dict[str, Any]]:
    """Every delivered file, with its manifest entry and the hash of what is on disk."""
    found = []
    for manifest in sorted(library.rglob("manifest.json")):
        if any(part.startswith(".") for part in manifest.relative_to(library).parts[:-1]):
            continue  # an album being built (``.0001.partial``): renamed in whole, or never
        data = json.loads(manifest.read_text())
        for entry in data["items"]:
            path = manifest.parent / entry["file"]
            found.append(
                entry
                | {
                    "album_dir": str(manifest.parent),
                    "path": str(path),
                    "disk_sha256": sha256(path),
                }
            )
    for manifest in sorted(library.glob(".ferryman/*/[0-9]*.json")):  # laid out by a template
        data = json.loads(manifest.read_text())
        places = iter(data["placed"])
        for entry in data["items"]:
            paths = [library / next(places)["path"] for _ in entry["parts"] or [entry["file"]]]
            found.append(
                entry
                | {
                    "album_dir": str(manifest.with_suffix("")),
                    "path": str(paths[0]),
                    "disk_sha256": sha256(paths[0]),
                }
            )
    return found


def leftovers(work: Path) -> list[Path]:
    return [p for p in work.rglob("*") if p.is_file()] if work.exists() else []


async def run_until_idle(store: EngineStore, settings: Settings, limit: float = 120) -> Engine:
    engine = Engine(store, settings)
    await asyncio.wait_for(engine.run(until_idle=True), limit)
    return engine


async def run_until_waiting(
    store: EngineStore, settings: Settings, job_id: int, reason: str | None = None
) -> Job:
    """An engine run until job ``job_id`` waits (for ``reason``, else for anything), then
    stopped; the job as it waits."""
    engine = Engine(store, settings)
    running = asyncio.create_task(engine.run())

    async def waits() -> bool:
        said = (await store.get_job(job_id)).wait_reason
        return said is not None if reason is None else said == reason

    await eventually(waits, f"job {job_id} waiting ({reason or 'any reason'})", within=30)
    engine.stop()
    await asyncio.wait_for(running, 30)
    return await store.get_job(job_id)
