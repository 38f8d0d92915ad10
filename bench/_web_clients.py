"""Many WebSocket clients of ``bench web``, in their own process: ``python -m
bench._web_clients URL COUNT SECONDS OUT``. Each subscribes to every job and writes, per
job message, ``job fraction receive-time`` to OUT (the job and fraction read with a
regular expression: parsing JSON for every message would measure this process)."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

_JOB = re.compile(r'"job": \{"id": (\d+)')
_BYTES = re.compile(r'"bytes": (\d+)')


async def _client(url: str, until: float, seen: list[tuple[str, str, float]]) -> None:
    async with connect(url, max_queue=None, ping_interval=None) as socket:
        await socket.send('{"jobs": "all", "after": 0}')
        while time.time() < until:
            try:
                text = await asyncio.wait_for(socket.recv(), max(0.01, until - time.time()))
            except TimeoutError:
                break
            now = time.time()
            job = _JOB.search(text)  # type: ignore[arg-type]
            tick = _BYTES.search(text)  # type: ignore[arg-type]
            if job and tick:
                seen.append((job.group(1), tick.group(1), now))


async def _main(url: str, count: int, seconds: float, out: Path) -> None:
    seen: list[tuple[str, str, float]] = []
    opened = []
    until = time.time() + seconds
    for _ in range(count):  # connect in a trickle: a thousand at once is a SYN flood
        opened.append(asyncio.create_task(_client(url, until, seen)))
        await asyncio.sleep(0.002)
    results = await asyncio.gather(*opened, return_exceptions=True)
    failed = sum(isinstance(r, BaseException) for r in results)
    with open(out, "w") as handle:
        handle.write(f"# failed {failed}\n")
        for job, fraction, at in seen:
            handle.write(f"{job} {fraction} {at:.6f}\n")


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])))
