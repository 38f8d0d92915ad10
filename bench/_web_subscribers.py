"""``bench web-subscribers``: a 100-photo job's time through ``ferryman web`` (engine in
the process, default settings) with no event clients, and with 1,000 idle ones held
open by another process (``bench._web_clients hold``): Server-Sent Events, WebSockets,
or slow readers. Issue 56: 200 idle SSE clients made such a job take 58 s, not 0.7 s.

The job's time is the store's (``finished_at - created_at``); the server's CPU seconds
over it (user + system, psutil) say what the clients cost where a loaded machine's
times wander. Each round adds one job per case, in an order reversed every round."""

from __future__ import annotations

import functools
import http.server
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from ferryman.samples import make_photo_set, make_zip

PHOTOS = 100
CASES = ("none", "sse", "ws", "slow")


@dataclass(frozen=True)
class Timed:
    seconds: float  # the store's: created to finished
    cpu: float  # the server's, user + system, from the POST to done seen
    rss: int  # the server's resident memory once the job is done
    connected: int  # clients held open (and answered) meanwhile
    failed: int


@contextmanager
def _files(root: Path) -> Iterator[str]:
    """``root`` over HTTP on loopback (the jobs' links)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _web(data: Path) -> Iterator[tuple[str, psutil.Process]]:
    """``ferryman web --port 0`` with the engine, as shipped but for private links
    (the zips are on loopback); its open-files limit raised to the hard one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    env |= {"FERRYMAN_WEB__ALLOW_PRIVATE_LINKS": "true", "FERRYMAN_SPACE_FLOOR": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ferryman", "--data-dir", str(data), "web", "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        base = ""
        for line in proc.stdout:
            if line.startswith("ferryman web: http://"):
                base = line.split()[2].rstrip("/")
                break
        if not base:
            raise RuntimeError("ferryman web did not start")
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # never blocks it
        yield base, psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def _clients(kind: str, base: str, count: int, server: psutil.Process) -> Iterator[tuple[int, int]]:
    """``count`` idle clients of ``kind`` in another process, all in when yielded."""
    if kind == "none":
        yield 0, 0
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._web_clients", "hold", kind, base, str(count)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError(f"the {kind} clients did not connect")
        _quiet(server)
        yield int(line[1]), int(line[2])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _quiet(server: psutil.Process, within: float = 120.0) -> None:
    """Wait until the server has done with the clients' arrival (their snapshots):
    under a tenth of a core for half a second, so the job meets idle clients."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = _cpu(server)
        time.sleep(0.5)
        if _cpu(server) - before < 0.05:
            return
    raise RuntimeError(f"the server stayed busy {within:g} s after the clients came")


def _cpu(server: psutil.Process) -> float:
    times = server.cpu_times()
    return float(times.user + times.system)


def _one_job(
    client: httpx.Client, link: str, server: psutil.Process, db: Path
) -> tuple[float, float]:
    """The job's seconds (the store's) and the server's CPU seconds meanwhile."""
    cpu = _cpu(server)
    made = client.post("/api/v1/jobs", json={"source": link})
    made.raise_for_status()  # 429 here was issue 56's minute
    job = made.json()["id"]
    deadline = time.monotonic() + 600
    while True:
        answer = client.get(f"/api/v1/jobs/{job}")
        if answer.status_code == 429:  # this poll's own budget: wait as asked
            time.sleep(float(answer.headers.get("retry-after", "1")))
            continue
        answer.raise_for_status()
        status = answer.json()["status"]
        if status in ("done", "failed", "cancelled"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job} still {status} after 10 minutes")
        time.sleep(0.25)  # the budget: 120 requests a minute, as shipped
    used = _cpu(server) - cpu
    if status != "done":
        raise RuntimeError(f"job {job} ended {status}")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        created, finished = conn.execute(
            "SELECT created_at, finished_at FROM jobs WHERE id = ?", (job,)
        ).fetchone()
    return finished - created, used


def job_times(work: Path, clients: int, rounds: int) -> tuple[dict[str, list[Timed]], int]:
    """Per case, each round's ``Timed``; and the server's open-files limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    inputs = work / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    zips = []
    for n in range(rounds * len(CASES) + 1):  # distinct photos: nothing is a duplicate
        photos = make_photo_set(work / f"photos-{n}", PHOTOS, start_seed=n * PHOTOS)
        zips.append(make_zip(inputs / f"job-{n}.zip", [(p.name, p) for p in photos]).name)
    found: dict[str, list[Timed]] = {case: [] for case in CASES}
    with (
        _files(inputs) as files,
        _web(work / "data") as (base, server),
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        limit = server.rlimit(psutil.RLIMIT_NOFILE)[0]
        _one_job(client, f"{files}/{zips.pop()}", server, work / "data" / "ferryman.db")  # warm
        for round_ in range(rounds):
            for case in CASES if round_ % 2 == 0 else CASES[::-1]:
                with _clients(case, base, clients, server) as (connected, failed):
                    seconds, cpu = _one_job(
                        client, f"{files}/{zips.pop()}", server, work / "data" / "ferryman.db"
                    )
                    rss = server.memory_info().rss
                found[case].append(Timed(seconds, cpu, rss, connected, failed))
    return found, limit
