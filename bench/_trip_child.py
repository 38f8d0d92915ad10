"""The trip's engine in a process of its own, so its RSS is ferryman's alone.

Run as ``python -m bench._trip_child DATA PORT URL PROFILE``: adds the zip link for
``telegram:me`` and runs the engine until idle against the fake Telegram that the bench
serves on ``127.0.0.1:PORT`` (``faketg.remote``); prints one JSON line (the job's state,
entries delivered, this process's VmHWM). ``bench memory`` samples its tree meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from faketg.remote import RemoteDialer
from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.plumbing.lock import DataDirLock
from ferryman.engine.runner import Engine
from ferryman.store import Store

PROFILES: dict[str, dict[str, int]] = {
    "phone": {"fetch": 1, "unpack": 1, "convert": 1, "deliver": 1},  # one a stage, as on Termux
    "server": {"fetch": 3, "unpack": 2, "convert": 2, "deliver": 2},
}


def trip_settings(data: Path, profile: str) -> Settings:
    """The trip's settings: the defaults, documents sent as such, the profile's workers."""
    overrides = {
        "data_dir": data,
        "space_floor": 0,
        "send_documents": True,
        "telegram": {"api_id": 1, "api_hash": "fakehash"},
        "concurrency": PROFILES[profile],
    }
    return load_settings(None, overrides)


def high_water() -> int:
    """This process's own peak RSS (VmHWM), in bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


async def run(data: Path, port: int, url: str, profile: str) -> dict[str, object]:
    settings = trip_settings(data, profile)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, url, dest="telegram:me")
        engine = Engine(store, settings, dialer=RemoteDialer("127.0.0.1", port))
        await engine.run(until_idle=True)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    delivered = (done.summary or {}).get("delivered", 0)
    return {"state": done.state.value, "delivered": delivered, "hwm": high_water()}


def main() -> None:
    data, port, url, profile = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    with DataDirLock(data):
        print(json.dumps(asyncio.run(run(data, port, url, profile))))


if __name__ == "__main__":
    main()
