"""``python -m bench trip``: the whole trip, a zip link to Telegram albums, against the
slower of its two links.

The input (``bench/_trip_input.py``): a stored zip of 8 MP photos, a dozen videos (MP4s
sent as they are, MKVs remuxed, one VP9 WebM transcoded) and a few PDFs. The downlink:
the tests' fault server (``tests/support/httpserve.py``) in a child process, paced, Range-capable.
The uplink: the protocol-level fake Telegram (``faketg``), 50 ms one way, paced at the
whole link's rate. Two rows: the download slower, then the upload slower.

Baselines in the same run, at the same paces: ``curl -o`` (the download alone), the
``Uploader`` sending the zip's bytes as one document (the upload alone), and their sum
(what a download-then-unpack-then-upload tool pays). The engine runs in-process as the
other benches run it, from ``add_source`` until idle, on the phone profile (one worker
per stage, as on Termux) and on the server profile (the defaults off a phone).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from telethon.tl import functions, types

from bench._common import Check, MiB, Result, Sampler, Table, fmt_ratio, progress, scratch
from bench._trip_child import PROFILES, trip_settings
from bench._trip_input import TripInput, make_input
from bench.network import LATENCY as DOWN_LATENCY
from bench.network import PacedServer
from bench.telegram import log_in
from bench.trip_disk import PeakFiles
from bench.trip_timeline import AlbumTimes, Clock, details, summary
from faketg import FakeTelegram, LinkModel
from faketg.client import FakeDialer, logged_in_client
from faketg.state import Account
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.store import Store
from ferryman.telegram.upload import Uploader

MB = 1e6
LATENCY_MS, CONN_MBIT = 50.0, 100.0
TARGET = 1.10
# (down, up) in MB/s at the 1 GiB default: each side is the slower one in one row.
LINKS = ((4.0, 8.0), (8.0, 4.0))


def world(up: float) -> tuple[FakeTelegram, Account]:
    server = FakeTelegram(link=LinkModel.mbit(LATENCY_MS, CONN_MBIT, up * 8 / 1e6))
    server.keep_part_bytes = False
    me = server.add_user("Trip", username="trip", phone="+15550101")
    server.box("user", me.id).pts = 1000
    return server, me


async def upload_alone(path: Path, up: float) -> float:
    """The zip's bytes through the ``Uploader`` and one ``sendMedia``, at the uplink's pace."""
    server, me = world(up)
    client = await logged_in_client(server, me, flood_sleep_threshold=0)
    uploader = Uploader(client, FakeDialer(server))
    try:
        started = time.perf_counter()
        handle = await uploader.upload(path)
        media = types.InputMediaUploadedDocument(
            file=handle, mime_type="application/zip", attributes=[], force_file=True
        )
        request = functions.messages.SendMediaRequest(
            peer=types.InputPeerSelf(), media=media, message="", random_id=secrets.randbits(63)
        )
        await client(request)
        return time.perf_counter() - started
    finally:
        await uploader.close()
        await client.disconnect()


@dataclass
class Trip:
    seconds: float
    state: str
    delivered: int
    in_chat: int
    peak_disk: int
    peak_rss: int
    start_rss: int
    transcode_s: float
    marks: dict[str, float] = field(default_factory=dict)
    albums: list[AlbumTimes] = field(default_factory=list)  # in the order they were sent
    largest_album: int = 0
    disk_peak: str = ""  # what the work area held at its peak (``trip_disk``)


def _rss_probe(skip: int) -> Callable[[], int]:
    me = psutil.Process()

    def probe() -> int:
        total: int = me.memory_info().rss
        for child in me.children(recursive=True):
            if child.pid != skip:
                with contextlib.suppress(psutil.Error):
                    total += child.memory_info().rss
        return total

    return probe


async def trip(url: str, data: Path, up: float, profile: str, args: argparse.Namespace) -> Trip:
    server, me = world(up)
    settings = trip_settings(data, profile)
    await log_in(settings, server, me)
    store = await Store.open(settings.database)
    clock = Clock()
    disk = PeakFiles(data)
    probes = {"disk": disk, "rss": _rss_probe(args.downlink_pid)}
    start_rss = probes["rss"]()  # the bench and the fake Telegram, before the engine
    try:
        with Sampler(probes, args.interval) as sampler:
            clock.start()
            job = await intake.add_source(store, url, dest="telegram:me")
            engine = Engine(store, settings, dialer=FakeDialer(server))
            engine.bus.subscribe(clock.on_event)
            await asyncio.wait_for(engine.run(until_idle=True), args.timeout)
            seconds = time.perf_counter() - clock.t0
        done = await store.get_job(job.id)
        spans = await clock.albums(store, job.id)
    finally:
        await store.close()
    sent = server.albums(me)
    sizes = [sum(m.media.file.size for m in a if m.media and m.media.file) for a in sent]
    cut = " ".join(f"{len(a)}/{size / MiB:.1f}" for a, size in zip(sent, sizes, strict=True))
    in_chat = sum(1 for m in server.chat(me) if m.media is not None)
    return Trip(
        seconds,
        done.state.value,
        (done.summary or {}).get("delivered", 0),
        in_chat,
        sampler.peaks["disk"],
        sampler.peaks["rss"],
        start_rss,
        clock.transcode_s,
        clock.marks,
        spans,
        max(sizes, default=0),
        f"{disk.summary()}; albums sent (files/MiB): {cut}",
    )


def run(args: argparse.Namespace) -> Result:
    size_mib: int = args.size_mb
    result = Result("trip", f"a {size_mib} MiB zip link -> Telegram albums, vs the slower link")
    if shutil.which("curl") is None:
        result.checks.append(Check("curl", "missing", "apt-get install curl", False))
        return result
    media = make_input(size_mib)
    scale = min(1.0, size_mib / 1024) ** 0.5  # a small run keeps its length in proportion
    table = Table(
        [
            *("down MB/s", "up MB/s", "run", "seconds", "vs slower alone"),
            *("peak extra disk MiB", "peak RSS MiB", "transcode s"),
        ]
    )
    notes: list[str] = []
    with scratch("trip", args.tmp_dir, args.keep) as tmp:
        for down0, up0 in LINKS:
            if args.trip_slower != "both" and (down0 < up0) != (args.trip_slower == "down"):
                continue
            down, up = down0 * MB * scale, up0 * MB * scale
            row = _row(args, media, tmp, down, up, table, result)
            if row is not None:
                notes.append(row)
    result.tables.append(
        (
            f"{media.entries} entries ({media.photos} photos, {media.videos} videos,"
            f" {media.documents} documents), {media.size / MiB:.0f} MiB; uplink {LATENCY_MS:g} ms"
            f" one way; downlink {DOWN_LATENCY * 1000:g} ms a request",
            table,
        )
    )
    result.notes += notes
    result.notes += [
        "vs slower alone = the run's seconds / the slower link's baseline in the same row"
        " (start-up to the first byte counted); the transcode's own seconds (ItemConverted)"
        " are in their column and subtracted in the check",
        "peak RSS = this process (engine and fake Telegram, in-process) and its children but"
        " the downlink's server, sampled, (+ its growth over the RSS before the add: the"
        " engine's share): stated, not checked, since the bench's own heap is in it; the"
        " phone's budget is checked by `bench memory`, ferryman in a process of its own;"
        " peak extra disk = work area, sampled",
        f"--repeat {args.repeat}: the ferryman rows run that many times against the same"
        " baselines; the checks take the best ratio (all listed) and the worst disk",
        f"links scaled by {scale:.2f} for --size-mb {size_mib} (1.00 at 1024)",
        f"input: {media.path} (cached)",
    ]
    return result


def _row(
    args: argparse.Namespace,
    media: TripInput,
    tmp: Path,
    down: float,
    up: float,
    table: Table,
    result: Result,
) -> str | None:
    rates = (f"{down / MB:.1f}", f"{up / MB:.1f}")
    link = PacedServer(media.path, down)
    try:
        progress(f"trip: down {rates[0]} / up {rates[1]} MB/s: curl alone")
        started = time.perf_counter()
        subprocess.run(["curl", "-s", "-o", str(tmp / "got.zip"), link.url], check=True)
        down_s = time.perf_counter() - started
        (tmp / "got.zip").unlink()
        progress("trip: Uploader alone")
        up_s = asyncio.run(upload_alone(media.path, up))
        slower = max(down_s, up_s)
        for name, seconds in (
            ("download alone (curl)", down_s),
            ("upload alone (Uploader)", up_s),
            ("download + upload", down_s + up_s),
        ):
            cells = (fmt_ratio(seconds / slower), "-", "-", "-")
            table.add(*rates, name, f"{seconds:.1f}", *cells)
        args.downlink_pid = link.proc.pid
        lines = []
        for profile in PROFILES:
            if args.trip_profile not in ("both", profile):
                continue
            runs = []
            for n in range(args.repeat):
                progress(f"trip: ferryman, {profile} profile, run {n + 1}/{args.repeat}")
                data = tmp / f"data-{profile}"
                t = asyncio.run(trip(link.url, data, up, profile, args))
                shutil.rmtree(data, ignore_errors=True)
                runs.append(t)
                table.add(
                    *rates,
                    f"ferryman, {profile}" + (f" #{n + 1}" if args.repeat > 1 else ""),
                    f"{t.seconds:.1f}",
                    fmt_ratio(t.seconds / slower),
                    f"{t.peak_disk / MiB:.1f}",
                    f"{t.peak_rss / MiB:.0f} (+{(t.peak_rss - t.start_rss) / MiB:.0f})",
                    f"{t.transcode_s:.1f}",
                )
            which = "down" if down_s >= up_s else "up"
            result.checks += _checks(profile, which, runs, slower, media.entries)
            best = min(runs, key=lambda r: r.seconds - r.transcode_s)
            lines.append(
                f"timeline, {profile}, {which} slower (best run):"
                f" {summary(best.albums, best.marks, best.seconds)}"
            )
            lines += [f"  {line}" for line in details(best.albums)]
            worst = max(runs, key=lambda r: r.peak_disk)
            lines.append(f"disk, {profile}, {which} slower (worst run): {worst.disk_peak}")
        return "\n  ".join(lines)
    finally:
        link.close()


def _checks(profile: str, which: str, runs: list[Trip], slower: float, entries: int) -> list[Check]:
    """The best run's ratio (with the spread of all), the worst run's disk (RSS: in the table)."""
    ratios = sorted((r.seconds - r.transcode_s) / slower for r in runs)
    spread = f" (runs {', '.join(fmt_ratio(x) for x in ratios)})" if len(runs) > 1 else ""
    disk = max(runs, key=lambda r: r.peak_disk)
    return [
        Check(
            f"{profile}, {which} slower: (trip - transcode) / slower link, best",
            fmt_ratio(ratios[0]) + spread,
            f"≤ {TARGET:.2f}x",
            ratios[0] <= TARGET,
        ),
        Check(
            f"{profile}, {which} slower: peak extra disk, worst run",
            f"{disk.peak_disk / MiB:.1f} MiB",
            f"≤ 2 albums ({2 * disk.largest_album / MiB:.1f} MiB)",
            disk.peak_disk <= 2 * disk.largest_album,
        ),
        Check(
            f"{profile}, {which} slower: all delivered, job done",
            ", ".join(
                f"{r.delivered}/{entries} ({r.in_chat} in the chat), {r.state}" for r in runs
            ),
            f"{entries}, done",
            all(r.delivered == entries and r.state == "done" for r in runs),
        ),
    ]
