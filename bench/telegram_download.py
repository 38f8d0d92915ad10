"""Downloads from the fake Telegram (``bench telegram --download``): ferryman against
Telethon's ``download_media``, on the same link model as the upload bench (50 ms one
way, 100 Mbit/s a connection, 800 Mbit/s the link), all rows in one run:

* one big document (``--size-mb``, 1 GiB by default) in a private channel, added as its
  ``https://t.me/c/ID/N`` link and fetched by the engine (``sources/telegram_link``)
  into the library, against ``client.download_media(message, path)`` (on a prefix
  with Telethon's part size for the whole file, as the upload bench does); and the
  fake serving ``upload.getFile`` alone (no client) over as many connections, paced
  and unpaced, so the fake is known not to be what limits;
* 200 photos (``--tg-photos``) posted as albums of 10: added as 200 message links
  (200 jobs), and found by a watch on the channel (one job of 20 albums), each through
  the engine into the library, against ``download_media`` of each message in turn.

Every download is checked: the big file's SHA-256, every photo once, byte for byte.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telethon.crypto import AuthKey
from telethon.tl import functions, types

from bench._common import Check, MiB, Result, Table, fmt_bytes, fmt_ratio, fmt_seconds, progress
from bench._common import scratch as scratch_dir
from bench.telegram import (
    CONN_MBIT,
    LATENCY_MS,
    LINK_MBIT,
    PDF_HEAD,
    engine_settings,
    guarded,
    log_in,
    make_photos,
    telethon_part_kib,
)
from faketg import FakeTelegram, LinkModel
from faketg.client import logged_in_client
from faketg.people import channel_posts, stored_document, stored_photo
from faketg.sender import FakeSender
from faketg.state import Account, Channel
from ferryman.engine.ops import intake
from ferryman.engine.ops.watch_admin import check_now
from ferryman.engine.plumbing.events import JobFetching
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.resources import Shared
from ferryman.store import Store

LINK_TARGET = 0.85  # share of the link for the big file, at least
PHOTOS_TARGET = 10.0  # ferryman / download_media for the photos, at least
ALBUM = 10
CHUNK = 1024 * 1024


@dataclass
class World:
    server: FakeTelegram
    me: Account
    channel: Channel  # the big document (and the baseline's prefix)
    photo_channel: Channel  # the photos alone: what a watch on it finds
    big_id: int = 0
    big_sha: str = ""
    big_size: int = 0
    base_id: int = 0
    base_size: int = 0
    base_sha: str = ""
    photo_ids: list[int] = field(default_factory=list)
    photo_shas: list[str] = field(default_factory=list)


@dataclass
class Run:
    seconds: float
    fetch_seconds: float | None = None  # the engine rows: until the last byte was fetched
    problems: list[str] = field(default_factory=list)


def big_bytes(size: int) -> bytes:
    return (PDF_HEAD + os.urandom(max(0, size - len(PDF_HEAD))))[:size]


def baseline_size(size: int, asked_mb: int | None) -> int:
    """``asked_mb``, else the shortest whole-MiB prefix on which Telethon picks the same
    part size as for the whole file (it asks one part per round trip, so its rate
    depends on the part size, not on the length)."""
    if asked_mb is not None:
        return min(size, asked_mb * MiB)
    part = telethon_part_kib(size)
    prefix = size
    while prefix > MiB and telethon_part_kib(prefix - MiB) == part:
        prefix -= MiB
    return prefix


def make_world(data: bytes, base: int, photos: list[bytes]) -> World:
    server = FakeTelegram(link=LinkModel.mbit(LATENCY_MS, CONN_MBIT, LINK_MBIT))
    me = server.add_user("Bench", username="bench", phone="+15550100")
    server.box("user", me.id).pts = 1000  # as bench telegram: not a fresh account
    poster = server.add_user("Poster", username="poster")
    channel = server.add_channel("Files", members=[me], admins=[poster])
    photo_channel = server.add_channel("Trips", members=[me], admins=[poster])
    w = World(server, me, channel, photo_channel)
    if data:
        doc = stored_document(server, poster, data, "big.pdf", "application/pdf")
        [msg] = channel_posts(server, poster, channel, [("", doc)])
        w.big_id, w.big_size = msg.id, len(data)
        w.big_sha = hashlib.sha256(data).hexdigest()
        prefix = data[:base]
        doc = stored_document(server, poster, prefix, "prefix.pdf", "application/pdf")
        [msg] = channel_posts(server, poster, channel, [("", doc)])
        w.base_id, w.base_size = msg.id, base
        w.base_sha = hashlib.sha256(prefix).hexdigest()
    for i in range(0, len(photos), ALBUM):
        media = [("", stored_photo(server, poster, p)) for p in photos[i : i + ALBUM]]
        posted = channel_posts(server, poster, photo_channel, media, album=len(media) > 1)
        w.photo_ids += [m.id for m in posted]
    w.photo_shas = sorted(hashlib.sha256(p).hexdigest() for p in photos)
    return w


# --------------------------------------------------------------------------- the fake alone


async def fake_alone(w: World, connections: int, in_flight: int, *, paced: bool) -> float:
    """Seconds the fake takes to serve the big document's ``getFile`` requests over
    ``connections`` senders, ``in_flight`` at once, with no client behind them."""
    model = w.server.network.model
    if not paced:
        w.server.network.model = LinkModel()
    key = AuthKey(os.urandom(256))
    w.server.authorize(key.key_id, w.me)
    senders = [FakeSender(w.server, key) for _ in range(connections)]
    for sender in senders:
        await sender.connect()
    media = w.server.media[next(m for m in w.server.media if _is_big(w, m))]
    location = types.InputDocumentFileLocation(
        media.id, media.access_hash, media.file_reference, ""
    )
    offsets = iter(range(0, w.big_size, CHUNK))

    async def lane(sender: FakeSender) -> None:
        for offset in offsets:
            request = functions.upload.GetFileRequest(location, offset=offset, limit=CHUNK)
            _msg_id, sealed = sender._wire.seal(bytes(request))  # as the client sends it
            await w.server.call(sender, sealed)

    started = time.perf_counter()
    try:
        per = max(1, in_flight // connections)
        await asyncio.gather(*(lane(s) for s in senders for _ in range(per)))
        return time.perf_counter() - started
    finally:
        w.server.network.model = model
        for sender in senders:
            await sender.disconnect()


def _is_big(w: World, media_id: int) -> bool:
    media = w.server.media[media_id]
    return media.kind == "document" and media.file.size == w.big_size


# --------------------------------------------------------------------------- baselines


async def telethon_big(w: World, folder: Path) -> Run:
    client = await known_channel(w)
    try:
        started = time.perf_counter()
        peer = await client.get_input_entity(types.PeerChannel(w.channel.id))
        message = await client.get_messages(peer, ids=w.base_id)
        path = await client.download_media(message, file=str(folder / "prefix.pdf"))
        seconds = time.perf_counter() - started
    finally:
        await client.disconnect()
    problems = []
    if path is None or _sha(Path(path)) != w.base_sha:
        problems.append("Telethon download_media: the big file differs")
    return Run(seconds, problems=problems)


async def telethon_photos(w: World, folder: Path) -> Run:
    """``download_media`` of each photo's message in turn, after fetching them (100 ids a
    request), as a script with Telethon would."""
    client = await known_channel(w)
    try:
        started = time.perf_counter()
        peer = await client.get_input_entity(types.PeerChannel(w.photo_channel.id))
        for i in range(0, len(w.photo_ids), 100):
            for message in await client.get_messages(peer, ids=w.photo_ids[i : i + 100]):
                await client.download_media(message, file=str(folder / f"{message.id}.jpg"))
        seconds = time.perf_counter() - started
    finally:
        await client.disconnect()
    got = await asyncio.to_thread(_shas, folder)
    problems = [] if got == w.photo_shas else ["Telethon download_media: photos differ"]
    return Run(seconds, problems=problems)


async def known_channel(w: World) -> Any:
    """A client that has read its dialogs (untimed), so it knows the channel by id."""
    client = await logged_in_client(w.server, w.me)
    await client.get_dialogs()
    return client


def _shas(folder: Path) -> list[str]:
    return sorted(_sha(p) for p in folder.iterdir())


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(MiB):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- ferryman


async def engine_download(
    w: World,
    data_dir: Path,
    limit: float,
    add: Callable[[Store, Any], Awaitable[int]],
    want: list[str],
) -> Run:
    """The whole engine from the first add (or the watch's check) until idle, into the
    library; ``fetch_seconds``: until the last fetch reported its last byte."""
    settings = engine_settings(data_dir, documents=True)
    await log_in(settings, w.server, w.me)
    store = await Store.open(settings.database)
    last_fetch = 0.0
    try:
        engine = Engine(store, settings, dialer=_dialer(w))

        def fetched(event: object) -> None:
            nonlocal last_fetch
            if isinstance(event, JobFetching) and event.total and event.done >= event.total:
                last_fetch = time.perf_counter()

        engine.bus.subscribe(fetched)
        started = time.perf_counter()
        count = await add(store, settings)
        try:
            await asyncio.wait_for(engine.run(until_idle=True), limit)
        finally:
            await engine.ctx.resources.close()
        seconds = time.perf_counter() - started
        jobs = await store.list_jobs()
        problems = [f"engine: job {j.id} {j.state.value}" for j in jobs if j.state != JobState.DONE]
        if len(jobs) != count:
            problems.append(f"engine: {len(jobs)} jobs, expected {count}")
    finally:
        await store.close()
    got = sorted(_sha(p) for p in settings.library.rglob("*") if p.is_file() and p.suffix in _KINDS)
    if got != sorted(want):
        problems.append(f"engine: {len(got)} files in the library, not the {len(want)} posted")
    fetch = last_fetch - started if last_fetch else None
    return Run(seconds, fetch, problems)


_KINDS = {".pdf", ".jpg", ".jpeg"}


def _dialer(w: World) -> Any:
    from faketg.client import FakeDialer

    return FakeDialer(w.server)


async def add_links(store: Store, ids: list[int], channel: Channel) -> int:
    for message in ids:
        await intake.add_source(store, f"https://t.me/c/{channel.id}/{message}")
    return len(ids)


async def add_watch(store: Store, settings: Any, w: World) -> int:
    """A watch on the channel (``--since all``) and its first look, as ``watch add``
    then ``watch check`` take it: one job (``batch:``) of the look's albums, each album
    one input, several fetched at once (``sources/batch``). Returns the jobs made."""
    watch = await store.add_watch(
        kind="telegram",
        source=f"telegram:-100{w.photo_channel.id}",
        dest="library:",
        every_seconds=3600.0,
        since="all",
        next_check_at=0.0,
    )
    shared = Shared(settings, _dialer(w))
    try:
        found = await check_now(store, settings, watch.id, owner="bench", shared=shared)
    finally:
        await shared.close()
    return len({job for _, job in found.made}) if found is not None else 0


# --------------------------------------------------------------------------- the run


def share(size: int, seconds: float) -> float:
    return size * 8 / seconds / (LINK_MBIT * 1e6)


def mib_s(size: int, seconds: float) -> float:
    return size / MiB / seconds


@dataclass
class Bench:
    args: argparse.Namespace
    root: Path
    result: Result
    problems: list[str] = field(default_factory=list)


def big_section(b: Bench, w: World) -> None:
    size, limit = w.big_size, b.args.timeout
    progress(f"telegram download: the fake alone serving {fmt_bytes(size)}")
    alone = asyncio.run(fake_alone(w, 8, 24, paced=True))
    unpaced = asyncio.run(fake_alone(w, 8, 24, paced=False))
    progress("telegram download: big file, ferryman engine from its t.me/c link")
    ours = asyncio.run(
        engine_download(
            w,
            b.root / "data-big",
            limit,
            lambda store, _s: add_links(store, [w.big_id], w.channel),
            [w.big_sha],
        )
    )
    b.problems += ours.problems
    progress(f"telegram download: big file, Telethon download_media on {fmt_bytes(w.base_size)}")
    (b.root / "base").mkdir()
    base = asyncio.run(telethon_big(w, b.root / "base"))
    b.problems += base.problems
    base_rate = mib_s(w.base_size, base.seconds)
    fetch = ours.fetch_seconds or ours.seconds
    table = Table(["method", "seconds", "MiB/s", "vs baseline", "% of link"])
    rows = [
        ("the fake alone: getFile, 8 connections, 24 in flight, paced", alone, size),
        ("the fake alone, unpaced (its CPU ceiling)", unpaced, size),
        ("ferryman engine, t.me/c link: fetched (add -> last byte on disk)", fetch, size),
        ("ferryman engine, t.me/c link: whole job (-> library, idle)", ours.seconds, size),
        (
            f"Telethon download_media (baseline), on the first {fmt_bytes(w.base_size)}",
            base.seconds,
            w.base_size,
        ),
    ]
    for label, seconds, nbytes in rows:
        table.add(
            label,
            fmt_seconds(seconds),
            f"{mib_s(nbytes, seconds):.1f}",
            fmt_ratio(mib_s(nbytes, seconds) / base_rate),
            f"{share(nbytes, seconds):.0%}",
        )
    b.result.tables.append(
        (
            f"one {fmt_bytes(size)} document in a private channel; link: {LATENCY_MS:g} ms"
            f" one way, {CONN_MBIT:g} Mbit/s a connection, {LINK_MBIT:g} Mbit/s in all",
            table,
        )
    )
    b.result.notes.append(
        f"big file: the baseline downloads a {fmt_bytes(w.base_size)} prefix (Telethon's"
        f" {telethon_part_kib(w.base_size)} KiB parts, one a round trip, as for the whole"
        " file); --tg-baseline-mb sets it"
    )
    got = share(size, fetch)
    b.result.checks.append(
        Check(
            f"big file fetched: share of the {LINK_MBIT:g} Mbit/s link",
            f"{got:.0%}",
            f">= {LINK_TARGET:.0%}",
            got >= LINK_TARGET,
        )
    )
    b.result.data["big"] = {
        "bytes": size,
        "fake_alone_seconds": alone,
        "fake_unpaced_seconds": unpaced,
        "fetch_seconds": fetch,
        "job_seconds": ours.seconds,
        "baseline_bytes": w.base_size,
        "baseline_seconds": base.seconds,
    }


def photos_section(b: Bench, w: World) -> None:
    count, limit = len(w.photo_ids), b.args.timeout
    progress(f"telegram download: {count} photos, ferryman engine from {count} message links")
    links = asyncio.run(
        engine_download(
            w,
            b.root / "data-links",
            limit,
            lambda store, _s: add_links(store, w.photo_ids, w.photo_channel),
            w.photo_shas,
        )
    )
    progress(f"telegram download: {count} photos, ferryman engine from a watch on the channel")
    watched = asyncio.run(
        engine_download(
            w,
            b.root / "data-watch",
            limit,
            lambda store, settings: add_watch(store, settings, w),
            w.photo_shas,
        )
    )
    progress(f"telegram download: {count} photos, Telethon download_media one by one")
    (b.root / "base-photos").mkdir()
    base = asyncio.run(telethon_photos(w, b.root / "base-photos"))
    for run_ in (links, watched, base):
        b.problems += run_.problems
    table = Table(["method", "seconds", "photos/s", "vs baseline", "all fetched at"])
    rows = [
        (f"ferryman engine, {count} t.me/c links -> library", links),
        (
            f"ferryman engine, a watch on the channel (1 job, {-(-count // ALBUM)} albums)"
            " -> library",
            watched,
        ),
        ("Telethon get_messages + download_media each (baseline)", base),
    ]
    for label, run_ in rows:
        table.add(
            label,
            fmt_seconds(run_.seconds),
            f"{count / run_.seconds:.1f}",
            fmt_ratio(base.seconds / run_.seconds),
            fmt_seconds(run_.fetch_seconds) if run_.fetch_seconds else "",
        )
    b.result.tables.append(
        (f"{count} photos posted in albums of {ALBUM} in a private channel", table)
    )
    for label, run_ in (("message links", links), ("a watched channel", watched)):
        ratio = base.seconds / run_.seconds
        b.result.checks.append(
            Check(
                f"photos from {label}: ferryman / download_media",
                fmt_ratio(ratio),
                f">= {PHOTOS_TARGET:g}x",
                ratio >= PHOTOS_TARGET,
            )
        )
    b.result.data["photos"] = {
        "count": count,
        "links_seconds": links.seconds,
        "watch_seconds": watched.seconds,
        "baseline_seconds": base.seconds,
    }


def run(args: argparse.Namespace) -> Result:
    result = Result(
        "telegram --download",
        f"downloads from the fake Telegram ({LATENCY_MS:g} ms, {CONN_MBIT:g} Mbit/s a"
        f" connection, {LINK_MBIT:g} Mbit/s link) vs Telethon's download_media",
    )
    size = args.size_mb * MiB
    base = baseline_size(size, args.tg_baseline_mb)
    with scratch_dir("telegram-download", args.tmp_dir, args.keep) as root:
        progress(f"telegram download: {fmt_bytes(size)} of random bytes, {args.tg_photos} JPEGs")
        photos = [p.read_bytes() for p in make_photos(root / "photos", args.tg_photos)]
        w = make_world(big_bytes(size), base, photos)
        b = Bench(args, root, result)
        if photos:
            guarded(b.result, "photos", lambda: photos_section(b, w))
        guarded(b.result, "big file", lambda: big_section(b, w))
    result.checks.append(
        Check(
            "every download checked (SHA-256, every photo once)",
            "; ".join(b.problems) or "all",
            "all",
            not b.problems,
        )
    )
    result.notes += [
        "vs baseline = ferryman's rate / Telethon's, both measured in this run, against one"
        " fake (in this process, no MTProto encryption)",
        "engine rows count from the first add (or the watch's first look) until idle;"
        " 'fetched' / 'all fetched at': until the last job's download reported its last"
        " byte (the rest is the engine's stages after the fetch: unpack, record, deliver)",
    ]
    return result
