"""A client of the bench's fake Telegram in a process of its own, reporting its CPU.

``python -m bench._tg_cost_child MODE DATA_DIR PORT FILE PEER``: ``engine`` adds FILE as
a job to PEER (FILE ``-``: adds nothing) and runs the whole engine until idle
(``ferryman run``); ``telethon`` sends FILE with Telethon's own
``send_file(force_document=True)``; ``albums`` sends the JPEGs of the folder FILE with
``send_file(PEER, ten paths)`` per album, through a plain Telethon client whose auth key
the bench left in DATA_DIR/key.hex (as ``faketg.client.logged_in_client`` makes one).
Each prints one JSON line: the CPU seconds (user + system) this process spent from its
store's opening (or the client's connect) to its end, the wall seconds, and ``timed``:
the wall seconds the bench's photos row counts (the engine: from the add until idle;
``albums``: the sends, the client connected before). The fake runs in the bench's
process, so none of its own work (decrypting, checking parts, decoding photos) is
counted here, as Telegram's servers are elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from telethon import TelegramClient
from telethon.crypto import AuthKey
from telethon.sessions import MemorySession

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


async def engine(settings: Settings, port: int, src: Path, peer: str) -> float:
    """``src`` added (unless ``-``: the jobs queued already, a run after a kill), then run;
    the seconds from the add until idle (the store's schema set-up not counted)."""
    store = await Store.open(settings.database)
    try:
        started = time.perf_counter()
        if str(src) != "-":
            await intake.add_source(store, src, dest=f"telegram:{peer}")
        await Engine(store, settings, dialer=RemoteDialer("127.0.0.1", port)).run(until_idle=True)
        return time.perf_counter() - started
    finally:
        await store.close()


async def telethon(settings: Settings, port: int, src: Path, peer: str) -> float:
    client = make_client(settings, RemoteDialer("127.0.0.1", port))
    await client.connect()
    try:
        started = time.perf_counter()
        await client.send_file(peer, src, force_document=True)
        return time.perf_counter() - started
    finally:
        await client.disconnect()


ALBUM = 10


async def albums(settings: Settings, port: int, src: Path, peer: str) -> float:
    """Telethon's own ``send_file`` of ten photos at a time, the client as the in-process
    bench made it (``TelegramClient`` on a ``MemorySession``, Telethon's defaults)."""
    key_file, photos = settings.data_dir / "key.hex", await asyncio.to_thread(_jpegs, src)
    key = AuthKey(bytes.fromhex(await asyncio.to_thread(key_file.read_text)))
    session = MemorySession()
    session.auth_key = key
    client = TelegramClient(session, settings.telegram.api_id, settings.telegram.api_hash)
    RemoteDialer("127.0.0.1", port).install(client)
    await client.connect()
    try:
        started = time.perf_counter()
        for i in range(0, len(photos), ALBUM):
            await client.send_file(peer, photos[i : i + ALBUM])
        return time.perf_counter() - started
    finally:
        await client.disconnect()


def _jpegs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jpg"))


def main() -> None:
    mode, data_dir, port, src, peer = sys.argv[1:6]
    settings = settings_for(Path(data_dir))
    run = {"engine": engine, "telethon": telethon, "albums": albums}[mode]
    started, wall = cpu(), time.perf_counter()
    timed = asyncio.run(run(settings, int(port), Path(src), peer))
    done = {"cpu": cpu() - started, "wall": time.perf_counter() - wall, "timed": timed}
    print(json.dumps(done), flush=True)


if __name__ == "__main__":
    main()
