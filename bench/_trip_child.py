"""The trip's engine in a process of its own, so its RSS is ferryman's alone.

Run as ``python -m bench._trip_child DATA PORT URL PROFILE``: adds the zip link for
``telegram:me`` and runs the engine until idle, started as ``ferryman run`` starts it
(``frontdoors.startup.running``: the children's template, the collector set aside),
against the fake Telegram that the bench serves on ``127.0.0.1:PORT``
(``faketg.remote``); prints one JSON line (the job's state, entries delivered, this
process's VmHWM). ``bench memory`` samples its tree meanwhile.

Its imports of ferryman are inside the functions: multiprocessing imports the main
module again in each child process (as ``__mp_main__``), and this module's imports
would load the engine, Telethon and the fake there (120 MB a conversion), which
``ferryman``'s own entry points do not (``python -m ferryman``'s main is skipped, its
script's imports are in the template).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ferryman.config import Settings

PROFILES: dict[str, dict[str, object]] = {
    # one a stage, as on Termux; its encoder's threads and lookahead as on_phone() sets
    # them (config.sections.PHONE_THREADS, PHONE_LOOKAHEAD)
    "phone": {
        "concurrency": {"fetch": 1, "read": 1, "convert": 1, "deliver": 1},
        "convert": {"threads": 2, "lookahead": 5},
    },
    "server": {"concurrency": {"fetch": 3, "read": 2, "convert": 2, "deliver": 2}},
}


def trip_settings(data: Path, profile: str) -> Settings:
    """The trip's settings: the defaults, documents sent as such, the profile's own."""
    from ferryman.config import load_settings  # not in a child's __mp_main__ (docstring)

    overrides = {
        "data_dir": data,
        "space_floor": 0,
        "send_documents": True,
        "telegram": {"api_id": 1, "api_hash": "fakehash"},
        **PROFILES[profile],
    }
    return load_settings(None, overrides)


def high_water() -> int:
    """This process's own peak RSS (VmHWM), in bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


async def run(data: Path, port: int, url: str, profile: str) -> dict[str, object]:
    # not in a child's __mp_main__ (module docstring)
    from faketg.remote import RemoteDialer
    from ferryman.engine.ops import intake
    from ferryman.frontdoors.startup import running

    settings = trip_settings(data, profile)
    async with running(settings, dialer=RemoteDialer("127.0.0.1", port)) as started:
        job = await intake.add_source(started.store, url, dest="telegram:me")
        await started.engine.run(until_idle=True)
        done = await started.store.get_job(job.id)
    delivered = (done.summary or {}).get("delivered", 0)
    return {"state": done.state.value, "delivered": delivered, "hwm": high_water()}


def main() -> None:
    data, port, url, profile = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    print(json.dumps(asyncio.run(run(data, port, url, profile))))


if __name__ == "__main__":
    main()
