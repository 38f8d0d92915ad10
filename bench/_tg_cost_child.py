"""A client of the bench's fake Telegram in a process of its own, reporting its CPU.

``python -m bench._tg_cost_child MODE DATA_DIR PORT FILE PEER``: ``engine`` adds FILE as
a job to PEER (FILE ``-``: adds nothing) and runs the whole engine until idle
(``ferryman run``); ``telethon`` sends FILE with Telethon's own
``send_file(force_document=True)``. Either prints one JSON line: the CPU seconds (user +
system) this process spent from the job's add (or the client's connect) to its end, and
the wall seconds. The fake runs in the bench's process, so
none of its own work (decrypting, checking parts) is counted here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from faketg.remote import RemoteDialer
from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.store import Store
from ferryman.telegram.client import make_client


def settings_for(data_dir: Path) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": data_dir,
            "space_floor": 0,
            "send_documents": True,
            "telegram": {"api_id": 1, "api_hash": "fakehash"},
        },
    )


def cpu() -> float:
    t = os.times()
    return t.user + t.system


async def engine(settings: Settings, port: int, src: Path, peer: str) -> None:
    """``src`` added (unless ``-``: the jobs queued already, a run after a kill), then run."""
    store = await Store.open(settings.database)
    try:
        if str(src) != "-":
            await intake.add_source(store, src, dest=f"telegram:{peer}")
        await Engine(store, settings, dialer=RemoteDialer("127.0.0.1", port)).run(until_idle=True)
    finally:
        await store.close()


async def telethon(settings: Settings, port: int, src: Path, peer: str) -> None:
    client = make_client(settings, RemoteDialer("127.0.0.1", port))
    await client.connect()
    try:
        await client.send_file(peer, src, force_document=True)
    finally:
        await client.disconnect()


def main() -> None:
    mode, data_dir, port, src, peer = sys.argv[1:6]
    settings = settings_for(Path(data_dir))
    run = engine if mode == "engine" else telethon
    started, wall = cpu(), time.perf_counter()
    asyncio.run(run(settings, int(port), Path(src), peer))
    print(json.dumps({"cpu": cpu() - started, "wall": time.perf_counter() - wall}), flush=True)


if __name__ == "__main__":
    main()
