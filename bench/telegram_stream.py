"""A download link read from Telegram's storage: the pool's accounts against one.

The engine sends one document (``--tg-stream-mb``, 32 MiB by default: random bytes
behind a PDF header) to a channel whose four accounts (a user and three bots, as
``bench.telegram_pool``'s) are admins; then every account is capped by the fake
(``CAP_MBIT``, the pool row's cap) on the bench's link (50 ms one way, 100 Mbit/s a
connection, 800 Mbit/s in all), and ``ferryman web``'s app, served by uvicorn on
loopback in this process, hands out the document's ``/d/`` link. Read whole over HTTP:

* ferryman: the blocks through the four accounts, ``IN_FLIGHT`` each
  (``web/telegram_links``, ``telegram/stream``);
* the baseline, in the same run, on the same fake and caps: the single-stream way
  TG-FileStreamBot works, four blocks in flight through one account on one connection.

Both bodies are checked against the file's SHA-256. Then ``SEEKS`` single-range
requests at random offsets (a player seeking) through the pool: the time to the first
byte of each, p95.

Run alone: ``python -m bench telegram-stream``; ``python -m bench telegram`` runs it too.
``--tg-stream-dc 4`` keeps the document on DC 4 (the accounts live on 2): both reads
follow ``FILE_MIGRATE`` to the accounts' connections there (``telegram/dcs``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from bench._common import Check, MiB, Result, Table, fmt_bytes, fmt_ratio, fmt_seconds, progress
from bench._common import scratch as scratch_dir
from bench.telegram import engine_settings, log_in
from bench.telegram_pool import CAP_MBIT, CONN_MBIT, LATENCY_MS, LINK_MBIT
from faketg import FakeTelegram, LinkModel
from faketg.accounts import cap_mbit
from faketg.client import FakeDialer
from faketg.dcs import move_media
from faketg.state import Account, Channel
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.resources import Shared
from ferryman.store import Store
from ferryman.telegram.account import Account as Flags
from ferryman.telegram.account import remember
from ferryman.telegram.accounts import session_of, with_session
from ferryman.telegram.stream import IN_FLIGHT
from ferryman.web.server import web_app
from ferryman.web.telegram_links import TelegramStreams

ACCOUNTS = 4
TARGET = 3.0  # the pool's speed / the single stream's, at least
SEEK_TARGET = 1.0  # seconds to the first byte after a seek, p95, at most
SEEKS = 20
SIZE_MB = 32


@dataclass
class Read:
    seconds: float
    sha: str
    status: int


def world() -> tuple[FakeTelegram, list[Account], Channel]:
    server = FakeTelegram(link=LinkModel.mbit(LATENCY_MS, CONN_MBIT, LINK_MBIT))
    members = [server.add_user("Bench", username="bench", phone="+15550100")]
    members += [
        server.add_user(f"Bot{i}", username=f"bench{i}_bot", bot=True) for i in range(1, ACCOUNTS)
    ]
    for account in members:
        server.box("user", account.id).pts = 1000
    channel = server.add_channel("Stream", username="benchstream", admins=members)
    return server, members, channel


@contextlib.asynccontextmanager
async def serving(app: object) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def read_whole(http: httpx.AsyncClient, url: str) -> Read:
    digest = hashlib.sha256()
    started = time.perf_counter()
    async with http.stream("GET", url) as response:
        async for block in response.aiter_bytes():
            digest.update(block)
    return Read(time.perf_counter() - started, digest.hexdigest(), response.status_code)


async def first_byte(http: httpx.AsyncClient, url: str, start: int) -> float:
    started = time.perf_counter()
    headers = {"Range": f"bytes={start}-{start + 65535}"}
    async with http.stream("GET", url, headers=headers) as response:
        async for _block in response.aiter_bytes():
            return time.perf_counter() - started
    return time.perf_counter() - started


async def measure(
    root: Path, size: int, dc: int | None = None
) -> tuple[Read, Read, list[float], str, int]:
    server, members, channel = world()
    settings = engine_settings(root / "data", documents=True)
    await log_in(settings, server, members[0])
    for i, account in enumerate(members[1:], 1):
        name = f"bot{i}"
        await log_in(with_session(settings, name), server, account)
        remember(session_of(settings, name), Flags(premium=False, bot=True))
    src = root / "stream.pdf"
    data = b"%PDF-1.4\n" + os.urandom(size - 9)
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    del data
    store = await Store.open(settings.database)
    shared = Shared(settings, FakeDialer(server))
    try:
        progress("telegram stream: the engine sends the document (caps lifted)")
        job = await intake.add_source(store, src, dest="telegram:@benchstream")
        await Engine(store, settings, dialer=FakeDialer(server)).run(until_idle=True)
        job = await store.get_job(job.id)
        if job.state is not JobState.DONE:
            raise RuntimeError(f"the document was not delivered: job {job.state.value}")
        src.unlink()
        if dc is not None:  # kept elsewhere: every account reads it through DC ``dc``
            [doc] = [m.media for m in server.chat(channel) if m.media is not None]
            move_media(doc, dc)
        for account in members:
            cap_mbit(server, account, CAP_MBIT)
        async with (
            web_app(settings, store, None, None, shared=shared) as served,
            serving(served.app) as base,
            httpx.AsyncClient(base_url=base, timeout=600) as http,
        ):
            web = served.web
            [link] = (await web.links_of(job))["files"]
            url = link["url"]
            pool, single = web.telegram, TelegramStreams(shared, accounts=1, connections=1)
            assert pool is not None
            progress(f"telegram stream: the pool ({ACCOUNTS} accounts) reads {fmt_bytes(size)}")
            warm = await first_byte(http, url, 0)  # the accounts connect, fetch the message
            ours = await read_whole(http, url)
            progress("telegram stream: one account, four blocks in flight (the baseline)")
            web.telegram = single
            await first_byte(http, url, 0)
            baseline = await read_whole(http, url)
            web.telegram = pool
            progress(f"telegram stream: {SEEKS} seeks through the pool")
            rng = random.Random(82)
            seeks = [
                await first_byte(http, url, rng.randrange(0, size - 65536)) for _ in range(SEEKS)
            ]
            await single.close()
        return ours, baseline, [warm, *seeks], sha, size
    finally:
        await shared.close()
        await store.close()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def section(result: Result, root: Path, args: argparse.Namespace) -> None:
    size = (getattr(args, "tg_stream_mb", None) or SIZE_MB) * MiB
    dc = getattr(args, "tg_stream_dc", None)
    ours, baseline, seeks, sha, size = asyncio.run(measure(root, size, dc))
    ratio = baseline.seconds / ours.seconds if ours.seconds > 0 else 0.0
    table = Table(["reader", "seconds", "MB/s", "vs single stream", "SHA-256"])
    for name, read in (
        (f"ferryman: {ACCOUNTS} accounts, {IN_FLIGHT} blocks each", ours),
        ("single stream: 1 account, 4 blocks (baseline)", baseline),
    ):
        table.add(
            name,
            fmt_seconds(read.seconds),
            f"{size / 1e6 / read.seconds:.2f}",
            fmt_ratio(baseline.seconds / read.seconds),
            "equal" if read.sha == sha and read.status == 200 else "DIFFERS",
        )
    caption = (
        f"a {fmt_bytes(size)} document's /d/ link read from Telegram over HTTP, each account"
        f" capped at {CAP_MBIT:g} Mbit/s by the fake; link {LATENCY_MS:g} ms one way,"
        f" {CONN_MBIT:g} Mbit/s per connection, {LINK_MBIT:g} Mbit/s in all"
        + (f"; the document kept on DC {dc} (FILE_MIGRATE followed)" if dc else "")
    )
    result.tables.append((caption, table))
    cold, seeks = seeks[0], seeks[1:]
    seek = p95(seeks)
    bad = [n for n, r in (("ferryman", ours), ("baseline", baseline)) if r.sha != sha]
    result.checks += [
        Check(
            f"stream: {ACCOUNTS} accounts / single stream (one account, 4 blocks in flight)",
            fmt_ratio(ratio),
            f">= {TARGET:g}x",
            ratio >= TARGET,
        ),
        Check(
            f"stream: first byte after a seek, p95 of {len(seeks)}",
            fmt_seconds(seek),
            f"< {SEEK_TARGET:g} s",
            seek < SEEK_TARGET,
        ),
        Check(
            "stream: both reads' SHA-256 equal the file's",
            ", ".join(bad) or "both",
            "both",
            not bad,
        ),
    ]
    result.notes.append(
        "stream: vs single stream = the baseline's seconds / these, both in this run on the"
        " same fake and caps; each read follows a 64 KiB range request of its own (untimed"
        f" here: the pool's first, its accounts connecting, took {fmt_seconds(cold)} s to its"
        " first byte), as a player asks the head first; the fake, the web app (uvicorn) and"
        " the HTTP client share this process"
    )
    result.data["stream"] = {
        "bytes": size,
        "pool_seconds": ours.seconds,
        "single_seconds": baseline.seconds,
        "ratio": ratio,
        "seek_p95": seek,
        "cold_first_byte": cold,
        "seeks": seeks,
        "accounts": ACCOUNTS,
        "cap_mbit": CAP_MBIT,
    }


def run(args: argparse.Namespace) -> Result:
    result = Result(
        "telegram-stream",
        f"a link read from Telegram through {ACCOUNTS} accounts vs one (TG-FileStreamBot's way)",
    )
    with scratch_dir("telegram-stream", args.tmp_dir, args.keep) as root:
        section(result, root, args)
    return result
