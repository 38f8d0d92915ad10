"""``python -m tests.support.tidyfault_child <data> <folder> <library> <point> <n>``: an
engine watching ``folder`` with ``--then delete`` into ``library`` (the default layout),
looked at three times; it SIGKILLs itself at the ``n``-th call of ``point`` (``before``
or ``after`` it: ``place:before``), or runs to its end with point ``none``. The points
are each step a file takes from the folder into the library and out of the folder."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ferryman.config import Settings, load_settings
from ferryman.engine.plumbing.lock import DataDirLock
from ferryman.engine.runner import Engine
from ferryman.sinks import flat, library_check
from ferryman.store import Store

# Where a file is on its way: copied into the stage, read back, the album's manifest
# committed, moved into place, the library read back for ``--then``, the delete.
POINTS: dict[str, tuple[Any, str]] = {
    "place": (flat, "place_copy"),
    "verify": (flat, "verify"),
    "commit": (flat, "_commit"),
    "put": (flat, "put_new"),
    "holds": (library_check, "library_holds"),
}


def settings_for(data: Path, library: Path) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": data,
            "library_dir": library,
            "library_layout": "{source}/{path}/{name}",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "album_size": 2,
            "lease_seconds": 1.0,
            "watch": {"folder_events": False},
        },
    )


def die_at(point: str, n: int) -> None:
    """SIGKILL at the ``n``-th call of the point (``name:before`` or ``name:after``)."""
    name, _, when = point.partition(":")
    module, attr = POINTS[name]
    real: Callable[..., Any] = getattr(module, attr)
    calls = 0

    @functools.wraps(real)
    def dying(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == n and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if calls == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(module, attr, dying)


async def run(data: Path, folder: Path, library: Path) -> None:
    settings = settings_for(data, library)
    store = await Store.open(settings.database)
    try:
        watches = await store.list_watches()
        if not watches:
            watch = await store.add_watch(
                kind="folder", source=str(folder), dest="library:", every_seconds=3600.0,
                since="all", next_check_at=0.0, after_delivery="delete",
            )  # fmt: skip
        else:
            [watch] = watches
        for _ in range(3):  # the look that makes the job, then those that tidy
            await store.set_watch_paused(watch.id, False)  # due now
            await Engine(store, settings).run(until_idle=True)
    finally:
        await store.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    data, folder, library = map(Path, sys.argv[1:4])
    point, n = sys.argv[4], int(sys.argv[5])
    if point != "none":
        die_at(point, n)
    data.mkdir(parents=True, exist_ok=True)
    with DataDirLock(data):
        asyncio.run(run(data, folder, library))


if __name__ == "__main__":
    main()
