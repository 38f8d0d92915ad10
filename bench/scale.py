"""``python -m bench scale``: 1, 2 and 3 worker nodes on one PostgreSQL queue, on jobs
whose cost is mostly waiting on the network.

Each node is a ``ferryman run`` process with its own node name (``concurrency.fetch``
1: one download at a time, as a phone does), all sharing the data dir (the work area on
shared storage, as machines mounting one would). ``--scale-jobs`` (24) links to a zip
of 8 photos (~13 MB) are added, then the nodes are started and timed until every job has
ended. The links are served on loopback by a server that paces every connection to 50
Mbit/s of its own: a download is about 2 s of waiting, as it would be from a debrid host.
The baseline is one node, in the same run. Targets: 2 nodes ≥ 1.8x its throughput,
3 nodes ≥ 2.5x.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench._common import Check, Result, Table, progress, scratch

PG_DSN = os.environ.get("FERRYMAN_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
LINK_RATE = 50e6 / 8  # bytes a second, per download
TARGETS = {2: 1.8, 3: 2.5}


class _Paced(http.server.BaseHTTPRequestHandler):
    """GET /anything: the zip, each connection at LINK_RATE (HEAD: its headers)."""

    body = b""

    def _head(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()

    def do_HEAD(self) -> None:
        self._head()

    def do_GET(self) -> None:
        self._head()
        started = time.monotonic()
        step = 64 * 1024
        try:
            for offset in range(0, len(self.body), step):
                due = started + offset / LINK_RATE
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                self.wfile.write(self.body[offset : offset + step])
        except (BrokenPipeError, ConnectionResetError):
            return  # the client had what it wanted (a probe reads the start only)

    def log_message(self, *args: Any) -> None:
        return None


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def _ferryman(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ferryman", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"ferryman {args[0]}: {done.stderr[-500:]}")
    return done.stdout


def _round(work: Path, nodes: int, urls: list[str]) -> float:
    """Seconds from the nodes' start until every job ended (all must be done)."""
    from tests.conftest import _reset_postgres

    asyncio.run(_reset_postgres(PG_DSN))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env |= {
        "FERRYMAN_DATA_DIR": str(work / f"data-{nodes}"),
        "FERRYMAN_DATABASE_URL": PG_DSN,
        "FERRYMAN_SPACE_FLOOR": "0",
    }
    _ferryman(env, "add", *urls)
    started = time.monotonic()
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "ferryman", "run"],
            env=env | {"FERRYMAN_NODE_NAME": f"node-{n}"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(nodes)
    ]
    try:
        took = asyncio.run(_until_ended(started))
    finally:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(60)
    jobs = json.loads(_ferryman(env, "status", "--json"))["jobs"]
    failed = [j["id"] for j in jobs if j["state"] != "done"]
    if failed:
        raise RuntimeError(f"jobs not done: {failed}")
    return took


async def _until_ended(started: float) -> float:
    """Seconds from ``started`` until no job is left unended, asked of the store directly
    every 0.1 s (a ``ferryman status`` a poll would cost the nodes a CPU)."""
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    try:
        while True:
            left = await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE state NOT IN ('done', 'failed', 'cancelled')"
            )
            if left == 0:
                return time.monotonic() - started
            if time.monotonic() - started > 600:
                raise RuntimeError("the jobs did not end within 10 minutes")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


def _noisy_photos(folder: Path, count: int) -> list[Path]:
    """JPEGs of noise (1600x1200, ~1.5 MB each): photo-sized, and a zip of them does not
    shrink, so a download takes as long as a real one."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(count):
        path = folder / f"noise-{n:03d}.jpg"
        Image.frombytes("RGB", (1600, 1200), os.urandom(1600 * 1200 * 3)).save(path, quality=85)
        made.append(path)
    return made


def run(args: argparse.Namespace) -> Result:
    from ferryman.samples import make_zip

    count = int(getattr(args, "scale_jobs", None) or max(6, round(24 * args.scale)))
    result = Result("scale", "1, 2 and 3 worker nodes on links paced at 50 Mbit/s each")
    table = Table(["nodes", "jobs", "seconds", "jobs/min", "vs 1 node"])
    with scratch("ferryman-bench-scale-", args.tmp_dir, args.keep) as work:
        photos = _noisy_photos(work / "photos", 8)
        _Paced.body = make_zip(work / "trip.zip", [(p.name, p) for p in photos]).read_bytes()
        server = _Server(("127.0.0.1", 0), _Paced)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        base: float | None = None
        try:
            for nodes in (1, 2, 3):
                progress(f"scale: {nodes} node(s), {count} jobs")
                urls = [f"http://127.0.0.1:{port}/n{nodes}/trip-{n}.zip" for n in range(count)]
                seconds = _round(work, nodes, urls)
                rate = count / seconds * 60
                base = base or rate
                table.add(
                    str(nodes), str(count), f"{seconds:.1f}", f"{rate:.1f}", f"{rate / base:.2f}x"
                )
                if nodes in TARGETS:
                    result.checks.append(
                        Check(f"{nodes} nodes: throughput vs 1", f"{rate / base:.2f}x",
                              f">= {TARGETS[nodes]}x", rate / base >= TARGETS[nodes])
                    )  # fmt: skip
        finally:
            server.shutdown()
    result.tables.append(("", table))
    result.notes.append(
        f"each job a link to a {len(_Paced.body) / 2**20:.1f} MiB zip of 8 photos, every"
        " download paced to 50 Mbit/s on its own; nodes are `ferryman run` processes with"
        " concurrency.fetch 1 on one PostgreSQL store (its tables dropped before each"
        " round), sharing the data dir; timed from the nodes' start to every job done"
    )
    return result
