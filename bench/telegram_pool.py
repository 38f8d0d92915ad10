"""A pool of accounts against one account, each capped by the fake as Telegram caps them.

Telegram caps each account (users see 4-5 MB/s whatever their line): ``faketg.accounts``
gives every account of the fake its own cap (``CAP_MBIT``, 10 Mbit/s, a bot token's), on the
bench's link (50 ms one way, 100 Mbit/s per connection, 800 Mbit/s in all). One job of
400 photos and 8 videos (at scale 1) goes to a channel through the whole engine, once
with one account (the baseline, in the same run) and once with a pool of four (a user
and three bots, each logged in as ``ferryman telegram login --as NAME`` leaves it, all
admins of the channel). Every delivery is checked in the channel: each file once, in
the job's order. The engine runs in a process of its own (``bench._tg_cost_child``) and
the fake in the bench's, over loopback TCP, as the photos row runs (``bench.telegram``):
in one process, the fake's decrypting, parsing and checking were a third of the GIL's
time in the four accounts' run, which Telegram's servers do elsewhere
(``--tg-pool-in-process`` adds the rows run so, for comparison).

Run alone: ``python -m bench telegram-pool``; ``python -m bench telegram`` runs it too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telethon.tl import functions

from bench import telegram_costs
from bench._common import Check, Result, Table, fmt_bytes, fmt_ratio, fmt_seconds, progress, scratch
from bench.media import ffmpeg_exe, make_clip
from bench.telegram import engine_settings, log_in, make_photos
from faketg import FakeTelegram, LinkModel
from faketg.accounts import cap_mbit
from faketg.client import FakeDialer
from faketg.remote import serve
from faketg.state import Account, Channel
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.store import Store
from ferryman.telegram.account import Account as Flags
from ferryman.telegram.account import remember
from ferryman.telegram.accounts import session_of, with_session

LATENCY_MS, CONN_MBIT, LINK_MBIT = 50.0, 100.0, 800.0
# Per account: what a bot token is held to (~10 Mbit/s, MLTB#1887); a user sees 4-5 MB/s.
# The pool pulls the 8-video album (14 MB, 11 s through one account) as soon as it is
# sealed, beside the photos; the job's albums are still sent one after the other in
# order (a round trip of 100 ms and its records each), which the end of the run waits for.
CAP_MBIT = 10.0
ACCOUNTS = 4
PHOTOS, VIDEOS = 400, 8
TARGET = 3.6  # four accounts / one, at least
CLIP_SECONDS = 4.0


@dataclass
class Run:
    seconds: float  # from the add until the engine is idle
    problems: list[str] = field(default_factory=list)
    albums_by: dict[str, int] = field(default_factory=dict)
    span: float = 0.0  # the delivery: the fake's first part handled to its last album posted
    cpu: float = 0.0  # CPU seconds: the engine's process and the fake's (one process or two)
    fake_cpu: float | None = None  # the fake's share, when the engine had a process of its own
    busy: str = ""  # each account's parts (``Span.busy``)
    timeline: dict[str, Any] = field(default_factory=dict)  # ``Span.timeline``


@dataclass
class Span:
    """``after_handle``: when the fake handled the first part and the last send, and each
    account's parts (when, how many bytes): whether every account was kept busy."""

    first: float | None = None
    last: float | None = None
    parts: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    files: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    sends: list[tuple[str, float]] = field(default_factory=list)

    def hook(self, call: Any, request: Any, _result: object) -> None:
        now = time.perf_counter()
        if isinstance(request, PARTS):
            if self.first is None:
                self.first = now
            who = call.account.first_name if call.account is not None else "?"
            self.parts.setdefault(who, []).append((now, len(request.bytes)))
            self.files.setdefault((who, request.file_id), []).append(now)
        if isinstance(request, SENDS):
            self.last = now
            who = call.account.first_name if call.account is not None else "?"
            self.sends.append((who, now))

    def timeline(self) -> dict[str, Any]:
        """Seconds from the first part: each account's files (first and last part) and
        its sends, for reading where an account stood idle (``--json``)."""
        t0 = self.first or 0.0
        files: dict[str, list[tuple[float, float]]] = {}
        for (who, _), times in sorted(self.files.items(), key=lambda kv: kv[1][0]):
            files.setdefault(who, []).append((round(times[0] - t0, 2), round(times[-1] - t0, 2)))
        sends = [(who, round(at - t0, 2)) for who, at in self.sends]
        return {"files": files, "sends": sends}

    def seconds(self) -> float:
        return 0.0 if self.first is None or self.last is None else self.last - self.first

    def busy(self) -> str:
        """Each account's parts: from the delivery's start, its first and last part's
        seconds, its Mbit/s between them, and its share of the delivery's seconds in which
        it took parts at 80 % of its cap or more (a second at a time)."""
        if self.first is None:
            return "no parts"
        out = []
        span = max(1, int(self.seconds()) + 1)
        for who, got in sorted(self.parts.items()):
            start, end = got[0][0] - self.first, got[-1][0] - self.first
            sent = sum(n for _, n in got)
            rate = sent * 8 / 1e6 / (end - start) if end > start else 0.0
            second: dict[int, int] = {}
            for at, n in got:
                second[int(at - self.first)] = second.get(int(at - self.first), 0) + n
            full = sum(1 for n in second.values() if n * 8 / 1e6 >= 0.8 * CAP_MBIT)
            out.append(
                f"{who} {start:.1f}-{end:.1f} s, {sent / 1e6:.1f} MB at {rate:.1f} Mbit/s,"
                f" at >= 80 % of its cap {full} s of {span}"
            )
        return "; ".join(out)


PARTS = (functions.upload.SaveFilePartRequest, functions.upload.SaveBigFilePartRequest)
SENDS = (functions.messages.SendMultiMediaRequest, functions.messages.SendMediaRequest)


def world(accounts: int) -> tuple[FakeTelegram, list[Account], Channel]:
    """The fake with ``accounts`` accounts (a user, then bots), each capped, all admins."""
    server = FakeTelegram(link=LinkModel.mbit(LATENCY_MS, CONN_MBIT, LINK_MBIT))
    server.keep_part_bytes = False
    members = [server.add_user("Bench", username="bench", phone="+15550100")]
    members += [
        server.add_user(f"Bot{i}", username=f"bench{i}_bot", bot=True) for i in range(1, accounts)
    ]
    for account in members:
        cap_mbit(server, account, CAP_MBIT)
        server.box("user", account.id).pts = 1000  # as in bench.telegram.world
    channel = server.add_channel("Pool", username="benchpool", admins=members)
    return server, members, channel


def make_videos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct MP4 clips (H.264 + AAC, faststart: sent as they are)."""
    extra = [
        *("-force_key_frames", f"expr:gte(t,n_forced*{CLIP_SECONDS})"),
        *("-f", "segment", "-segment_time", str(CLIP_SECONDS), "-reset_timestamps", "1"),
        *("-segment_format", "mp4", "-segment_format_options", "movflags=+faststart"),
    ]
    pattern = folder / "zz_clip%02d.mp4"  # after the photos in the job's order
    make_clip(ffmpeg_exe(), pattern, count * CLIP_SECONDS, size="960x540", extra=extra)
    return sorted(folder.glob("zz_clip*.mp4"))[:count]


async def engine_run(
    src: Path, data: Path, accounts: int, expected: list[str], limit: float, *, apart: bool = True
) -> Run:
    """One run of the job through ``accounts`` accounts; ``apart``: the engine in a process
    of its own (``bench._tg_cost_child``) and the fake in this one, over loopback TCP, as
    Telegram's servers are elsewhere (the photos row's way: ``bench.telegram``); else both
    in this process, as the row ran until 2026-11-29."""
    server, members, channel = world(accounts)
    settings = (
        telegram_costs.child_settings(data) if apart else engine_settings(data, documents=False)
    )
    await log_in(settings, server, members[0])
    for i, account in enumerate(members[1:], 1):
        name = f"bot{i}"
        await log_in(with_session(settings, name), server, account)
        remember(session_of(settings, name), Flags(premium=False, bot=True))
    span = Span()
    server.after_handle.append(span.hook)
    problems: list[str] = []
    if apart:
        remote = await serve(server)
        try:
            cpu = time.process_time()
            child = await telegram_costs.child(
                "engine", data, remote.port, str(src), peer="@benchpool"
            )
            fake_cpu = time.process_time() - cpu
        finally:
            await remote.close()
        if child.code != 0 or child.timed is None:
            problems.append(f"{accounts} accounts (own process): exit {child.code}: {child.log}")
        seconds = child.timed or float("nan")
        store = await Store.open(settings.database)
        try:
            (done,) = await store.list_jobs()  # the one job the child added
        finally:
            await store.close()
        run = Run(seconds, problems, span=span.seconds(), cpu=(child.cpu or 0.0) + fake_cpu)
        run.fake_cpu = fake_cpu
    else:
        store = await Store.open(settings.database)
        try:
            started, cpu = time.perf_counter(), time.process_time()
            job = await intake.add_source(store, src, dest="telegram:@benchpool")
            engine = Engine(store, settings, dialer=FakeDialer(server))
            await asyncio.wait_for(engine.run(until_idle=True), limit)
            seconds = time.perf_counter() - started
            done = await store.get_job(job.id)
        finally:
            await store.close()
        run = Run(seconds, problems, span=span.seconds(), cpu=time.process_time() - cpu)
    run.busy = span.busy()
    run.timeline = span.timeline()
    if done.state is not JobState.DONE:
        run.problems.append(f"{accounts} accounts: job {done.state.value}")
    chat = [m for m in server.chat(channel) if m.media is not None]
    names = [m.media.file.name for m in chat if m.media is not None]
    if names != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(names, expected, strict=False)) if a != b), None
        )
        where = (
            "" if at is None else f" (first out of place at {at}: {names[at]}, not {expected[at]})"
        )
        run.problems.append(
            f"{accounts} accounts: {len(names)} files in the channel, expected {len(expected)}"
            f" once each in the job's order{where}"
        )
    by_id = {a.id: a.first_name for a in members}
    for album in server.albums(channel):
        who = by_id.get(album[0].from_id, "?")
        run.albums_by[who] = run.albums_by.get(who, 0) + 1
    return run


def section(result: Result, root: Path, args: argparse.Namespace) -> None:
    scale = float(getattr(args, "scale", 1.0))
    photos, videos = max(10, round(PHOTOS * scale)), max(1, round(VIDEOS * scale))
    progress(f"telegram pool: making {photos} photos and {videos} videos")
    folder = root / "pool-in"
    made = make_photos(folder, photos)
    clips = make_videos(folder, videos)
    for extra in sorted(folder.glob("zz_clip*.mp4"))[videos:]:
        extra.unlink()
    size = sum(p.stat().st_size for p in [*made, *clips])
    expected = sorted(p.name for p in [*made, *clips])
    in_process = bool(getattr(args, "tg_pool_in_process", False))
    runs: dict[tuple[int, bool], Run] = {}
    for apart in (True, False) if in_process else (True,):
        for accounts in (1, ACCOUNTS):
            where = "the engine in its own process" if apart else "engine and fake in one process"
            progress(
                f"telegram pool: {accounts} account(s), capped at {CAP_MBIT:g} Mbit/s each, {where}"
            )
            data = root / f"pool-data-{accounts}-{int(apart)}"
            runs[accounts, apart] = asyncio.run(
                engine_run(folder, data, accounts, expected, args.timeout, apart=apart)
            )
            shutil.rmtree(data, ignore_errors=True)
    one, pool = runs[1, True], runs[ACCOUNTS, True]
    ratio = one.span / pool.span if pool.span > 0 else 0.0
    whole = one.seconds / pool.seconds
    caption = (
        f"{photos} photos and {videos} videos ({fmt_bytes(size)}) to a channel, each account"
        f" capped at {CAP_MBIT:g} Mbit/s by the fake; link {LATENCY_MS:g} ms one way,"
        f" {CONN_MBIT:g} Mbit/s per connection, {LINK_MBIT:g} Mbit/s in all"
    )
    table = Table(
        [
            "accounts",
            "delivery s",
            "MB/s",
            "vs one",
            "whole run s",
            "vs one",
            "CPU s (fake's)",
            "albums by account",
        ]
    )
    for (accounts, apart), run_ in sorted(runs.items(), key=lambda kv: (not kv[0][1], -kv[0][0])):
        base = runs[1, apart]
        label = f"{accounts} (a user + {accounts - 1} bots)" if accounts > 1 else "1 (baseline)"
        table.add(
            label + ("" if apart else ", fake in the engine's process"),
            fmt_seconds(run_.span),
            f"{size / 1e6 / run_.span:.1f}" if run_.span > 0 else "?",
            fmt_ratio(base.span / run_.span) if run_.span > 0 else "?",
            fmt_seconds(run_.seconds),
            fmt_ratio(base.seconds / run_.seconds),
            f"{run_.cpu:.1f}" + (f" ({run_.fake_cpu:.1f})" if run_.fake_cpu is not None else ""),
            ", ".join(f"{k} {v}" for k, v in sorted(run_.albums_by.items())),
        )
    result.tables.append((caption, table))
    for (accounts, apart), run_ in sorted(runs.items(), key=lambda kv: (not kv[0][1], -kv[0][0])):
        where = "" if apart else ", fake in the engine's process"
        result.notes.append(f"pool: {accounts} account(s){where}: {run_.busy}")
    result.notes.append(f"pool: load average at the end {os.getloadavg()[0]:.1f}")
    problems = [p for run_ in runs.values() for p in run_.problems]
    result.checks += [
        Check(
            f"pool: {ACCOUNTS} accounts / one, each capped (delivery speed)",
            fmt_ratio(ratio),
            f">= {TARGET:g}x",
            ratio >= TARGET,
        ),
        Check("pool: every file once, in order", "; ".join(problems) or "all", "all", not problems),
    ]
    result.notes += [
        "pool: vs one = one account's seconds / these seconds, both measured in this run",
        "pool: delivery = from the fake's first file part handled to its last album posted"
        " (the speed the accounts deliver at); whole run = from the add until the engine is"
        " idle (engine start, the first album's read and the logins included); CPU s = the"
        " engine's process's CPU time and the fake's (in brackets: the fake's alone): when"
        " it nears the run's seconds, the machine, not the accounts' caps, is the limit",
        "pool: the engine runs in a process of its own and the fake in the bench's, over"
        " loopback TCP, as Telegram's servers are elsewhere (until 2026-11-29 both in one:"
        " the fake's decrypting, parsing and photo checks were a third of that process's"
        " GIL time in the 4-account run; --tg-pool-in-process adds those rows)",
    ]
    result.data["pool"] = {
        "photos": photos,
        "videos": videos,
        "bytes": size,
        "one_seconds": one.seconds,
        "pool_seconds": pool.seconds,
        "one_delivery_seconds": one.span,
        "pool_delivery_seconds": pool.span,
        "whole_run_ratio": whole,
        "accounts": ACCOUNTS,
        "cap_mbit": CAP_MBIT,
        "cpu": {f"{a}-{'apart' if ap else 'one-process'}": r.cpu for (a, ap), r in runs.items()},
        "fake_cpu": {a: r.fake_cpu for (a, ap), r in runs.items() if ap},
        "in_process_delivery_seconds": {a: r.span for (a, ap), r in runs.items() if not ap},
        "timeline": {a: r.timeline for (a, ap), r in runs.items() if ap},
    }


def run(args: argparse.Namespace) -> Result:
    result = Result(
        "telegram-pool",
        f"{ACCOUNTS} accounts vs one, each capped at {CAP_MBIT:g} Mbit/s by the fake Telegram",
    )
    with scratch("telegram-pool", args.tmp_dir, args.keep) as root:
        section(result, root, args)
    return result
