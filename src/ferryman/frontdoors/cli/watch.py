"""``ferryman watch``: sources checked on a schedule whose new entries become jobs
(see docs/watch.md). A running ``ferryman run`` (or ``web``, ``telegram serve``) checks
due watches; ``watch check`` checks now, in this process."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.args import MAX_NUMBER
from ferryman.frontdoors.cli.options import Destination, Notices, Output, with_groups
from ferryman.frontdoors.cli.output import said
from ferryman.frontdoors.cli.store import run_with_store
from ferryman.frontdoors.terminal import console, fail, show
from ferryman.net.rclone_path import shown_dest

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store.ports import WatchAdmin

T = TypeVar("T")

watch_app = typer.Typer(
    help="Watch a folder on this machine, a feed, a channel or playlist, a WebDAV folder or a"
    " Torbox account: new entries become jobs.",
    no_args_is_help=True,
)


def _when(at: float | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def _local(source: str) -> str:
    """A folder named relative to here (``Camera``, ``./Camera``) as its absolute path;
    anything else as given. An empty one (an unset shell variable) is refused: it read
    as the folder here."""
    if not source.strip():
        raise FerrymanError(
            "source.invalid", "an empty source names nothing (an unset shell variable?)"
        )
    if "://" in source or source.startswith(("/", "~")):
        return source
    try:
        return str(Path(source).absolute()) if Path(source).is_dir() else source
    except OSError:
        return source


@watch_app.command("add")
@with_groups(destination=Destination, output=Output, notices=Notices)
def add(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="A folder on this machine (a path: its new media files, once each, renamed"
            " or moved too), a feed (RSS/Atom) link, a playlist, channel or page yt-dlp lists, a"
            " WebDAV folder (davs://host/path/, dav:// for plain http), a Torbox"
            " account's items as they become ready (torbox:, torbox:torrent, …usenet, …webdl),"
            " or a Telegram channel or group the logged-in account reads (https://t.me/NAME,"
            " t.me/c/ID, telegram:@NAME, telegram:-100ID)."
        ),
    ],
    *,
    destination: Destination,
    every: Annotated[
        str,
        typer.Option(
            "--every",
            metavar="PERIOD",
            help="How often to look: 90s, 30m, 1h (default), 1d.",
            show_default=False,  # the help says it
        ),
    ] = "1h",
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            metavar="HH:MM-HH:MM",
            help="Look only in this daily window, local time: 01:00-07:00.",
        ),
    ] = None,
    since: Annotated[
        str,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="The first look: now (default: only what appears from now on), all, or N"
            " (the N newest entries too).",
            show_default=False,  # the help says it
        ),
    ] = "now",
    match: Annotated[
        str | None,
        typer.Option(
            "--match", metavar="REGEX", help="Only entries whose title matches this regex."
        ),
    ] = None,
    skip_match: Annotated[
        str | None,
        typer.Option(
            "--skip-match",
            metavar="REGEX",
            help="Leave out entries whose title matches this regex.",
        ),
    ] = None,
    min_duration: Annotated[
        float | None,
        typer.Option(
            "--min-duration",
            metavar="SECONDS",
            help="Leave out entries shorter (seconds, when known).",
        ),
    ] = None,
    max_duration: Annotated[
        float | None,
        typer.Option(
            "--max-duration",
            metavar="SECONDS",
            help="Leave out entries longer (seconds, when known).",
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="folder, feed, dav, rclone, ytdlp, torbox or telegram; default: folder for a"
            " path, dav for dav(s)://, rclone for rclone:REMOTE:path, telegram for a t.me chat"
            " link, another web link is a feed if it serves RSS/Atom (and no output option is"
            " given), else ytdlp.",
        ),
    ] = None,
    output: Output,
    notices: Notices,
    then: Annotated[
        str | None,
        typer.Option(
            "--then",
            metavar="ACTION",
            help="A folder watch: delete, or move:DIR (an rclone remote's: move:REMOTE:DIR),"
            " each file once its job has delivered it whole (at the watch's next look);"
            " default: leave it.",
        ),
    ] = None,
) -> None:
    """Watch SOURCE: every --every, what it holds new becomes one job to --to."""

    async def work(settings: Settings, store: WatchAdmin) -> None:
        from ferryman.engine.ops.watch_admin import NewWatch, add_watch, every_text  # lazy

        asked = NewWatch(
            source=_local(source),
            to=destination.dest,
            every=every,
            window=window,
            since=since,
            match=match,
            skip_match=skip_match,
            min_duration=min_duration,
            max_duration=max_duration,
            kind=kind,
            **dataclasses.asdict(output),
            notify=notices.notify,
            then=then,
            remote=False,  # the CLI runs on the machine: any folder of it
        )
        watch, shown = await add_watch(store, settings, asked)
        after = f"; then {_then_text(watch.after_delivery)}" if watch.after_delivery else ""
        said(
            ctx,
            f"watch {watch.id}: {shown} ({watch.kind}) → {shown_dest(watch.dest)},"
            f" every {every_text(watch.every_seconds)}"
            f"{f' in {window}' if window else ''}{after}; first look"
            f" {_when(watch.next_check_at)} by `ferryman run` (or now: `ferryman watch"
            f" check {watch.id}`)",
            watch=watch.id,
            source=shown,
            kind=watch.kind,
            dest=shown_dest(watch.dest),
            every_seconds=watch.every_seconds,
            window=window,
            then=watch.after_delivery,
            next_check_at=watch.next_check_at,
        )

    run_with_store(ctx, work)


@watch_app.command("list")
def list_watches(ctx: typer.Context) -> None:
    """The watches: what each follows, its last and next look, what went wrong."""

    async def work(settings: Settings, store: WatchAdmin) -> list[dict[str, Any]]:
        from ferryman.engine.ops.watch_admin import list_views  # lazy: start-up

        return await list_views(store)

    views = run_with_store(ctx, work)
    out = console()
    if ctx.obj.json:
        out.print_json(json.dumps({"watches": views}))
        return
    if not views:
        out.print("no watches (add one: `ferryman watch add SOURCE --to DEST`)", markup=False)
        return
    from rich.table import Table  # lazy: start-up

    from ferryman.engine.ops.watch_admin import every_text  # lazy: start-up

    table = Table(
        "id", "kind", "source", "to", "every", "then", "state", "last look", "next look", "jobs"
    )
    for view in views:
        state = view["state"]
        if view["error"]:
            state += f" ({view['error']['code']}: {view['error']['message']})"
        period = every_text(view["every_seconds"]) + (
            f" {view['window']}" if view["window"] else ""
        )
        table.add_row(
            str(view["id"]),
            view["kind"],
            view["source"],
            view["dest"],
            period,
            _then_text(view["then"]) if view["then"] else "-",
            state,
            _when(view["last_check_at"]),
            "paused" if view["paused"] else _when(view["next_check_at"]),
            str(view["jobs_made"]),
        )
    show(out, table)


def _then_text(then: str) -> str:
    """A folder watch's ``--then`` as a person reads it: each file once delivered."""
    if then.startswith("move:"):
        return f"move each delivered file to {then.removeprefix('move:')}"
    return "delete each delivered file" if then == "delete" else then


@watch_app.command("check")
def check(
    ctx: typer.Context,
    watch_id: Annotated[
        int | None,
        typer.Argument(
            metavar="[ID]", max=MAX_NUMBER, help="One watch (default: every unpaused one)."
        ),
    ] = None,
) -> None:
    """Look now and say what was found (jobs made go to `ferryman run`)."""
    as_json = ctx.obj.json

    async def work(settings: Settings, store: WatchAdmin) -> int:
        from ferryman.engine.ops.watch_admin import check_now  # lazy: start-up
        from ferryman.engine.plumbing.watch_words import jobs_text  # lazy: start-up
        from ferryman.engine.runner import new_owner  # lazy: start-up

        owner = new_owner()
        if watch_id is not None:
            ids = [(await store.get_watch(watch_id)).id]
        else:
            ids = [w.id for w in await store.list_watches() if not w.paused]
        out, err = console(), console(stderr=True)
        problems = 0
        said: list[dict[str, Any]] = []  # under --json: one object for every watch
        for number in ids:
            found = await check_now(store, settings, number, owner=owner)
            if found is None:
                said.append({"watch": number, "busy": True})
                if not as_json:
                    out.print(f"watch {number}: being checked elsewhere now", markup=False)
                continue
            if found.error is not None:
                problems += 1
                e = found.error
                said.append({"watch": number, "error": {"code": e.code, "message": e.message}})
                if not as_json:
                    err.print(f"watch {number}:", markup=False)
                    fail(err, found.error, as_json=False)
                continue
            made = list(dict.fromkeys(job for _, job in found.made))
            said.append(
                {
                    "watch": number,
                    "listed": found.listed,
                    "made": [{"job": j, "title": entry.title} for entry, j in found.made],
                    "skipped": [{"title": entry.title, "why": w} for entry, w in found.skipped],
                    "more": found.more,
                    "tidied": found.tidied,
                    "next_at": found.next_at,
                    "held": [{"title": e.title, "ready_at": e.ready_at} for e in found.held],
                }
            )
            if as_json:
                continue
            out.print(
                f"watch {number}: {found.listed} listed, {len(found.made)} new"
                f" → {jobs_text(made)};"
                + (f" {found.more} more at the next look," if found.more else "")
                + (f" {len(found.held)} still being written," if found.held else "")
                + f" next look {_when(found.next_at)}",
                markup=False,
            )
            for entry in found.held:  # just copied there: taken once it has settled
                out.print(
                    f"  still being written: {entry.title}"
                    f" (looked at again {_when(entry.ready_at or found.next_at)})",
                    markup=False,
                )
            for entry, job_id in found.made:
                out.print(f"  job {job_id}: {entry.title}", markup=False)
            for entry, why in found.skipped:
                out.print(f"  seen, left out: {entry.title} ({why})", markup=False)
            for done in found.tidied:  # --then: each file its job delivered whole
                out.print(f"  {done}, its job having delivered it", markup=False)
        if as_json:
            out.print(json.dumps({"watches": said}), markup=False, highlight=False)
        elif not ids:
            out.print("no watches to check", markup=False)
        return problems

    if run_with_store(ctx, work):
        raise typer.Exit(1)


def _toggle(ctx: typer.Context, watch_id: int, paused: bool) -> None:
    async def work(settings: Settings, store: WatchAdmin) -> None:
        from ferryman.engine.ops.watch_admin import set_paused  # lazy: start-up

        watch = await set_paused(store, watch_id, paused)
        word = "paused" if paused else f"resumed; next look {_when(watch.next_check_at)}"
        said(
            ctx,
            f"watch {watch.id} {word}",
            watch=watch.id,
            paused=paused,
            next_check_at=None if paused else watch.next_check_at,
        )

    run_with_store(ctx, work)


@watch_app.command("pause")
def pause(
    ctx: typer.Context,
    watch_id: Annotated[
        int,
        typer.Argument(
            metavar="ID", max=MAX_NUMBER, help="The watch's number (see `ferryman watch list`)."
        ),
    ],
) -> None:
    """Stop looking (what it saw is kept)."""
    _toggle(ctx, watch_id, True)


@watch_app.command("resume")
def resume(
    ctx: typer.Context,
    watch_id: Annotated[
        int,
        typer.Argument(
            metavar="ID", max=MAX_NUMBER, help="The watch's number (see `ferryman watch list`)."
        ),
    ],
) -> None:
    """Look again, at once, then every period."""
    _toggle(ctx, watch_id, False)


@watch_app.command("remove")
def remove(
    ctx: typer.Context,
    watch_id: Annotated[
        int,
        typer.Argument(
            metavar="ID", max=MAX_NUMBER, help="The watch's number (see `ferryman watch list`)."
        ),
    ],
) -> None:
    """Forget the watch and what it saw; the jobs it made stay."""

    async def work(settings: Settings, store: WatchAdmin) -> None:
        from ferryman.engine.ops.watch_admin import remove_watch  # lazy: start-up

        await remove_watch(store, watch_id)
        said(ctx, f"watch {watch_id} removed", watch=watch_id, removed=True)

    run_with_store(ctx, work)
