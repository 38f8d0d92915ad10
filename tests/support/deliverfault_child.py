"""``python -m tests.support.deliverfault_child <data_dir> <before|after>``: the engine over
``data_dir`` with a bug in the library sink on ``BAD``'s albums, which SIGKILLs itself
at the first split of an album, ``before`` its transaction or right ``after`` it
commits: the worst moments for a split to be lost or done twice."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ferryman.config import Settings, load_settings
from ferryman.engine.plumbing.lock import DataDirLock
from ferryman.engine.runner import Engine
from ferryman.sinks import flat, library
from ferryman.sinks.base import Delivery
from ferryman.store import Store

BAD = "p4.jpg"


def fault_settings(data_dir: Path) -> Settings:
    """Albums of three, two attempts each, quick backoff; a killed run's leases lapse
    at once (the next run here is not ``ferryman run``, which hands them back)."""
    return load_settings(
        None,
        {
            "data_dir": data_dir,
            "poll_seconds": 0.05,
            "space_floor": 0,
            "album_size": 3,
            "lease_seconds": 1.0,
            "retry": {"base_seconds": 0.01, "max_seconds": 0.05, "max_attempts": 2},
        },
    )


def break_layout() -> None:
    """The library sink raises a ``KeyError`` laying out any album holding ``BAD``."""
    real = library.album_layout

    def layout(delivery: Delivery) -> Any:
        if any(it.source_path == BAD for it in delivery.album.items):
            raise KeyError("a bug in the sink")
        return real(delivery)

    # and where ``flat`` took it by name: a fresh start imported ``flat`` after this patch
    # (its layout the patched one), the fork server before it (tests/support/forked.py)
    library.album_layout = layout  # type: ignore[assignment]
    flat.album_layout = layout  # type: ignore[assignment]


def die_at_split(when: str) -> None:
    real = Store.album_split

    async def split(self: Store, *args: Any, **kwargs: Any) -> list[int]:
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        made = await real(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return made

    Store.album_split = split  # type: ignore[method-assign]


async def run(data_dir: Path) -> None:
    settings = fault_settings(data_dir)
    store = await Store.open(settings.database)
    try:
        await Engine(store, settings).run(until_idle=True)
    finally:
        await store.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    data_dir, when = Path(sys.argv[1]), sys.argv[2]
    break_layout()
    die_at_split(when)
    with DataDirLock(data_dir):  # as `ferryman run` does: one engine per data dir
        asyncio.run(run(data_dir))


if __name__ == "__main__":
    main()
