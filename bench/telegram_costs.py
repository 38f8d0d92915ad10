"""Telegram's costs, encryption included: a resumed upload, and the CPU a GiB takes.

The fake here listens on TCP (``faketg.remote``) and every client runs in a process of
its own (``bench._tg_cost_child``), speaking MTProto 2.0's encryption with the fake as
it would with Telegram (Telethon's own ``MTProtoState``; the fake decrypts every part).

* resume: a big file (1.5 GiB) sent as a document by the whole engine (``ferryman run``)
  over the bench's link; the child is SIGKILLed once the fake has handled 80 % of the
  parts and one more, and a second run finishes the job. Measured: the bytes the second
  run sent again that the fake already had (``parts.repeats``), against the file; the
  chat must hold the file once, whole.
* CPU: the same big file through the whole engine, against Telethon's own
  ``send_file(force_document=True)`` of it, each in its own process (the fake's work
  is not theirs), on an unlimited link (CPU does not depend on the wait for answers):
  CPU seconds (user + system) per GiB.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telethon.tl import functions

from bench._common import Check, MiB, Table, fmt_bytes, fmt_ratio, progress
from faketg import FakeTelegram, LinkModel
from faketg.remote import serve
from faketg.server import Call
from faketg.state import Account

REPO = Path(__file__).resolve().parents[1]
RESENT_TARGET = 0.15  # of the file, at most, sent again by the run after the kill
CPU_TARGET = 1.2  # the engine's CPU a GiB / Telethon's, at most
PHOTOS_TARGET = 20.0  # the engine's photos / Telethon's send_file, at least
KILL_SHARE = 0.8
GiB = 1024 * MiB
_PARTS = (functions.upload.SaveBigFilePartRequest, functions.upload.SaveFilePartRequest)


@dataclass
class Child:
    code: int
    cpu: float | None
    wall: float | None
    log: str
    timed: float | None = None  # what the photos row counts (``bench._tg_cost_child``)


async def child(
    mode: str, data_dir: Path, port: int, src: str, on: Any = None, peer: str = "me"
) -> Child:
    """One client process to its end, delivering to ``peer``; ``on(proc)`` is told the
    process as it starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRYMAN_")}
    errors = data_dir.parent / f"{data_dir.name}-{mode}.log"
    with errors.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench._tg_cost_child", mode, str(data_dir), str(port), src,
            peer, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    if on is not None:
        on(proc)
    out, _ = await proc.communicate()
    lines = out.decode().strip().splitlines()
    got = json.loads(lines[-1]) if proc.returncode == 0 and lines else {}
    text = errors.read_text(errors="replace")[-2000:]
    return Child(proc.returncode or 0, got.get("cpu"), got.get("wall"), text, got.get("timed"))


def _world(link: LinkModel) -> tuple[FakeTelegram, Account]:
    server = FakeTelegram(link=link)
    server.keep_part_bytes = False
    me = server.add_user("Bench", username="bench", phone="+15550100")
    server.box("user", me.id).pts = 1000
    return server, me


def child_settings(data_dir: Path) -> Any:
    """The settings a child process runs with (``bench._tg_cost_child.settings_for``)."""
    from bench._tg_cost_child import settings_for

    return settings_for(data_dir)


async def _logged_in(data_dir: Path, server: FakeTelegram, me: Account) -> None:
    from bench.telegram import log_in

    await log_in(child_settings(data_dir), server, me)


def _doc_problems(server: FakeTelegram, me: Account, size: int, sha256: str, who: str) -> list[str]:
    docs = [m for m in server.chat(me) if m.media is not None]
    if len(docs) != 1:
        return [f"{who}: {len(docs)} media in the chat, expected the file once"]
    file = docs[0].media.file if docs[0].media is not None else None
    if file is None or file.size != size or file.sha256 != sha256:
        return [f"{who}: the document in the chat differs from the file sent"]
    return []


# --------------------------------------------------------------------------- resume


async def _resume(root: Path, big: Any, link: LinkModel) -> dict[str, Any]:
    server, me = _world(link)
    data = root / "data-resume"
    await _logged_in(data, server, me)
    folder = root / "resume-in"
    folder.mkdir()
    os.link(big.path, folder / big.path.name)
    parts = -(-big.size // (512 * 1024))
    kill_at = int(parts * KILL_SHARE) + 1
    remote = await serve(server)
    seen = [0]
    proc: list[Any] = []

    def hook(_call: Call, request: Any, _result: Any) -> None:
        if isinstance(request, _PARTS) and proc:
            seen[0] += 1
            if seen[0] == kill_at:
                os.kill(proc[0].pid, signal.SIGKILL)
                server.drop_all()

    server.after_handle.append(hook)
    try:
        started = time.perf_counter()
        first = await child("engine", data, remote.port, str(folder), proc.append)
        first_s = time.perf_counter() - started
        server.after_handle.remove(hook)
        sent_first = server.parts.received_bytes
        server.parts.reset_counts()
        started = time.perf_counter()
        second = await child("engine", data, remote.port, "-")
        second_s = time.perf_counter() - started
    finally:
        await remote.close()
    problems = []
    if first.code != -signal.SIGKILL:
        problems.append(f"resume: the first run was not killed (exit {first.code}): {first.log}")
    if second.code != 0:
        problems.append(f"resume: the second run failed (exit {second.code}): {second.log}")
    problems += _doc_problems(server, me, big.size, big.sha256, "resume")
    return {
        "parts": parts,
        "killed_after": kill_at,
        "first_bytes": sent_first,
        "first_seconds": first_s,
        "second_bytes": server.parts.received_bytes,
        "second_seconds": second_s,
        "repeated_bytes": server.parts.repeated_bytes,
        "problems": problems,
    }


def resume_section(b: Any, big: Any) -> None:
    from bench.telegram import CONN_MBIT, LATENCY_MS, LINK_MBIT

    progress(f"telegram: {fmt_bytes(big.size)} upload, SIGKILLed past 80 %, then resumed")
    link = LinkModel.mbit(LATENCY_MS, CONN_MBIT, LINK_MBIT)
    got = asyncio.run(_resume(b.root, big, link))
    b.problems += got["problems"]
    again = got["repeated_bytes"] / big.size
    table = Table(["run", "seconds", "part bytes sent", "of the file", "sent again"])
    table.add(
        f"1: ferryman run, SIGKILLed after part {got['killed_after']} of {got['parts']}",
        f"{got['first_seconds']:.1f}",
        fmt_bytes(got["first_bytes"]),
        f"{got['first_bytes'] / big.size:.0%}",
        "",
    )
    table.add(
        "2: ferryman run again, to the end (resumed)",
        f"{got['second_seconds']:.1f}",
        fmt_bytes(got["second_bytes"]),
        f"{got['second_bytes'] / big.size:.0%}",
        f"{fmt_bytes(got['repeated_bytes'])} ({again:.1%})",
    )
    table.add(
        "without a resume (baseline): run 2 sends the whole file again",
        "",
        fmt_bytes(big.size),
        "100%",
        f"{fmt_bytes(got['first_bytes'])} ({got['first_bytes'] / big.size:.0%})",
    )
    b.result.tables.append(
        (
            f"a {fmt_bytes(big.size)} document to Saved Messages, the engine SIGKILLed past"
            " 80 % (encrypted, over the bench's link); sent again = part bytes the fake had"
            " already received",
            table,
        )
    )
    b.result.checks.append(
        Check(
            "resume: bytes sent again after a SIGKILL past 80 %, of the file",
            f"{again:.1%}",
            f"<= {RESENT_TARGET:.0%}",
            again <= RESENT_TARGET and not got["problems"],
        )
    )
    b.result.data["resume"] = {k: v for k, v in got.items() if k != "problems"}


# --------------------------------------------------------------------------- CPU


async def _cpu(root: Path, big: Any, mode: str) -> tuple[Child, list[str]]:
    server, me = _world(LinkModel())
    data = root / f"data-cpu-{mode}"
    await _logged_in(data, server, me)
    src = big.path
    if mode == "engine":
        folder = root / "cpu-in"
        folder.mkdir(exist_ok=True)
        if not (folder / big.path.name).exists():
            os.link(big.path, folder / big.path.name)
        src = folder
    remote = await serve(server)
    try:
        ran = await child(mode, data, remote.port, str(src))
    finally:
        await remote.close()
    problems = [] if ran.code == 0 else [f"cpu {mode}: exit {ran.code}: {ran.log}"]
    return ran, problems + _doc_problems(server, me, big.size, big.sha256, f"cpu {mode}")


def cpu_section(b: Any, big: Any) -> None:
    from ferryman.telegram.aes import aes_in_use

    rows = {}
    for mode in ("engine", "telethon"):
        progress(f"telegram: CPU of a {fmt_bytes(big.size)} upload, {mode}, own process")
        ran, problems = asyncio.run(_cpu(b.root, big, mode))
        b.problems += problems
        rows[mode] = ran
    gib = big.size / GiB
    per = {m: (c.cpu / gib if c.cpu is not None else None) for m, c in rows.items()}
    table = Table(["client (own process)", "CPU s", "CPU s per GiB", "wall s", "vs baseline"])
    base = per["telethon"]
    for mode, label in (
        ("engine", "ferryman run -> telegram:me (stage, hash, upload, send)"),
        ("telethon", "Telethon send_file(force_document=True) (baseline)"),
    ):
        c, p = rows[mode], per[mode]
        ratio = fmt_ratio(p / base) if p is not None and base else ""
        table.add(
            label,
            f"{c.cpu:.1f}" if c.cpu is not None else "failed",
            f"{p:.2f}" if p is not None else "",
            f"{c.wall:.1f}" if c.wall is not None else "",
            ratio if mode == "engine" else "1.00x",
        )
    b.result.tables.append(
        (
            f"CPU of one {fmt_bytes(big.size)} upload (MTProto encrypted; AES-IGE:"
            f" {aes_in_use().name}), each client in its own process, unlimited link",
            table,
        )
    )
    ok = per["engine"] is not None and base is not None and per["engine"] <= CPU_TARGET * base
    b.result.checks.append(
        Check(
            "CPU per GiB: engine / Telethon's own upload",
            fmt_ratio(per["engine"] / base) if per["engine"] is not None and base else "failed",
            f"<= {CPU_TARGET:g}x",
            ok,
        )
    )
    b.result.notes.append(
        "CPU: Telethon tries gzip (level 9) on every request over 512 bytes, file parts"
        " included, and throws it away when it does not shrink (media never does); the"
        " engine's upload connections send parts as they are (telegram/plain_parts.py)"
    )
    b.result.data["cpu"] = {m: {"cpu": c.cpu, "wall": c.wall} for m, c in rows.items()}


def photos_check(b: Any) -> None:
    """The photos row against issue 59's target (the row itself: ``telegram.photos_section``)."""
    photos = b.result.data.get("photos")
    if not photos:
        return
    ratio = photos["baseline_seconds"] / photos["ferryman_seconds"]
    b.result.checks.append(
        Check(
            "photos in albums, encrypted: ferryman engine / Telethon send_file",
            fmt_ratio(ratio),
            f">= {PHOTOS_TARGET:g}x",
            ratio >= PHOTOS_TARGET,
        )
    )
