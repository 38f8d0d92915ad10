"""A server for ``bench web``, in its own process: ``python -m bench._web_server MODE
DATA PORT_FILE``.

- ``ferryman``: ferryman's web app over a SQLite store holding ``--jobs`` link jobs, a
  1 GiB result for job 1, and an event driver standing in for the engine: every
  ``--period`` seconds each job gets a ``JobFetching`` event on the bus the app
  listens to, its fraction unique; the time of each is written to ``DATA/emitted.log``
  so the clients' receive times can be matched to it.
- ``bare``: the baseline, a FastAPI app with one endpoint returning a job-sized dict
  and one ``FileResponse`` of the same 1 GiB file, on the same uvicorn settings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import FileResponse


def _settings(data: Path) -> Any:
    from ferryman.config import load_settings

    return load_settings(
        None,
        {
            "data_dir": data,
            "web": {"rate_limit": 10**9, "allow_private_links": True},
        },
    )


async def _ferryman(args: argparse.Namespace) -> None:
    from ferryman.engine.ops import intake
    from ferryman.engine.plumbing.events import EventBus
    from ferryman.store import Store
    from ferryman.web.server import web_app

    settings = _settings(args.data)
    store = await Store.open(settings.database)
    jobs = []
    for n in range(args.jobs):
        job = await intake.add_source(
            store, f"https://media.example/clip-{n}.zip", dest="link:", settings=settings
        )
        jobs.append(job.id)
    results = settings.results_dir / f"job-{jobs[0]}" / "0001"
    results.mkdir(parents=True, exist_ok=True)
    big = results / "big.bin"
    if not big.exists():
        try:
            os.link(args.file, big)
        except OSError:
            shutil.copyfile(args.file, big)
    bus = EventBus()
    async with web_app(settings, store, bus, lambda: True) as served:
        token_url = served.web.download_url(jobs[0], "0001/big.bin", time.time() + 86400)
        (args.data / "download.url").write_text(token_url)
        driver = asyncio.create_task(_drive(bus, jobs, args.period, args.data / "emitted.log"))
        try:
            await _serve(served.app, args.port_file)
        finally:
            driver.cancel()
    await store.close()


async def _drive(bus: Any, jobs: list[int], period: float, log: Path) -> None:
    """Progress for every job, every ``period`` seconds, spread over the period, on a
    fixed schedule: a loop too busy to keep it sends the late ones at once, so a server
    that cannot keep up shows it as latency, not as fewer events."""
    from ferryman.engine.plumbing.events import JobFetching

    tick = 0
    loop = asyncio.get_running_loop()
    step = period / len(jobs)
    due = loop.time()
    with open(log, "w", buffering=1) as out:  # noqa: ASYNC230 (a line each, to the cache)
        while True:
            tick += 1
            for job_id in jobs:
                due += step
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                fraction = round(tick / 100_000, 6)
                out.write(f"{job_id} {tick} {time.time():.6f}\n")
                bus.publish(
                    JobFetching(
                        job_id, done=tick, total=None, speed=1e6, eta=1.0, fraction=fraction
                    )
                )


async def _bare(args: argparse.Namespace) -> None:
    app = FastAPI()
    sample = {
        "id": 1,
        "name": "clip-1",
        "source": "https://media.example/clip-1.zip",
        "dest": "link:",
        "status": "queued",
        "paused": False,
        "phase": "fetching",
        "waiting": None,
        "stuck": False,
        "progress": {"fraction": 0.5, "bytes": 1, "total": None, "speed": 1e6, "eta_s": 1.0},
        "counts": {"total": 0, "finished": 0},
        "error": None,
        "result": {"files": [], "zip": {}},
        "items": [],
    }

    @app.get("/bare/{job_id}")
    async def bare(job_id: int) -> dict[str, Any]:
        return sample | {"id": job_id}

    @app.get("/file")
    async def file() -> FileResponse:
        return FileResponse(args.file)

    await _serve(app, args.port_file)


async def _serve(app: FastAPI, port_file: Path) -> None:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, ws_ping_interval=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    port_file.write_text(str(port))  # noqa: ASYNC240 (once, a few bytes)
    await task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["ferryman", "bare"])
    parser.add_argument("data", type=Path)
    parser.add_argument("port_file", type=Path)
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--period", type=float, default=1.0)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    asyncio.run(_ferryman(args) if args.mode == "ferryman" else _bare(args))


if __name__ == "__main__":
    main()
