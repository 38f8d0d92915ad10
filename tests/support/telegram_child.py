"""``ferryman run --until-idle`` in a child process, against a fake Telegram in the test.

Run as ``python -m tests.support.telegram_child <data_dir> <port>`` (``spawn_child``): the
engine talks to the :func:`faketg.remote.serve` listening on ``127.0.0.1:<port>``, so
the test can SIGKILL this process at any request and still see everything the fake
was asked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

from faketg.remote import RemoteDialer
from ferryman.config import Settings, load_settings
from ferryman.engine.plumbing.lock import DataDirLock
from ferryman.engine.runner import Engine
from ferryman.store import Store
from tests.support import forked

REPO = Path(__file__).resolve().parents[2]


async def spawn_child(
    data_dir: Path, port: int, log: Path, *, documents: bool = False, max_file_bytes: int = 0
) -> forked.AsyncProcess:
    """This module's engine run as a child process (forked from the fork server, which
    imported the engine once: ``forked.start_module``), its stderr to ``log``. Without the
    test run's FERRYMAN_ variables: its settings are ``child_settings``' alone
    (``documents``: files that are not media go as documents; ``max_file_bytes``: the
    media policy's file size limit, when set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    with log.open("wb") as err:
        return await forked.start_module(
            "tests.support.telegram_child",
            [
                str(data_dir),
                str(port),
                "documents" if documents else "media",
                str(max_file_bytes),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def child_settings(data_dir: Path, *, documents: bool = False, limit: int = 0) -> Settings:
    """What ``tests.support.telegram_helpers.tg_settings`` gives, for this data dir."""
    media: dict[str, int] = {"segment_seconds": 2}
    if limit:
        media["max_file_bytes"] = limit
    return load_settings(
        None,
        {
            "data_dir": data_dir,
            "poll_seconds": 0.05,
            "space_floor": 0,
            "send_documents": documents,
            "media": media,
            "telegram": {"api_id": 1, "api_hash": "fakehash"},
        },
    )


async def run(data_dir: Path, port: int, documents: bool = False, limit: int = 0) -> None:
    settings = child_settings(data_dir, documents=documents, limit=limit)
    store = await Store.open(settings.database)
    try:
        # As `ferryman run` does under the data dir's lock: a killed run's leases handed
        # back at start, so the default lease holds. A 1 s lease (the killed run's work
        # claimable at once) lapsed under load: 42 "lost the lease" in one pool run at
        # load 40, each a step cancelled and redone, and the run outlasted CHILD_LIMIT.
        await store.release(None)
        engine = Engine(store, settings, dialer=RemoteDialer("127.0.0.1", port))
        await engine.run(until_idle=True)
    finally:
        await store.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    documents, limit = sys.argv[3] == "documents", int(sys.argv[4])
    with DataDirLock(data_dir):  # as `ferryman run` does: one engine per data dir
        asyncio.run(run(data_dir, port, documents, limit))


if __name__ == "__main__":
    main()
