"""``python -m bench web``: the web server under load, against bare FastAPI in the same run.

Two servers run in child processes (``bench._web_server``), each on uvicorn with the same
settings: ferryman's app over a SQLite store of ``--web-jobs`` (50) running jobs, an
event driver standing in for the engine (each job's progress every second), and a 1 GiB
result; and a bare FastAPI app (one endpoint returning a job-sized dict, one
``FileResponse`` of the same file).

- **Event fan-out:** ``--web-clients`` (1,000) WebSocket clients in another process for
  ``--web-seconds`` (20), twice: each watching its own job (20 clients a job), then
  each watching every job (the page watches all the server's jobs). Latency: from the
  event on the engine's bus (its time written by the server) to its arrival at a client
  (the same machine's clock), counted once every client has subscribed (the table says
  how long that took); p50 and p99, messages a second, the server's RSS. Target: p99
  ≤ 250 ms past the audience's pace (``web.stream.pace``: 50 ms up to 12 clients
  watching the same thing; 1,000 watching every job are woken every 4 s, so that the
  engine on the same loop is not slowed: ``run_subscribers``).
- **Job reads:** ``GET /api/v1/jobs/{id}`` against the bare endpoint, requests a second
  from 32 keep-alive connections (a minimal asyncio HTTP/1.1 client in this process),
  5 s each, alternating, twice. Target ≥ 0.5x.
- **Downloads:** the 1 GiB result through its signed link against the bare
  ``FileResponse``, with ``curl`` (from the page cache, over loopback), three rounds
  alternating, medians. Target ≥ 0.9x.
- **Upload:** ``--web-upload-mb`` (2048) through a ``ferryman web`` child with the
  default rate limit, as the page sends it (``bench._web_upload``): seconds, MiB/s, and
  how many pieces were answered 429 (target: none).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from bench._common import Check, Result, Table, median, progress, rss_tree, scratch
from bench._web_subscribers import CASES, PHOTOS, job_times
from bench._web_upload import upload_through_web
from ferryman.web.stream import BATCH_SECONDS, pace

SUBSCRIBERS_TARGET = 1.2  # a job's time with 1,000 idle clients, vs with none
LATENCY_TARGET = 0.250
READ_TARGET = 0.5
DOWNLOAD_TARGET = 0.9


@contextmanager
def _server(mode: str, data: Path, big: Path, jobs: int) -> Iterator[tuple[str, Path, int]]:
    port_file = data.parent / f"{mode}.port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._web_server", mode, str(data), str(port_file),
         "--file", str(big), "--jobs", str(jobs)],
        env={k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {mode} server did not start")
            time.sleep(0.05)
        yield f"127.0.0.1:{port_file.read_text()}", data, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _big_file(path: Path, mib: int) -> None:
    block = os.urandom(16 * 2**20)
    with open(path, "wb") as out:
        for _ in range(max(1, mib // 16)):
            out.write(block)


def _fanout(
    address: str, data: Path, pid: int, clients: int, seconds: float, spread: int
) -> dict[str, float]:
    """``spread`` 0: every client watches every job; else each watches one of them."""
    out = data.parent / f"received-{spread}.log"
    peak = 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._web_clients", f"ws://{address}/api/v1/events",
         str(clients), str(seconds), str(out), str(spread)],
    )  # fmt: skip
    server = psutil.Process(pid)
    while proc.poll() is None:
        peak = max(peak, rss_tree(server))
        time.sleep(0.25)
    emitted: dict[tuple[str, str], float] = {}  # (job, tick) → when the bus had it
    for line in (data / "emitted.log").read_text().splitlines():
        job, tick, at = line.split()
        emitted[(job, tick)] = float(at)
    latencies: list[float] = []
    failed = 0
    connecting = all_in = 0.0
    first = last = None
    for line in out.read_text().splitlines():
        if line.startswith("# failed"):
            words = line.split()
            failed, connecting, all_in = int(words[2]), float(words[4]), float(words[6])
            continue
        job, tick, at = line.split()
        sent = emitted.get((job, tick))
        if sent is None or sent < all_in:  # steady state only: every client subscribed
            continue
        latencies.append(float(at) - sent)
        first = float(at) if first is None else min(first, float(at))
        last = float(at) if last is None else max(last, float(at))
    latencies.sort()
    span = (last - first) if first is not None and last is not None and last > first else 1.0
    window = [t for t in emitted.values() if all_in <= t <= all_in + seconds]

    def pct(share: float) -> float:
        return latencies[min(len(latencies) - 1, round(share * (len(latencies) - 1)))]

    return {
        "p50": pct(0.5) if latencies else float("nan"),
        "p99": pct(0.99) if latencies else float("nan"),
        "messages": len(latencies),
        "rate": len(latencies) / span,
        "events": len(window) / seconds,  # what the driver emitted a second meanwhile
        "rss": peak,
        "failed": failed,
        "connecting": connecting,
    }


async def _load(address: str, paths: list[str], seconds: float, connections: int = 32) -> float:
    """Requests a second: ``connections`` keep-alive connections, each asking in turn."""
    host, port = address.split(":")
    done = 0
    until = time.monotonic() + seconds

    async def one(n: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        i = n
        try:
            while time.monotonic() < until:
                path = paths[i % len(paths)]
                i += 1
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head[:200].decode(errors="replace"))
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(connections)))
    return done / (time.monotonic() - started)


def _curl(url: str) -> float:
    """Bytes a second for one download of ``url`` to nowhere."""
    done = subprocess.run(
        ["curl", "-s", "-f", "-o", "/dev/null", "-w", "%{speed_download}", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(done.stdout)


def run(args: argparse.Namespace) -> Result:
    clients = int(getattr(args, "web_clients", None) or max(10, round(1000 * args.scale)))
    seconds = float(getattr(args, "web_seconds", None) or 20)
    jobs = int(getattr(args, "web_jobs", None) or 50)
    file_mb = int(getattr(args, "web_file_mb", None) or max(16, round(1024 * args.scale)))
    result = Result("web", "the page's server: events, job reads, downloads")
    with scratch("web", args.tmp_dir, args.keep) as work:
        big = work / "result.bin"
        progress(f"web: a {file_mb} MiB result")
        _big_file(big, file_mb)
        with (
            _server("ferryman", work / "ferryman", big, jobs) as mine,
            _server("bare", work / "bare", big, jobs) as bare,
        ):
            table = Table(
                ["clients", "each watches", "all in after", "events/s", "messages/s", "p50",
                 "p99", "server RSS", "failed"]
            )  # fmt: skip
            for spread, watches in ((jobs, "its own job"), (0, f"all {jobs} jobs")):
                progress(f"web: {clients} WebSocket clients, each watching {watches}")
                fan = _fanout(mine[0], mine[1], mine[2], clients, seconds, spread)
                table.add(
                    clients, watches, f"{fan['connecting']:.1f} s", f"{fan['events']:.0f}",
                    f"{fan['rate']:.0f}",
                    f"{fan['p50'] * 1000:.0f} ms",
                    f"{fan['p99'] * 1000:.0f} ms", f"{fan['rss'] / 2**20:.0f} MiB", fan["failed"],
                )  # fmt: skip
                # An audience is woken at most every pace (web.stream): 250 ms past it.
                limit = LATENCY_TARGET + pace(clients // spread if spread else clients)
                limit -= BATCH_SECONDS
                result.checks.append(
                    Check(f"event p99, each watching {watches}", f"{fan['p99'] * 1000:.0f} ms",
                          f"<= {limit * 1000:.0f} ms", fan["p99"] <= limit and fan["failed"] == 0)
                )  # fmt: skip
            result.tables.append(
                (f"event fan-out: {jobs} running jobs, one progress event each a second", table)
            )
            progress("web: job reads")
            ids = [f"/api/v1/jobs/{n}" for n in range(1, jobs + 1)]
            bare_paths = [f"/bare/{n}" for n in range(1, jobs + 1)]
            ours: list[float] = []
            theirs: list[float] = []
            for round_ in range(2):
                order = [(ours, mine[0], ids), (theirs, bare[0], bare_paths)]
                for sink, address, paths in order if round_ % 2 == 0 else order[::-1]:
                    sink.append(asyncio.run(_load(address, paths, 5.0)))
            reads = Table(["server", "requests/s", "vs bare"])
            reads.add("bare FastAPI (baseline)", f"{median(theirs):.0f}", "1.00x")
            ratio = median(ours) / median(theirs)
            reads.add("GET /api/v1/jobs/{id}", f"{median(ours):.0f}", f"{ratio:.2f}x")
            result.tables.append(("job reads", reads))
            result.checks.append(
                Check("job reads vs bare", f"{ratio:.2f}x", ">= 0.5x", ratio >= READ_TARGET)
            )
            progress("web: downloads")
            link = f"http://{mine[0]}{(mine[1] / 'download.url').read_text()}"
            plain = f"http://{bare[0]}/file"
            _curl(plain)  # into the page cache
            got: list[float] = []
            base: list[float] = []
            for round_ in range(3):
                pair = [(got, link), (base, plain)]
                for sink, url in pair if round_ % 2 == 0 else pair[::-1]:
                    sink.append(_curl(url))
            downloads = Table(["server", "MiB/s", "vs FileResponse"])
            downloads.add("uvicorn FileResponse (baseline)", f"{median(base) / 2**20:.0f}",
                          "1.00x")  # fmt: skip
            share = median(got) / median(base)
            downloads.add("signed download link", f"{median(got) / 2**20:.0f}", f"{share:.2f}x")
            result.tables.append((f"downloads ({file_mb} MiB, curl, loopback)", downloads))
            result.checks.append(
                Check("downloads vs FileResponse", f"{share:.2f}x", ">= 0.9x",
                      share >= DOWNLOAD_TARGET)
            )  # fmt: skip
        upload_mb = int(getattr(args, "web_upload_mb", None) or max(16, round(2048 * args.scale)))
        progress(f"web: a {upload_mb} MiB upload in 8 MiB pieces, default rate limit")
        up = upload_through_web(work, upload_mb)
        uploads = Table(["size", "pieces", "seconds", "MiB/s", "answered 429"])
        uploads.add(f"{upload_mb} MiB", up["pieces"], f"{up['seconds']:.1f}",
                    f"{up['size'] / 2**20 / up['seconds']:.0f}", up["limited"])  # fmt: skip
        result.tables.append(("an upload as the page sends it (loopback, rate_limit 120)", uploads))
        result.checks.append(
            Check("upload pieces refused (429)", str(up["limited"]), "0", up["limited"] == 0)
        )
    result.notes.append(
        "both servers are uvicorn children with the same settings; the clients and the load"
        " generator share this machine's 2 cores with them: compare ratios, not rates"
    )
    if shutil.which("curl") is None:
        result.notes.append("curl is missing: downloads not measured")
    return result


_CASE_NAMES = {
    "none": "no event clients (baseline)",
    "sse": "{n} idle Server-Sent Events clients",
    "ws": "{n} idle WebSocket clients",
    "slow": "{n} slow readers (half SSE at 1 KiB/s, half WebSockets never read)",
}


def run_subscribers(args: argparse.Namespace) -> Result:
    """``python -m bench web-subscribers``: a job's time with live subscribers (issue 56)."""
    clients = int(getattr(args, "web_clients", None) or max(10, round(1000 * args.scale)))
    rounds = int(getattr(args, "rounds", None) or 3)
    result = Result("web-subscribers", "a job's time with 1,000 idle event clients")
    with scratch("web-subscribers", args.tmp_dir, args.keep) as work:
        progress(f"web-subscribers: {rounds} rounds of {len(CASES)} {PHOTOS}-photo jobs")
        found, limit = job_times(work, clients, rounds)
    base = median([t.seconds for t in found["none"]])
    base_cpu = median([t.cpu for t in found["none"]])
    table = Table(
        ["clients", "job (median)", "each round", "vs none", "server CPU", "each round",
         "vs none", "server RSS"]
    )  # fmt: skip
    for case in CASES:
        times = found[case]
        seconds = median([t.seconds for t in times])
        cpu = median([t.cpu for t in times])
        name = _CASE_NAMES[case].format(n=f"{clients:,}")
        failed = max(t.failed for t in times)
        if failed:
            name += f" ({failed} failed to connect)"
        table.add(
            name, f"{seconds:.2f} s", " ".join(f"{t.seconds:.2f}" for t in times),
            f"{seconds / base:.2f}x", f"{cpu:.2f} s", " ".join(f"{t.cpu:.2f}" for t in times),
            f"{cpu / base_cpu:.2f}x", f"{max(t.rss for t in times) / 2**20:.0f} MiB",
        )  # fmt: skip
        if case != "none":
            ratio = seconds / base
            result.checks.append(
                Check(f"job time, {name}", f"{ratio:.2f}x", f"<= {SUBSCRIBERS_TARGET}x",
                      ratio <= SUBSCRIBERS_TARGET and not failed)
            )  # fmt: skip
    result.tables.append(
        (f"a {PHOTOS}-photo job through `ferryman web` (store's created to finished)", table)
    )
    result.notes.append(
        f"one `ferryman web` (engine inside, default settings; its open-files limit {limit});"
        " the clients in another process on the same 2 cores; rounds alternate the order"
    )
    return result
