"""``ferryman watch``: sources checked on a schedule whose new entries become jobs
(see docs/watch.md). A running ``ferryman run`` (or ``web``, ``telegram serve``) checks
due watches; ``watch check`` checks now, in this process."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.terminal import console, fail, show

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store import Store
    from ferryman.store.watches import Watch

T = TypeVar("T")

watch_app = typer.Typer(
    help="Watch a feed, a channel or playlist, a WebDAV folder or a Torbox account: new"
    " entries become jobs.",
    no_args_is_help=True,
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
MIN_EVERY = 10.0  # seconds: a source is not asked more often than this


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
    return seconds


def parse_since(text: str) -> str:
    """``now`` (only what appears from now on), ``all``, or ``N`` newest entries."""
    word = text.strip().lower()
    if word in ("now", "all") or (word.isdigit() and int(word) > 0):
        return word
    raise FerrymanError(
        "watch.bad_option", f"--since '{text}': now, all, or a number of newest entries"
    )


def _regex(option: str, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        re.compile(text)
    except re.error as exc:
        raise FerrymanError("watch.bad_option", f"{option} '{text}' is no regex: {exc}") from exc
    return text


def _store_run(ctx: typer.Context, work: Callable[[Settings, Store], Awaitable[T]]) -> T:
    """Open the store, run ``work``, close; a FerrymanError is a clear exit 2."""
    import asyncio

    async def go() -> T:
        from ferryman.store import Store

        settings = ctx.obj.settings()
        store = await Store.open(settings.database)
        try:
            return await work(settings, store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except FerrymanError as exc:
        fail(console(stderr=True), exc)
        raise typer.Exit(2) from exc


def _when(at: float | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def _every(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def watch_view(watch: Watch, shown_source: str, now: float) -> dict[str, Any]:
    """A watch as ``watch list --json`` prints it."""
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
        "dest": watch.dest,
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
    }


@watch_app.command("add")
def add(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="A feed (RSS/Atom) link, a playlist, channel or page yt-dlp lists, a"
            " WebDAV folder (davs://host/path/, dav:// for plain http), or a Torbox"
            " account's items as they become ready (torbox:, torbox:torrent, …usenet, …webdl)."
        ),
    ],
    to: Annotated[str, typer.Option("--to", help="Where new entries go (as `add --to`).")],
    every: Annotated[
        str, typer.Option("--every", help="How often to look: 90s, 30m, 1h (default), 1d.")
    ] = "1h",
    window: Annotated[
        str | None,
        typer.Option("--window", help="Look only in this daily window, local time: 01:00-07:00."),
    ] = None,
    since: Annotated[
        str,
        typer.Option(
            "--since",
            help="The first look: now (default: only what appears from now on), all, or N"
            " (the N newest entries too).",
        ),
    ] = "now",
    match: Annotated[
        str | None, typer.Option("--match", help="Only entries whose title matches this regex.")
    ] = None,
    skip_match: Annotated[
        str | None,
        typer.Option("--skip-match", help="Leave out entries whose title matches this regex."),
    ] = None,
    min_duration: Annotated[
        float | None,
        typer.Option("--min-duration", help="Leave out entries shorter (seconds, when known)."),
    ] = None,
    max_duration: Annotated[
        float | None,
        typer.Option("--max-duration", help="Leave out entries longer (seconds, when known)."),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="feed, dav, ytdlp or torbox; default: dav for dav(s)://, a web link is a feed if"
            " it serves RSS/Atom (and no output option is given), else ytdlp.",
        ),
    ] = None,
    quality: Annotated[
        str | None, typer.Option("--quality", help="As `add --quality` (links to media).")
    ] = None,
    audio: Annotated[
        str | None, typer.Option("--audio", help="As `add --audio`: mp3, m4a or opus.")
    ] = None,
    bitrate: Annotated[int | None, typer.Option("--bitrate", help="As `add --bitrate`.")] = None,
    mute: Annotated[bool, typer.Option("--mute", help="As `add --mute`.")] = False,
    notify: Annotated[
        str | None,
        typer.Option(
            "--notify",
            metavar="URL",
            help="Where this watch's notices (and its jobs') go instead of notify.urls:"
            " Apprise URLs, ferryman(s)://host/path (a signed webhook), or none.",
        ),
    ] = None,
) -> None:
    """Watch SOURCE: every --every, its new entries become jobs to --to."""

    async def work(settings: Settings, store: Store) -> None:
        from ferryman.engine.notify import check_target
        from ferryman.engine.watch import next_in_window, parse_window
        from ferryman.links.profile import from_choices
        from ferryman.sinks.builtin import default_sinks
        from ferryman.sources.listers.builtin import default_listers

        period = parse_every(every)
        targets = check_target(notify) if notify is not None else None
        first = parse_since(since)
        if window is not None:
            parse_window(window)
        profile = from_choices(audio=audio, bitrate=bitrate, quality=quality, mute=mute)
        sinks = default_sinks()
        dest = sinks.parse(to).text
        sinks.check_ready(settings, dest)
        text = source.strip().strip("<>")
        listers = default_listers()
        web = text.partition(":")[0].lower() in ("http", "https")
        prefer = kind or ("ytdlp" if profile is not None and web else None)
        lister = await listers.choose(text, settings, prefer=prefer)
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
            window=window,
            since=first,
            match=_regex("--match", match),
            skip_match=_regex("--skip-match", skip_match),
            min_duration=min_duration,
            max_duration=max_duration,
            next_check_at=next_in_window(window, store.clock()),
            notify=targets,
        )
        out = console()
        out.print(
            f"watch {watch.id}: {lister.describe(text)} ({lister.kind}) → {dest},"
            f" every {_every(period)}{f' in {window}' if window else ''}; first look"
            f" {_when(watch.next_check_at)} by `ferryman run` (or now: `ferryman watch"
            f" check {watch.id}`)",
            markup=False,
        )

    _store_run(ctx, work)


@watch_app.command("list")
def list_watches(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The watches: what each follows, its last and next look, what went wrong."""

    async def work(settings: Settings, store: Store) -> list[dict[str, Any]]:
        from ferryman.sources.listers.builtin import default_listers

        listers = default_listers()
        now = time.time()
        views = []
        for watch in await store.list_watches():
            try:
                shown = listers.get(watch.kind).describe(watch.source)
            except FerrymanError:
                shown = watch.source
            views.append(watch_view(watch, shown, now))
        return views

    views = _store_run(ctx, work)
    out = console()
    if as_json:
        out.print_json(json.dumps({"watches": views}))
        return
    if not views:
        out.print("no watches (add one: `ferryman watch add SOURCE --to DEST`)", markup=False)
        return
    from rich.table import Table

    table = Table("id", "kind", "source", "to", "every", "state", "last look", "next look", "jobs")
    for view in views:
        state = view["state"]
        if view["error"]:
            state += f" ({view['error']['code']}: {view['error']['message']})"
        every_text = _every(view["every_seconds"]) + (
            f" {view['window']}" if view["window"] else ""
        )
        table.add_row(
            str(view["id"]),
            view["kind"],
            view["source"],
            view["dest"],
            every_text,
            state,
            _when(view["last_check_at"]),
            "paused" if view["paused"] else _when(view["next_check_at"]),
            str(view["jobs_made"]),
        )
    show(out, table)


@watch_app.command("check")
def check(
    ctx: typer.Context,
    watch_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="One watch (default: every unpaused one).")
    ] = None,
) -> None:
    """Look now and say what was found (jobs made go to `ferryman run`)."""

    async def work(settings: Settings, store: Store) -> int:
        from ferryman.device.conditions import Device
        from ferryman.engine.runner import new_owner
        from ferryman.engine.watch import Checker
        from ferryman.sinks.builtin import default_sinks
        from ferryman.sources.builtin import default_sources
        from ferryman.sources.listers.builtin import default_listers

        owner = new_owner()
        checker = Checker(
            store, default_sources(), default_sinks(), default_listers(), Device(), owner
        )
        if watch_id is not None:
            ids = [(await store.get_watch(watch_id)).id]
        else:
            ids = [w.id for w in await store.list_watches() if not w.paused]
        out, err = console(), console(stderr=True)
        problems = 0
        for number in ids:
            claimed = await store.claim_watch(owner, settings.lease_seconds, number)
            if claimed is None:
                out.print(f"watch {number}: being checked elsewhere now", markup=False)
                continue
            found = await checker.check(claimed, settings, now_asked=True)
            if found.error is not None:
                problems += 1
                err.print(f"watch {number}:", markup=False)
                fail(err, found.error)
                continue
            out.print(
                f"watch {number}: {found.listed} listed, {len(found.made)} new"
                f" → job{'s' if len(found.made) != 1 else ''}"
                f" {', '.join(str(j) for _, j in found.made) or 'none'};"
                f" next look {_when(found.next_at)}",
                markup=False,
            )
            for entry, job_id in found.made:
                out.print(f"  job {job_id}: {entry.title}", markup=False)
            for entry, why in found.skipped:
                out.print(f"  seen, left out: {entry.title} ({why})", markup=False)
        if not ids:
            out.print("no watches to check", markup=False)
        return problems

    if _store_run(ctx, work):
        raise typer.Exit(1)


def _toggle(ctx: typer.Context, watch_id: int, paused: bool) -> None:
    async def work(settings: Settings, store: Store) -> None:
        watch = await store.set_watch_paused(watch_id, paused)
        word = "paused" if paused else f"resumed; next look {_when(watch.next_check_at)}"
        console().print(f"watch {watch.id} {word}", markup=False)

    _store_run(ctx, work)


@watch_app.command("pause")
def pause(
    ctx: typer.Context,
    watch_id: Annotated[
        int, typer.Argument(metavar="ID", help="The watch's number (see `ferryman watch list`).")
    ],
) -> None:
    """Stop looking (what it saw is kept)."""
    _toggle(ctx, watch_id, True)


@watch_app.command("resume")
def resume(
    ctx: typer.Context,
    watch_id: Annotated[
        int, typer.Argument(metavar="ID", help="The watch's number (see `ferryman watch list`).")
    ],
) -> None:
    """Look again, at once, then every period."""
    _toggle(ctx, watch_id, False)


@watch_app.command("remove")
def remove(
    ctx: typer.Context,
    watch_id: Annotated[
        int, typer.Argument(metavar="ID", help="The watch's number (see `ferryman watch list`).")
    ],
) -> None:
    """Forget the watch and what it saw; the jobs it made stay."""

    async def work(settings: Settings, store: Store) -> None:
        await store.remove_watch(watch_id)
        console().print(f"watch {watch_id} removed", markup=False)

    _store_run(ctx, work)
