"""Many WebSocket clients of ``bench web``, in their own process: ``python -m
bench._web_clients URL COUNT SECONDS OUT [JOBS]``. Each subscribes to every job, or with
JOBS to one of them (client n to job n % JOBS + 1); once all have subscribed they listen
for SECONDS, writing per job message ``job tick receive-time`` to OUT (the tick: the
view's ``bytes``; read with a regular expression: parsing JSON for every message would
measure this process). The first line says how many failed and when all were in."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

_MESSAGE = re.compile(rb'"job": \{"id": (\d+).*?"bytes": (\d+)')


class _Run:
    def __init__(self, count: int) -> None:
        self.count = count
        self.connected: list[float] = []
        self.seen: list[tuple[bytes, bytes, float]] = []
        self.all_in = asyncio.Event()
        self.sockets: list[ClientConnection] = []


async def _client(url: str, jobs: object, run: _Run) -> None:
    """Listen until the socket is closed (by ``_main`` at the end). Frames are taken as
    bytes and read with a regular expression, one ``recv`` a frame and no timer: a
    thousand clients in one process must cost less than the server they measure."""
    async with connect(url, max_queue=None, ping_interval=None, open_timeout=120) as socket:
        run.sockets.append(socket)
        await socket.send(json.dumps({"jobs": jobs, "after": 0}))
        await socket.recv()  # the snapshot: subscribed
        run.connected.append(time.time())
        if len(run.connected) == run.count:
            run.all_in.set()
        seen = run.seen
        try:
            while True:
                data = await socket.recv(decode=False)
                if not run.all_in.is_set():
                    continue  # still connecting: not steady yet
                now = time.time()
                for found in _MESSAGE.finditer(data):
                    seen.append((found.group(1), found.group(2), now))
        except ConnectionClosed:
            return


async def _main(url: str, count: int, seconds: float, spread: int) -> str:
    run = _Run(count)
    started = time.time()
    opened = []
    for n in range(count):  # connect in a trickle: a thousand at once is a SYN flood
        jobs: object = [n % spread + 1] if spread else "all"
        opened.append(asyncio.create_task(_client(url, jobs, run)))
        await asyncio.sleep(0.002)
    waiting = asyncio.ensure_future(run.all_in.wait())
    await asyncio.wait([waiting, *opened], return_when=asyncio.FIRST_COMPLETED)
    if run.all_in.is_set():  # else a client failed before all were in: stop now
        await asyncio.sleep(seconds)
    waiting.cancel()
    await asyncio.gather(*(socket.close() for socket in run.sockets), return_exceptions=True)
    results = await asyncio.gather(*opened, return_exceptions=True)
    failed = sum(isinstance(r, BaseException) for r in results)
    all_in = max(run.connected, default=started)
    lines = [f"# failed {failed} connect_seconds {all_in - started:.3f} all_in {all_in:.6f}"]
    lines += [f"{job.decode()} {tick.decode()} {at:.6f}" for job, tick, at in run.seen]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    spread = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    text = asyncio.run(_main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), spread))
    Path(sys.argv[4]).write_text(text)
