"""Many WebSocket clients of ``bench web``, in their own process: ``python -m
bench._web_clients URL COUNT SECONDS OUT [JOBS]``. Each subscribes to every job, or with
JOBS to one of them (client n to job n % JOBS + 1); once all have subscribed they listen
for SECONDS, writing per job message ``job tick receive-time`` to OUT (the tick: the
view's ``bytes``; read with a regular expression: parsing JSON for every message would
measure this process). The first line says how many failed and when all were in.

``python -m bench._web_clients hold KIND BASE COUNT``: idle clients held open
while ``bench web-subscribers`` times a job (``_hold``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import resource
import signal
import socket
import sys
import time
import zlib
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


async def _idle_sse(host: str, port: int, subscribed: list[float], *, slow: bool) -> None:
    """A Server-Sent Events stream read as it comes, or (``slow``) 1 KiB a second
    through a 4 KiB receive window: the server's side of it fills."""
    sock = socket.socket()
    if slow:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
    writer.write(  # as a browser's EventSource asks
        f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n"
        "Accept-Encoding: gzip, deflate\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
    try:
        unpacked = b""
        unpack = zlib.decompressobj(31)
        while not slow and unpacked.count(b"\n\n") < 2:  # retry, then the snapshot
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            unpacked += unpack.decompress((await reader.readexactly(size + 2))[:size])
        subscribed.append(time.time())
        while await reader.read(1024 if slow else 65536):
            if slow:
                await asyncio.sleep(1.0)
    finally:
        writer.close()


async def _idle_ws(url: str, subscribed: list[float], *, slow: bool) -> None:
    """A WebSocket watching every job, read as it comes, or (``slow``) never read past
    its first message: the library stops reading the socket once its queue is full."""
    queue = 1 if slow else None
    async with connect(url, max_queue=queue, ping_interval=None, open_timeout=120) as ws:
        await ws.send(json.dumps({"jobs": "all", "after": 0}))
        await ws.recv(decode=False)  # the snapshot: subscribed
        subscribed.append(time.time())
        while not slow:
            await ws.recv(decode=False)
        await asyncio.Future()  # until cancelled


async def _hold(kind: str, base: str, count: int) -> None:
    """``count`` idle clients of ``kind`` (``sse``, ``ws``, or ``slow``: half Server-Sent
    Events read at 1 KiB/s, half WebSockets never read), connected in a trickle; a line
    ``ready CONNECTED FAILED`` once all are in; they stay until SIGTERM."""
    host, port = base.removeprefix("http://").split(":")
    ws_url = f"ws://{host}:{port}/api/v1/events"
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = []
    subscribed: list[float] = []
    for n in range(count):
        if kind == "sse" or (kind == "slow" and n % 2 == 0):
            client = _idle_sse(host, int(port), subscribed, slow=kind == "slow")
        else:
            client = _idle_ws(ws_url, subscribed, slow=kind == "slow")
        tasks.append(asyncio.create_task(client))
        await asyncio.sleep(0.002)
    while len(subscribed) + sum(t.done() for t in tasks) < count:  # noqa: ASYNC110 (done: failed)
        await asyncio.sleep(0.1)  # each has its snapshot (a slow one: its answer's head)
    failed = sum(t.done() and t.exception() is not None for t in tasks)
    print(f"ready {count - failed} {failed}", flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()
    with contextlib.suppress(Exception):
        await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__" and sys.argv[1] == "hold":
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket each
    asyncio.run(_hold(sys.argv[2], sys.argv[3], int(sys.argv[4])))
elif __name__ == "__main__":
    spread = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    text = asyncio.run(_main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), spread))
    Path(sys.argv[4]).write_text(text)
