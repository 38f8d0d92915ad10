"""Memory on a phone: the trip's peak RSS with ferryman in a process of its own.

``bench trip`` runs the engine in the bench's process, beside the fake Telegram and the
baselines' heap, so its RSS is not ferryman's. Here the engine runs in a child
(``bench._trip_child``, the phone profile) against the fake served over TCP from a
thread of this process (``faketg.remote``), the zip link from ``bench.network``'s paced
server, the uplink the slower link (the backlog's case): the child's tree (ffmpeg
included) is sampled, and its own high-water mark read. Part of ``python -m bench
memory``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench._common import MB, Check, Measured, MiB, Table, fmt_bytes, progress, run_measured
from bench._trip_child import trip_settings
from bench._trip_input import TripInput, make_input
from bench.memory_pictures import PEAK_LIMIT, Picture
from bench.network import PacedServer, extra_disk
from bench.telegram import log_in
from bench.trip import world
from faketg.remote import RemoteTelegram, serve

TRIP_MIB = 256  # the trip's zip here: a quarter of bench trip's, the same mix
# What a 3 GB phone affords (Android keeps about 1 GB for itself and the app in front;
# a background app much over a few hundred MB is the low-memory killer's first pick):
# the trip, which runs for hours, 300 MB with ffmpeg; one picture's moment, the
# decoding budget's peak (docs/media.md, "Memory per picture").
TRIP_BUDGET = 300 * MB
PICTURE_BUDGET = int(PEAK_LIMIT)
REPO = Path(__file__).resolve().parent.parent
_T = TypeVar("_T")


@dataclass
class TripMemory:
    input: TripInput
    run: Measured
    peak_disk: int
    state: str
    delivered: int
    in_chat: int
    own_hwm: int  # the engine's process alone (VmHWM), without ffmpeg

    @property
    def peak_rss(self) -> int:
        """The tree's memory at its peak: PSS, each shared page counted once (the
        conversion children fork from a template process and share its pages)."""
        return self.run.peaks["pss"]


class _LoopThread:
    """An event loop on a thread of its own: the fake answers while this one waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, work: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def measure_trip(root: Path, size_mib: int, interval: float, timeout: float) -> TripMemory:
    media = make_input(size_mib)
    scale = min(1.0, size_mib / 1024) ** 0.5  # as bench trip scales its links
    down, up = 8 * MB * scale, 4 * MB * scale  # the uplink slower: reading could run ahead
    data = root / "trip-data"
    settings = trip_settings(data, "phone")
    thread = _LoopThread()
    link = PacedServer(media.path, down)
    try:

        async def start() -> tuple[Any, Any, RemoteTelegram]:
            server, me = world(up)
            await log_in(settings, server, me)
            return server, me, await serve(server)

        server, me, remote = thread.call(start())
        progress(f"memory: the trip, {media.size / 2**20:.0f} MiB, ferryman in a child process")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        cmd = [sys.executable, "-m", "bench._trip_child", str(data), str(remote.port)]
        measured = run_measured(
            [*cmd, link.url, "phone"],
            env=env,
            log=root / "trip-child.log",
            interval=interval,
            probes={"disk": lambda: extra_disk(data)},
            timeout=timeout,
            pss=True,  # ffmpeg's children fork from a template: RSS counts shared pages twice
        )
        thread.call(remote.close())
        in_chat = sum(1 for m in server.chat(me) if m.media is not None)
    finally:
        link.close()
        thread.close()
    lines = measured.log.read_text(errors="replace").strip().splitlines()
    try:
        out = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        out = {"state": f"exit {measured.returncode}", "delivered": 0, "hwm": 0}
    return TripMemory(
        media,
        measured,
        measured.peaks["disk"],
        out["state"],
        out["delivered"],
        in_chat,
        out["hwm"],
    )


def phone_budget(pictures: list[Picture], trip: TripMemory) -> tuple[Table, list[Check]]:
    """The worst single picture and the trip, each beside what a 3 GB phone affords."""
    worst = max(pictures, key=lambda p: p.peak)
    deep = max((p for p in pictures if "16-bit" in p.label), key=lambda p: p.decoded)
    rows = [
        (f"worst single picture: {worst.label}", worst.peak, PICTURE_BUDGET, worst.outcome),
        (
            f"16-bit picture near the pixel limit: {deep.label}",
            deep.peak,
            PICTURE_BUDGET,
            deep.outcome,
        ),
        (
            f"the trip: a {trip.input.size / MiB:.0f} MiB zip link -> Telegram, phone profile",
            trip.peak_rss,
            TRIP_BUDGET,
            f"{trip.delivered}/{trip.input.entries} delivered, {trip.state},"
            f" disk peak {fmt_bytes(trip.peak_disk)}, {trip.run.seconds:.0f} s; PSS; RSS summed"
            f" {fmt_bytes(trip.run.peaks['rss'])}, VmHWM over the tree"
            f" {fmt_bytes(trip.run.peaks['hwm'])}, ferryman's own {fmt_bytes(trip.own_hwm)}",
        ),
    ]
    table = Table(["what", "peak RSS", "a 3 GB phone's budget", "within", "outcome"])
    checks = []
    for label, peak, budget, outcome in rows:
        table.add(
            label, fmt_bytes(peak), fmt_bytes(budget), "yes" if peak <= budget else "NO", outcome
        )
        checks.append(
            Check(f"phone: {label}", fmt_bytes(peak), f"<= {fmt_bytes(budget)}", peak <= budget)
        )
    checks.append(
        Check(
            "phone: the trip delivered everything",
            f"{trip.delivered}/{trip.input.entries} ({trip.in_chat} in the chat), {trip.state}",
            f"{trip.input.entries}, done",
            trip.delivered == trip.input.entries and trip.state == "done",
        )
    )
    return table, checks
