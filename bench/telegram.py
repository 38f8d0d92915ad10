"""Telegram uploads against the fake Telegram: ferryman against Telethon's plain ``send_file``.

The network is ``faketg``'s model of a good home link to a Telegram DC: 50 ms one way,
100 Mbit/s per connection, 800 Mbit/s for the whole link. The real Telethon client talks
to the fake in this process, so both sides pay the same request handling and MTProto's
encryption (the client's with Telethon's own code). Each case has its baseline in the
same run:

* one big file (1 GiB at scale 1, random bytes behind a PDF header): ferryman's
  ``Uploader`` (defaults: 8 connections, adaptive window) plus one ``sendMedia``, against
  ``client.send_file("me", path, force_document=True)``; and the whole engine delivering
  the file to ``telegram:me`` as a document (staging, upload, send), for information;
* 200 photos (JPEGs of 150-300 KiB, varied sizes): the whole engine delivering the folder
  to ``telegram:me`` in albums of 10, against ``send_file("me", ten paths)`` per album;
  each client in a process of its own (``bench._tg_cost_child``) and the fake in this
  one, over loopback TCP, as Telegram's servers are elsewhere: in one process the fake's
  work (decrypting, parsing, checking and decoding every photo: 1.1-1.7 s of CPU a run)
  shared the client's GIL and core (``--tg-photos-in-process`` runs it that way too).

Every delivery is checked in the fake's chats: the big file's SHA-256, every photo once.
``telegram_costs`` adds a resumed upload after a SIGKILL and the CPU a GiB costs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import os
import secrets
import shutil
import stat
import threading
import time
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from telethon import utils as telethon_utils
from telethon.crypto import AuthKey
from telethon.tl import functions, types

from bench import telegram_costs
from bench._common import (
    Check,
    MiB,
    Result,
    Table,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    progress,
    scratch,
)
from bench.media import noisy_rgb
from faketg import FakeTelegram, LinkModel
from faketg.client import FakeDialer, logged_in_client, save_login
from faketg.remote import serve
from faketg.state import Account, StoredMessage
from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.fsutil import sha256_file
from ferryman.model import JobState
from ferryman.store import Store
from ferryman.telegram.client import make_client
from ferryman.telegram.upload import Uploader, UploadStats

LATENCY_MS, CONN_MBIT, LINK_MBIT = 50.0, 100.0, 800.0
RATIO_TARGET = 6.0  # ferryman / Telethon's send_file, at least
LINK_TARGET = 0.80  # share of the link cap for the big file, at least
ALBUM = 10
# (width, height), JPEG quality: 150-300 KiB with the noise below, portrait and landscape.
PHOTO_SHAPES = (
    ((1024, 768), 84),
    ((1280, 960), 87),
    ((960, 1280), 80),
    ((1200, 900), 88),
    ((1152, 864), 82),
    ((864, 1152), 86),
)
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"  # classified as a document, sent as a file

_T = TypeVar("_T")


@dataclass
class Big:
    path: Path
    size: int
    sha256: str


@dataclass
class Run:
    """One measured delivery: wall seconds, and what could be wrong with it."""

    seconds: float
    problems: list[str] = field(default_factory=list)
    stats: UploadStats | None = None
    window: int | None = None
    peak_disk: int | None = None  # extra bytes on disk at most (the engine rows)
    phases: Phases | None = None


@dataclass
class Phases:
    """When the fake handled a big file's first and last part, from the row's start
    (``after_handle``, on the loop): head = start to the first part, span = first to
    last, tail = last part to the row's end (its last answer, the send, the records,
    the stop). The link idles in the span for span - the parts' bytes / the link's rate."""

    started: float = 0.0
    first: float | None = None
    last: float | None = None
    part_bytes: int = 0

    def hook(self, _call: object, request: object, _result: object) -> None:
        if isinstance(
            request, functions.upload.SaveBigFilePartRequest | functions.upload.SaveFilePartRequest
        ):
            now = time.perf_counter()
            self.first = now if self.first is None else self.first
            self.last = now
            self.part_bytes += len(request.bytes)

    def split(self, seconds: float) -> tuple[float, float, float, float] | None:
        """(head, span, tail, the link's idle seconds within the span)."""
        if self.first is None or self.last is None:
            return None
        span = self.last - self.first
        idle = span - self.part_bytes * 8 / (LINK_MBIT * 1e6)
        return self.first - self.started, span, self.started + seconds - self.last, idle


class DiskPeak:
    """Samples, every 50 ms on a thread, the bytes under ``root`` in files that are not
    the input's own inodes (a hard link to the input costs nothing): the peak extra disk."""

    def __init__(self, root: Path, inputs: Path) -> None:
        self.root = root
        self.skip = {(st.st_dev, st.st_ino) for st in _file_stats(inputs)}
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DiskPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            used = sum(
                st.st_blocks * 512
                for st in _file_stats(self.root)
                if (st.st_dev, st.st_ino) not in self.skip
            )
            self.peak = max(self.peak, used)
            if self._stop.wait(0.05):
                return


def _file_stats(root: Path) -> list[os.stat_result]:
    if root.is_file():
        return [root.stat()]
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_size >= MiB:  # the store's files aside
                found.append(st)
    return found


# --------------------------------------------------------------------------- inputs


def make_big_file(path: Path, size: int) -> Big:
    """``size`` bytes: a PDF header, then random bytes (nothing for anyone to squeeze)."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        head = PDF_HEAD[:size]
        out.write(head)
        digest.update(head)
        written = len(head)
        while written < size:
            chunk = os.urandom(min(MiB, size - written))
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    return Big(path, size, digest.hexdigest())


def copy_prefix(src: Path, dst: Path, size: int) -> Big:
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dst, "wb") as out:
        left = size
        while left:
            chunk = fin.read(min(MiB, left))
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return Big(dst, size, digest.hexdigest())


def make_photos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct JPEGs: windows of one noisy image, in several shapes and qualities."""
    folder.mkdir()
    side = max(max(w, h) for (w, h), _ in PHOTO_SHAPES)
    base = noisy_rgb((side + 256, side + 192))
    paths = []
    for i in range(count):
        (width, height), quality = PHOTO_SHAPES[i % len(PHOTO_SHAPES)]
        x, y = (i * 37) % 256, (i * 53) % 192
        path = folder / f"IMG_{i:04d}.jpg"
        with base.crop((x, y, x + width, y + height)) as crop:
            crop.save(path, quality=quality)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- the fake


def world() -> tuple[FakeTelegram, Account]:
    """A fresh fake behind the benchmark's link; big uploads keep hashes, not bytes."""
    server = FakeTelegram(link=LinkModel.mbit(LATENCY_MS, CONN_MBIT, LINK_MBIT))
    server.keep_part_bytes = False
    me = server.add_user("Bench", username="bench", phone="+15550100")
    # An account that has had messages: a fresh fake box is at pts 0, which Telethon
    # takes for no update state at all, so every connection asked for it again.
    server.box("user", me.id).pts = 1000
    return server, me


def engine_settings(data_dir: Path, *, documents: bool) -> Settings:
    """Defaults (and any FERRYMAN_*: poll_seconds 0.5, as users run it; wake-ups move the
    work and end the run), a fresh data dir, the fake's api_id; ``documents``
    lets a file that is not media (the big PDF) go as a document instead of being skipped."""
    return load_settings(
        None,
        {
            "data_dir": data_dir,
            "space_floor": 0,
            "send_documents": documents,
            "telegram": {"api_id": 1, "api_hash": "fakehash"},
        },
    )


async def log_in(settings: Settings, server: FakeTelegram, account: Account) -> None:
    """A session file in the data dir that the fake knows as ``account``'s (untimed), as
    ``ferryman telegram login`` leaves it: with the account's update state, which the
    login's own connection fetched. Without it, every engine connection asked for it
    again (getMe, getState, getDifference: three round trips a real run does not pay)."""
    await save_login(server, make_client(settings, FakeDialer(server)), account)
    client = make_client(settings, FakeDialer(server))
    await client.connect()  # authorised now: fetches and keeps the update state
    await client.disconnect()


async def timed(work: Callable[[], Awaitable[_T]]) -> tuple[float, _T]:
    started = time.perf_counter()
    value = await work()
    return time.perf_counter() - started, value


def document_problems(server: FakeTelegram, me: Account, big: Big, who: str) -> list[str]:
    docs = [m for m in server.chat(me) if m.media is not None and m.media.kind == "document"]
    if len(docs) != 1:
        return [f"{who}: {len(docs)} documents in the chat, expected 1"]
    file = docs[0].media.file if docs[0].media is not None else None
    if file is None or file.size != big.size or file.sha256 != big.sha256:
        return [f"{who}: the document in the chat differs from the file sent"]
    return []


def photo_problems(
    server: FakeTelegram, me: Account, photos: list[Path], shas: dict[str, str], who: str
) -> list[str]:
    """Every photo once, as a photo, in albums of at most ten; bytes as sent."""
    albums = server.albums(me)
    messages: list[StoredMessage] = [m for a in albums for m in a]
    problems = []
    kinds = {m.media.kind for m in messages if m.media is not None}
    if len(messages) != len(photos) or kinds != {"photo"}:
        problems.append(f"{who}: {len(messages)} messages ({sorted(kinds)}), expected photos")
    expected = -(-len(photos) // ALBUM)
    if len(albums) != expected or any(len(a) > ALBUM for a in albums):
        problems.append(f"{who}: {len(albums)} albums, expected {expected} of at most {ALBUM}")
    got = sorted(m.media.file.sha256 for m in messages if m.media is not None)
    if got != sorted(shas.values()):
        problems.append(f"{who}: the photos in the chat are not the photos sent")
    return problems


# --------------------------------------------------------------------------- the big file


async def big_ferryman(big: Big) -> Run:
    """``Uploader`` with its defaults, then one ``sendMedia`` naming the upload."""
    server, me = world()
    client = await logged_in_client(server, me, flood_sleep_threshold=0)  # as make_client
    uploader = Uploader(client, FakeDialer(server))
    window = uploader.window
    phases = Phases()
    server.after_handle.append(phases.hook)

    async def send() -> None:
        handle = await uploader.upload(big.path)
        media = types.InputMediaUploadedDocument(
            file=handle,
            mime_type="application/pdf",
            attributes=[types.DocumentAttributeFilename(big.path.name)],
            force_file=True,
        )
        await client(
            functions.messages.SendMediaRequest(
                peer=types.InputPeerSelf(), media=media, message="", random_id=secrets.randbits(63)
            )
        )

    try:
        phases.started = time.perf_counter()
        seconds, _ = await timed(send)
    finally:
        await uploader.close()
        await client.disconnect()
    run = Run(seconds, document_problems(server, me, big, "ferryman Uploader"))
    run.stats, run.window, run.phases = uploader.last_stats, window, phases
    return run


async def big_baseline(big: Big) -> Run:
    server, me = world()
    client = await logged_in_client(server, me)
    try:
        seconds, _ = await timed(lambda: client.send_file("me", big.path, force_document=True))
    finally:
        await client.disconnect()
    return Run(seconds, document_problems(server, me, big, "Telethon send_file"))


async def engine_run(
    src: Path,
    data_dir: Path,
    limit: float,
    check: Callable[[FakeTelegram, Account], list[str]],
    *,
    documents: bool = False,
) -> Run:
    """The whole engine, in-process, from ``add_source`` until idle, to ``telegram:me``."""
    server, me = world()
    settings = engine_settings(data_dir, documents=documents)
    await log_in(settings, server, me)
    store = await Store.open(settings.database)  # schema set-up is not counted
    phases = Phases()
    server.after_handle.append(phases.hook)
    try:
        with DiskPeak(data_dir, src) as disk:
            started = phases.started = time.perf_counter()
            job = await intake.add_source(store, src, dest="telegram:me")
            engine = Engine(store, settings, dialer=FakeDialer(server))
            await asyncio.wait_for(engine.run(until_idle=True), limit)
            seconds = time.perf_counter() - started
        done = await store.get_job(job.id)
    finally:
        await store.close()
    problems = check(server, me)
    if done.state is not JobState.DONE:
        problems.append(f"engine: job {done.state.value}")
    run = Run(seconds, problems)
    run.window = settings.telegram.parts_in_flight
    run.peak_disk = disk.peak
    run.phases = phases
    return run


# --------------------------------------------------------------------------- the run


def mib_s(size: int, seconds: float) -> float:
    return size / MiB / seconds


def link_share(size: int, seconds: float) -> float:
    return size * 8 / seconds / (LINK_MBIT * 1e6)


def telethon_part_kib(size: int) -> int:
    return int(telethon_utils.get_appropriated_part_size(size))


def one_at_a_time_seconds(size: int) -> float:
    """What Telethon's upload takes on the model: per part, its time on the wire plus a
    round trip."""
    part = telethon_part_kib(size) * 1024
    parts = -(-size // part)
    return parts * (2 * LATENCY_MS / 1000 + part * 8 / (CONN_MBIT * 1e6))


def baseline_bytes(size: int, asked_mb: int | None) -> int:
    """How much of the big file the baseline sends: ``asked_mb``, else the shortest prefix
    on which Telethon picks the same part size as for the whole file (when that saves at
    least a fifth). Telethon sends one part per round trip, so its rate is the same."""
    if asked_mb is not None:
        return min(size, asked_mb * MiB)
    part = telethon_part_kib(size)
    prefix = size
    while prefix > MiB and telethon_part_kib(prefix - MiB) == part:
        prefix -= MiB
    return prefix if prefix <= 0.8 * size else size


def phase_table(ours: Run, engines: list[tuple[str, Run]]) -> tuple[str, Table]:
    """Where the engine rows' time goes, against the Uploader's own (same run)."""
    table = Table(["row", "head", "span", "tail", "link idle in span", "over the Uploader"])
    base = ours.phases.split(ours.seconds) if ours.phases else None
    for label, run_ in (("Uploader alone", ours), *engines):
        got = run_.phases.split(run_.seconds) if run_.phases else None
        if got is None:
            continue
        over = ""
        if base is not None and run_ is not ours:
            over = " / ".join(f"{g - b_:+.2f}" for g, b_ in zip(got[:3], base[:3], strict=True))
        table.add(label, *(f"{x:.2f} s" for x in got), over)
    caption = (
        "the big file's time by phase: head = the start to the first part handled by the"
        " fake, span = first to last part, tail = the last part to the end; over the"
        " Uploader = head / span / tail minus the Uploader's"
    )
    return caption, table


def big_section(b: Bench) -> None:
    args = b.args
    size = args.tg_file_mb * MiB
    progress(f"telegram: writing a {fmt_bytes(size)} file of random bytes")
    t0 = time.perf_counter()
    big = make_big_file(b.root / "big.pdf", size)
    b.generated.append(f"{fmt_bytes(size)} file {time.perf_counter() - t0:.1f} s")

    progress("telegram: big file, ferryman Uploader")
    ours = asyncio.run(big_ferryman(big))
    b.problems += ours.problems

    engines: list[tuple[str, Run]] = []
    if not args.tg_skip_engine:
        progress("telegram: big file, ferryman engine to telegram:me (stage, upload, send)")
        folder = b.root / "big-in"
        folder.mkdir()
        os.link(big.path, folder / big.path.name)
        zipped = b.root / "big-zip"
        zipped.mkdir()
        with zipfile.ZipFile(zipped / "big.zip", "w", zipfile.ZIP_STORED) as zf:
            zf.write(big.path, big.path.name)
        for label, src in (("a local folder", folder), ("a zip (stored)", zipped / "big.zip")):
            run_ = asyncio.run(
                engine_run(
                    src,
                    b.root / "data-big",
                    args.timeout,
                    lambda s, me: document_problems(s, me, big, "ferryman engine"),
                    documents=True,
                )
            )
            b.problems += run_.problems
            engines.append((label, run_))
            shutil.rmtree(b.root / "data-big", ignore_errors=True)
        shutil.rmtree(zipped, ignore_errors=True)

    base_size = baseline_bytes(size, args.tg_baseline_mb)
    base_big = big
    if base_size < size:
        base_big = copy_prefix(big.path, b.root / "prefix.pdf", base_size)
    progress(
        f"telegram: big file, Telethon send_file on {fmt_bytes(base_size)}"
        f" (~{one_at_a_time_seconds(base_size):.0f} s at one part per round trip)"
    )
    base = asyncio.run(big_baseline(base_big))
    b.problems += base.problems
    base_rate = mib_s(base_size, base.seconds)

    caption = (
        f"one {fmt_bytes(size)} file (random bytes) into Saved Messages as a document;"
        f" link: {LATENCY_MS:g} ms one way, {CONN_MBIT:g} Mbit/s per connection,"
        f" {LINK_MBIT:g} Mbit/s in all"
    )
    table = Table(["method", "seconds", "MiB/s", "vs baseline", "% of link", "extra disk"])
    stats = ours.stats
    how = (
        f"{stats.connections} connections, window {ours.window}->{stats.max_in_flight}"
        if stats
        else "?"
    )
    table.add(
        f"ferryman Uploader + sendMedia ({how})",
        fmt_seconds(ours.seconds),
        f"{mib_s(size, ours.seconds):.1f}",
        fmt_ratio(mib_s(size, ours.seconds) / base_rate),
        f"{link_share(size, ours.seconds):.0%}",
        "",
    )
    for where, engine in engines:
        table.add(
            f"ferryman engine, from {where} -> telegram:me (window <= {engine.window})",
            fmt_seconds(engine.seconds),
            f"{mib_s(size, engine.seconds):.1f}",
            fmt_ratio(mib_s(size, engine.seconds) / base_rate),
            f"{link_share(size, engine.seconds):.0%}",
            fmt_bytes(engine.peak_disk or 0),
        )
    label = "Telethon send_file(force_document=True) (baseline)"
    if base_size < size:
        label += f", measured on the first {fmt_bytes(base_size)}"
    table.add(
        label,
        fmt_seconds(base.seconds),
        f"{base_rate:.2f}",
        "1.00x",
        f"{link_share(base_size, base.seconds):.0%}",
        "",
    )
    b.result.tables.append((caption, table))
    if engines:
        b.result.tables.append(phase_table(ours, engines))
    if base_size < size:
        part, whole = telethon_part_kib(base_size), telethon_part_kib(size)
        same = (
            f"the same {part} KiB parts as for the whole file"
            if part == whole
            else f"{part} KiB parts there, {whole} KiB for the whole file"
        )
        b.result.notes.append(
            f"big file: the baseline sent only the first {fmt_bytes(base_size)} to save time"
            f" (--tg-baseline-mb); Telethon sends one part per round trip, so its rate does"
            f" not depend on the length, only on its part size: {same}"
        )
    b.result.notes.append(
        "big file: window A->B = the parts in flight the upload started with -> the most it"
        " had; the engine rows' window is capped by telegram.parts_in_flight; extra disk ="
        " the most bytes the data dir held at once in files other than the input's own"
        " inodes (a hard link to the input is free), sampled every 50 ms"
    )
    for where, engine in engines:
        b.result.notes.append(
            f"big file from {where}: engine / Uploader alone (same run) ="
            f" {ours.seconds / engine.seconds:.2f}"
        )
    ratio = mib_s(size, ours.seconds) / base_rate
    share = link_share(size, ours.seconds)
    b.result.checks += [
        Check(
            "big file: ferryman Uploader / Telethon send_file",
            fmt_ratio(ratio),
            f">= {RATIO_TARGET:g}x",
            ratio >= RATIO_TARGET,
        ),
        Check(
            f"big file: share of the {LINK_MBIT:g} Mbit/s link",
            f"{share:.0%}",
            f">= {LINK_TARGET:.0%}",
            share >= LINK_TARGET,
        ),
    ]
    b.result.data["big"] = {
        "bytes": size,
        "ferryman_seconds": ours.seconds,
        "ferryman_stats": dataclasses.asdict(stats) if stats else None,
        "engine_seconds": {where: engine.seconds for where, engine in engines},
        "engine_peak_disk": {where: engine.peak_disk for where, engine in engines},
        "baseline_bytes": base_size,
        "baseline_seconds": base.seconds,
    }


async def photos_baseline(photos: list[Path], shas: dict[str, str]) -> Run:
    server, me = world()
    client = await logged_in_client(server, me)

    async def send() -> None:
        for i in range(0, len(photos), ALBUM):
            await client.send_file("me", photos[i : i + ALBUM])

    try:
        seconds, _ = await timed(send)
    finally:
        await client.disconnect()
    return Run(seconds, photo_problems(server, me, photos, shas, "Telethon send_file"))


@dataclass
class Apart:
    """A photos run whose client had a process of its own: its figures and the fake's."""

    run: Run
    cpu: float | None  # the client process's CPU seconds
    fake_cpu: float  # this process's (the fake's) CPU seconds meanwhile
    requests: dict[str, int]


async def photos_apart(
    mode: str, folder: Path, data: Path, photos: list[Path], shas: dict[str, str]
) -> Apart:
    """The photos row with the fake in this process and the client in its own
    (``bench._tg_cost_child``), over loopback TCP: as against Telegram, the server's
    work (decrypting, parsing, checking and decoding every photo) is not on the client's
    core or under its GIL. ``mode``: ``engine`` (the folder to ``telegram:me``, from the
    add until idle) or ``albums`` (Telethon's ``send_file`` per ten, its client connected
    before the clock starts, as in :func:`photos_baseline`)."""
    server, me = world()
    if mode == "engine":
        await log_in(telegram_costs.child_settings(data), server, me)
    else:
        key = os.urandom(256)
        server.authorize(AuthKey(key).key_id, me)
        await asyncio.to_thread(_leave_key, data, key)
    remote = await serve(server)
    try:
        cpu = time.process_time()
        child = await telegram_costs.child(mode, data, remote.port, str(folder))
        fake_cpu = time.process_time() - cpu
    finally:
        await remote.close()
    who = "ferryman engine" if mode == "engine" else "Telethon send_file"
    problems = photo_problems(server, me, photos, shas, f"{who} (own process)")
    if child.code != 0 or child.timed is None:
        problems.append(f"{who} (own process): exit {child.code}: {child.log}")
    run = Run(child.timed or float("nan"), problems)
    return Apart(run, child.cpu, fake_cpu, dict(server.stats.requests))


def _leave_key(data: Path, key: bytes) -> None:
    """The auth key the ``albums`` child logs in with (``bench._tg_cost_child``)."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "key.hex").write_text(key.hex())


def photos_section(b: Bench) -> None:
    count = b.args.tg_photos
    progress(f"telegram: making {count} JPEGs")
    t0 = time.perf_counter()
    folder = b.root / "photos"
    photos = make_photos(folder, count)
    b.generated.append(f"{count} photos {time.perf_counter() - t0:.1f} s")
    sizes = [p.stat().st_size for p in photos]
    shas = {p.name: sha256_file(p)[1] for p in photos}

    apart: dict[str, Apart] = {}
    for mode, what in (("engine", "ferryman engine to telegram:me"), ("albums", "Telethon")):
        progress(f"telegram: {count} photos, {what}, the client in its own process")
        got = asyncio.run(photos_apart(mode, folder, b.root / f"data-photos-{mode}", photos, shas))
        b.problems += got.run.problems
        apart[mode] = got
        shutil.rmtree(b.root / f"data-photos-{mode}", ignore_errors=True)
    ours, base = apart["engine"].run, apart["albums"].run

    caption = (
        f"{count} photos (JPEG, {fmt_bytes(min(sizes))}-{fmt_bytes(max(sizes))},"
        f" {fmt_bytes(sum(sizes))} in all) into Saved Messages in albums of {ALBUM};"
        " each client in its own process, the fake in the bench's"
    )
    table = Table(
        ["method", "seconds", "photos/s", "vs baseline", "client CPU s", "fake CPU s", "requests"]
    )
    ratio = base.seconds / ours.seconds
    for mode, label, value in (
        ("engine", "ferryman engine -> telegram:me (folder: stage, probe, upload, send)", ratio),
        ("albums", f"Telethon send_file(ten paths) x {-(-count // ALBUM)} (baseline)", 1.0),
    ):
        got = apart[mode]
        table.add(
            label,
            fmt_seconds(got.run.seconds),
            f"{count / got.run.seconds:.1f}",
            fmt_ratio(value),
            f"{got.cpu:.2f}" if got.cpu is not None else "?",
            f"{got.fake_cpu:.2f}",
            str(sum(got.requests.values())),
        )
    if b.args.tg_photos_in_process:  # the row as it was measured until 2026-11-27
        progress(f"telegram: {count} photos, both in this process (for comparison)")
        inner = asyncio.run(
            engine_run(
                folder,
                b.root / "data-photos",
                b.args.timeout,
                lambda s, me: photo_problems(s, me, photos, shas, "ferryman engine"),
            )
        )
        shutil.rmtree(b.root / "data-photos", ignore_errors=True)
        inner_base = asyncio.run(photos_baseline(photos, shas))
        b.problems += inner.problems + inner_base.problems
        for label, run_ in (("ferryman engine", inner), ("Telethon send_file", inner_base)):
            table.add(
                f"{label}, fake in the same process",
                fmt_seconds(run_.seconds),
                f"{count / run_.seconds:.1f}",
                fmt_ratio(inner_base.seconds / run_.seconds),
                "",
                "",
                "",
            )
    b.result.tables.append((caption, table))
    b.result.notes.append(
        "photos: client CPU s = the client process's user + system seconds (the engine's"
        " from its store's opening, Telethon's from its connect); fake CPU s = the bench"
        " process's meanwhile (the fake: decrypting, parsing, checking and decoding every"
        " photo); requests = those the fake handled"
    )
    b.result.checks.append(
        Check(
            "photos: ferryman engine / Telethon send_file",
            fmt_ratio(ratio),
            f">= {RATIO_TARGET:g}x",
            ratio >= RATIO_TARGET,
        )
    )
    b.result.data["photos"] = {
        "count": count,
        "bytes": sum(sizes),
        "ferryman_seconds": ours.seconds,
        "baseline_seconds": base.seconds,
        "cpu": {m: {"client": a.cpu, "fake": a.fake_cpu} for m, a in apart.items()},
        "requests": {m: a.requests for m, a in apart.items()},
    }


def costs(b: Bench) -> None:
    """The resume row (its own file, ``--tg-resume-mb``) and the CPU row (the big file)."""
    size = b.args.tg_resume_mb * MiB
    progress(f"telegram: writing a {fmt_bytes(size)} file for the resume row")
    resumed = make_big_file(b.root / "resume.pdf", size)
    guarded(b.result, "resume", lambda: telegram_costs.resume_section(b, resumed))
    resumed.path.unlink()
    big = b.root / "big.pdf"
    if big.exists():
        whole = Big(big, big.stat().st_size, sha256_file(big)[1])
        guarded(b.result, "cpu", lambda: telegram_costs.cpu_section(b, whole))


@dataclass
class Bench:
    args: argparse.Namespace
    root: Path
    result: Result
    problems: list[str] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)


def guarded(result: Result, name: str, section: Callable[[], object]) -> None:
    """Run one section; a crash becomes a failed check, and the other section still runs."""
    try:
        section()
    except Exception as exc:  # one broken section must not hide the other
        progress(f"{result.name}: {name} failed: {type(exc).__name__}: {exc}")
        result.checks.append(
            Check(f"{name} ran to the end", f"{type(exc).__name__}: {exc}", "", False)
        )


def run(args: argparse.Namespace) -> Result:
    if getattr(args, "tg_download", False):
        from bench import telegram_download

        return telegram_download.run(args)
    result = Result(
        "telegram",
        f"uploads to the fake Telegram ({LATENCY_MS:g} ms, {CONN_MBIT:g} Mbit/s a connection,"
        f" {LINK_MBIT:g} Mbit/s link) vs Telethon's send_file",
    )
    with scratch("telegram", args.tmp_dir, args.keep) as root:
        b = Bench(args, root, result)
        if args.tg_photos > 0:  # --tg-photos 0: the big file alone
            guarded(b.result, "photos", lambda: photos_section(b))
        guarded(b.result, "big file", lambda: big_section(b))
        telegram_costs.photos_check(b)
        if not args.tg_skip_costs:
            costs(b)

        from bench import telegram_pool  # it imports this module

        guarded(b.result, "pool", lambda: telegram_pool.section(b.result, root, args))
        from bench import telegram_stream  # it imports this module

        guarded(b.result, "stream", lambda: telegram_stream.section(b.result, root, args))
    result.checks.append(
        Check(
            "every delivery checked in the chat (SHA-256, count, albums)",
            "; ".join(b.problems) or "all",
            "all",
            not b.problems,
        )
    )
    result.notes += [
        "vs baseline = ferryman's rate / the baseline's rate, both measured in this run",
        f"% of link = bits sent / seconds / {LINK_MBIT:g} Mbit/s (the whole delivery, the"
        " message included)",
        "the fake runs in the client's process in the big-file rows (the photos, resume and"
        " CPU rows run each client in its own process): it parses every"
        " request, checks the upload rules and decodes every photo; requests and answers are"
        " MTProto 2.0 encrypted (AES-IGE, Telethon's own code on the client's side; the"
        " fake's decryption runs on a thread)",
        "ferryman engine rows count from add_source until idle: staging (a hard link for a"
        " local file, hashed as the upload reads it; copy + fsync for an archive entry,"
        " uploaded and hashed as it is written) and probing included",
        "inputs (untimed): " + ", ".join(b.generated),
    ]
    return result
