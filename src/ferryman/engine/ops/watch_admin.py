"""Managing watches, for every front door: the CLI's ``watch``, the API's
``/api/v1/watches`` and the chat's ``/watch``, ``/watches``, ``/unwatch`` add, list,
check, pause and remove watches through these, so each says the same thing about the
same input (docs/watch.md). ``who`` asks (``ops/who``; the machine's own user by
default, the CLI's): a person's watch is theirs, sends to a place of theirs (a bare
``library:`` is their own library folder), and only they (or an administrator) see,
check, pause or remove it; its looks make jobs within their limits (``ops/limits``)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ferryman.clock import SYSTEM, Clock
from ferryman.engine.ops.who import (
    MACHINE,
    Who,
    allowed_places,
    own_place,
    own_source,
    own_watch,
)
from ferryman.engine.plumbing.watch_words import shown_source
from ferryman.errors import FerrymanError
from ferryman.net.rclone_path import shown_dest

if TYPE_CHECKING:  # `ferryman --help` imports this module: only what it needs at once
    from ferryman.config import Settings
    from ferryman.engine.plumbing.events import Event
    from ferryman.engine.watch import Found
    from ferryman.resources import Shared
    from ferryman.store.ports import WatchAdmin
    from ferryman.store.watches.sql import Watch

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
MIN_EVERY = 10.0  # seconds: a source is not asked more often than this
MAX_EVERY = 366 * 86400.0  # seconds: and at least once a year


def parse_every(text: str) -> float:
    """``90s``, ``30m``, ``1h``, ``1d`` or plain seconds."""
    found = _EVERY.match(text.strip().lower())
    if found is None:
        raise FerrymanError(
            "watch.bad_option", f"--every '{text}': give a number with s, m, h or d, e.g. 1h"
        )
    seconds = float(found.group(1)) * _UNITS[found.group(2) or "s"]
    if seconds < MIN_EVERY:
        raise FerrymanError("watch.bad_option", f"--every '{text}': at least {MIN_EVERY:g} s")
    if seconds > MAX_EVERY:  # 9…9d would be inf: a next check no clock can show
        raise FerrymanError("watch.bad_option", f"--every '{text}': at most 366d")
    return seconds


def parse_since(text: str) -> str:
    """``now`` (only what appears from now on), ``all``, or ``N`` newest entries."""
    word = text.strip().lower()
    if word in ("now", "all") or (word.isdigit() and int(word) > 0):
        return word
    raise FerrymanError(
        "watch.bad_option", f"--since '{text}': now, all, or a number of newest entries"
    )


def checked_regex(option: str, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        re.compile(text)
    except re.error as exc:
        raise FerrymanError("watch.bad_option", f"{option} '{text}' is no regex: {exc}") from exc
    return text


def every_text(seconds: float) -> str:
    """A period as it was given: ``1h``, ``30m``, ``90s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class NewWatch:
    """What ``watch add`` (or the API's POST, or the chat's ``/watch``) asks for."""

    source: str
    to: str
    every: str = "1h"
    window: str | None = None
    since: str = "now"
    match: str | None = None
    skip_match: str | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    kind: str | None = None
    quality: str | None = None
    audio: str | None = None
    bitrate: int | None = None
    mute: bool = False
    notify: str | None = None
    then: str | None = None  # a folder's file once delivered: delete, move:DIR
    # Asked from afar (the API, the chat): a folder must be under watch.folders. The
    # CLI, run on the machine by whoever runs ferryman, may name any.
    remote: bool = True


async def add_watch(
    store: WatchAdmin,
    settings: Settings,
    asked: NewWatch,
    *,
    who: Who = MACHINE,
    resources: Shared | None = None,
) -> tuple[Watch, str]:
    """Check what is asked and record the watch (``who``'s); it and its source as
    shown. Raises a FerrymanError (nothing recorded) for a bad option, destination
    (``account.dest_forbidden``: not a place of ``who``'s, ``own_place``, asked
    through ``resources``' Telegram client) or source."""
    import asyncio  # lazy: start-up

    from ferryman.engine.notify_egress import check_targets  # lazy: start-up
    from ferryman.engine.plumbing.notice_targets import check_target  # lazy: start-up
    from ferryman.engine.watch import next_in_window, parse_window  # lazy: start-up
    from ferryman.links.profile import from_choices  # lazy: start-up
    from ferryman.net.rclone_conf import own_settings  # lazy: start-up
    from ferryman.sinks.builtin import default_sinks  # lazy: start-up
    from ferryman.sources.listers.base import (  # lazy: start-up
        Placed,
        ReadsThrough,
        Ready,
        RemoteTidying,
        Tidying,
    )
    from ferryman.sources.listers.builtin import default_listers  # lazy: start-up

    period = parse_every(asked.every)
    targets = check_target(asked.notify) if asked.notify is not None else None
    await check_targets(targets, settings)  # none inward, with network.block_private
    first = parse_since(asked.since)
    if asked.window is not None:
        parse_window(asked.window)
    profile = from_choices(
        audio=asked.audio, bitrate=asked.bitrate, quality=asked.quality, mute=asked.mute
    )
    sinks = default_sinks()
    place = await own_place(who, sinks, asked.to, allowed_places(settings), resources)
    dest = sinks.parse(place).text
    text = asked.source.strip().strip("<>")
    if not who.admin:  # a person's rclone: remotes are their own
        then_text = (asked.then or "").strip()
        moving = then_text.lower().startswith("move:") and text.startswith("rclone:")
        moved = f"rclone:{then_text[5:].strip()}" if moving else ""  # move:REMOTE:DIR
        texts = (text, dest, moved) if moved else (text, dest)
        settings = await asyncio.to_thread(own_settings, settings, who.account, texts)
    await asyncio.to_thread(sinks.check_ready, settings, dest)  # rclone says its remotes
    listers = default_listers()
    web = text.partition(":")[0].lower() in ("http", "https") and not any(
        k.accepts(text) for k in listers.kinds if k.kind not in ("feed", "ytdlp")
    )  # a t.me chat link is no page of media to make into an output
    prefer = asked.kind or ("ytdlp" if profile is not None and web else None)
    lister = await listers.choose(text, settings, prefer=prefer)
    own_source(who, "torbox:" if lister.kind == "torbox" else text, settings)
    if isinstance(lister, ReadsThrough):  # a private chat by its number: an administrator's
        through = lister.read_through(text)
        if through is not None:
            own_source(who, through)
    if isinstance(lister, Ready):
        # A chat needs a login, an rclone watch its remote: refused now, not at each look.
        await asyncio.to_thread(lister.check_ready, settings, text)
    if isinstance(lister, Placed):
        text = lister.placed(text, settings, remote=asked.remote)  # an absolute path
    then = None
    if asked.then is not None:
        if not isinstance(lister, (Tidying, RemoteTidying)):
            raise FerrymanError(
                "watch.bad_then",
                f"--then applies to a folder's files (here or on an rclone remote), not a"
                f" {lister.kind} watch",
            )
        then = lister.checked_after(text, asked.then, settings, remote=asked.remote)
    if profile is not None and lister.kind not in ("ytdlp", "feed"):
        raise FerrymanError(
            "link.output_for_file",
            f"an output (audio, quality, mute) applies to links to media, not to a"
            f" {lister.kind} watch's files",
        )
    watch = await store.add_watch(
        kind=lister.kind,
        source=text,
        dest=dest,
        profile=profile.token() if profile is not None else None,
        every_seconds=period,
        window=asked.window,
        since=first,
        match=checked_regex("--match", asked.match),
        skip_match=checked_regex("--skip-match", asked.skip_match),
        min_duration=asked.min_duration,
        max_duration=asked.max_duration,
        next_check_at=next_in_window(asked.window, store.clock()),
        notify=targets,
        after_delivery=then,
    )
    if who.owner is not None:
        await store.set_watch_account(watch.id, who.owner)
    await store.wake_engines()  # a running engine looks at it now
    return watch, lister.describe(text)


def watch_view(watch: Watch, shown_source: str, now: float) -> dict[str, Any]:
    """A watch as ``watch list --json`` and ``GET /api/v1/watches`` show it."""
    if watch.paused:
        state = "paused"
    elif watch.owner is not None and (watch.lease_until or 0) > now:
        state = "checking"
    elif watch.failures:
        state = "failing"
    else:
        state = "waiting"
    return {
        "id": watch.id,
        "kind": watch.kind,
        "source": shown_source,
        "dest": shown_dest(watch.dest),
        "output": watch.profile,
        "every_seconds": watch.every_seconds,
        "window": watch.window,
        "since": watch.since,
        "match": watch.match,
        "skip_match": watch.skip_match,
        "min_duration": watch.min_duration,
        "max_duration": watch.max_duration,
        "state": state,
        "paused": watch.paused,
        "last_check_at": watch.last_check_at,
        "last_ok_at": watch.last_ok_at,
        "next_check_at": watch.next_check_at,
        "failures": watch.failures,
        "error": (
            {"code": watch.last_code, "message": watch.last_message} if watch.last_code else None
        ),
        "note": watch.last_message if not watch.last_code else None,
        "jobs_made": watch.found,
        "notify": "none" if watch.notify == "none" else ("own" if watch.notify else None),
        "then": watch.after_delivery,
    }


async def list_views(store: WatchAdmin, who: Who = MACHINE) -> list[dict[str, Any]]:
    """The watches ``who`` sees: their own (an administrator's: everyone's)."""
    now = store.clock()
    whose = {} if who.admin else await store.watch_accounts()
    return [
        watch_view(w, shown_source(w), now)
        for w in await store.list_watches()
        if who.admin or who.sees(whose.get(w.id))
    ]


async def view_of(store: WatchAdmin, watch_id: int) -> dict[str, Any]:
    watch = await store.get_watch(watch_id)
    return watch_view(watch, shown_source(watch), store.clock())


async def set_paused(
    store: WatchAdmin, watch_id: int, paused: bool, *, who: Who = MACHINE
) -> Watch:
    """Pause (what it saw is kept) or resume (looks at once, then every period)."""
    await own_watch(store, who, watch_id)
    return await store.set_watch_paused(watch_id, paused)


async def remove_watch(store: WatchAdmin, watch_id: int, *, who: Who = MACHINE) -> None:
    """Forget the watch and what it saw; the jobs it made stay."""
    await own_watch(store, who, watch_id)
    await store.remove_watch(watch_id)


async def check_now(
    store: WatchAdmin,
    settings: Settings,
    watch_id: int,
    *,
    owner: str,
    publish: Callable[[Event], None] | None = None,
    shared: Shared | None = None,
    clock: Clock = SYSTEM,
    who: Who = MACHINE,
    limited: Callable[[Watch], Awaitable[None]] | None = None,
) -> Found | None:
    """Look at one watch now, outside its window (the device still decides); None when
    another checker holds it at the moment. ``shared``: a running engine's resources
    (a Telegram chat is then read through its one connection, not a second one).
    ``clock``: what the lease's heartbeat renews on (the page's). ``limited``: the
    watch's person's limits (``ops/limits.of_watches``), as the watch stage checks them."""
    from ferryman.device.conditions import Device  # lazy: start-up
    from ferryman.engine.ops.intake import entry_job  # lazy: start-up
    from ferryman.engine.watch import Checker  # lazy: start-up
    from ferryman.sinks.builtin import default_sinks  # lazy: start-up
    from ferryman.sources.builtin import default_sources  # lazy: start-up
    from ferryman.sources.listers.builtin import default_listers  # lazy: start-up

    await own_watch(store, who, watch_id)
    claimed = await store.claim_watch(owner, settings.lease_seconds, watch_id)
    if claimed is None:
        return None
    checker = Checker(
        store,
        default_sources(),
        default_sinks(),
        default_listers(shared),
        Device(),
        owner,
        enter=entry_job,
        limited=limited,
        publish=publish,
        clock=clock,
    )
    return await checker.check(claimed, settings, now_asked=True)


def found_view(found: Found) -> dict[str, Any]:
    """A check's outcome as the API returns it."""
    error = found.error
    return {
        "watch": found.watch.id,
        "listed": found.listed,
        "made": [{"job": job, "title": entry.title} for entry, job in found.made],
        "left_out": [{"title": entry.title, "why": why} for entry, why in found.skipped],
        "error": {"code": error.code, "message": error.message} if error else None,
        "next_check_at": found.next_at,
        "more": found.more,
        "held": [{"title": entry.title, "ready_at": entry.ready_at} for entry in found.held],
    }
