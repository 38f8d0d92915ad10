"""``ferryman add``, ``run`` and ``demo``: inputs in as jobs, the engine run over them, and
the samples run through it. Loaded only when one of them is asked for (``cli.lazy``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from ferryman.errors import FerrymanError, step_of, with_job
from ferryman.frontdoors.cli.args import MAX_NUMBER, State, usable_data_dir
from ferryman.frontdoors.cli.inputs import added_json, inputs_of
from ferryman.frontdoors.cli.options import Destination, Notices, Output, with_groups
from ferryman.frontdoors.cli.preset import with_preset
from ferryman.frontdoors.cli.run import live_nodes, run_engine, say_what_next
from ferryman.frontdoors.cli.store import run_light
from ferryman.frontdoors.exit_codes import ExitCode, for_error
from ferryman.frontdoors.terminal import console, fail
from ferryman.net.rclone_path import shown_dest
from ferryman.printable import printable

# The engine, the store and what they pull in (SQLAlchemy, PyAV, Pillow, Telethon) load
# in the commands that use them, so light commands answer at once.
if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.model import Job
    from ferryman.store.ports import AddDoor
    from ferryman.store.startup.sqlite3_store import Sqlite3Store

work_app = typer.Typer()  # its commands join the root's (``cli.lazy``)
out = console()
err = console(stderr=True)


def _fail(exc: FerrymanError, job: int | None = None) -> None:
    fail(err, exc, job)


@work_app.command()
@with_groups(destination=Destination, output=Output, notices=Notices)
def add(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PATH",
            help="Files, folders or archives: paths, http(s) links to them, WebDAV"
            " folders and files (davs://host/path/, dav:// for plain http), Torbox"
            " items (torbox:torrent/ID, torbox:usenet/ID, torbox:webdl/ID, /FILE for one),"
            " magnet links and .torrent files (through the debrid service set up: TorBox,"
            " Real-Debrid, AllDebrid, Premiumize, Debrid-Link),"
            " or links to media: a page or a platform's video (YouTube, X, TikTok…),"
            " made into an MP4 up to 1080p unless --quality, --audio or --mute say else."
            " `-` reads one a line from stdin.",
        ),
    ] = None,
    batch_file: Annotated[
        Path | None,
        typer.Option(
            "--batch-file",
            "-a",
            metavar="FILE",
            help="Inputs from FILE, one a line (`-`: stdin); blank lines and # comments"
            " are skipped.",
        ),
    ] = None,
    *,
    destination: Destination,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="Password for encrypted archives (visible in the process list; see"
            " `ferryman password` for a way that is not).",
        ),
    ] = None,
    priority: Annotated[
        int,
        typer.Option(
            "--priority", metavar="N", min=-MAX_NUMBER, max=MAX_NUMBER, help="Higher goes first."
        ),
    ] = 0,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Add even if added before; a link to media skips the result cache."
        ),
    ] = False,
    output: Output,
    playlist: Annotated[
        bool,
        typer.Option(
            "--playlist",
            help="Links to media: every entry of a playlist or channel (up to"
            " links.playlist_max), each its own file; without it, only the one video.",
        ),
    ] = False,
    subs: Annotated[
        str | None,
        typer.Option(
            "--subs",
            metavar="LANGS",
            help="Links to media: these languages' subtitles (en,de), in the MP4 as its"
            " own tracks and, with --nfo, as .srt files beside it.",
        ),
    ] = None,
    nfo: Annotated[
        bool,
        typer.Option(
            "--nfo",
            help="Links to media, for a library: an .nfo (title, channel, date,"
            " description, ID) and the thumbnail as poster.jpg, as Jellyfin, Plex and Kodi"
            " read them.",
        ),
    ] = False,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            metavar="NAME",
            help="Links to media: a preset's choices (`ferryman preset list`: mp3, 720p,"
            " best… and yours); --quality, --audio, --subs and --to given here win.",
        ),
    ] = None,
    run_now: Annotated[
        bool,
        typer.Option(
            "--run",
            help="Then follow these jobs to their end: run them here, or wait for the"
            " ferryman already running (the page, a service); exit by the table for them.",
        ),
    ] = False,
    notices: Notices,
) -> None:
    """Add inputs as jobs: they run with `ferryman run` (or at once with --run, or in a
    ferryman that is running already)."""

    from ferryman.engine.ops import intake  # lazy: start-up
    from ferryman.links.profile import from_choices  # lazy: start-up
    from ferryman.sources.builtin import default_sources  # lazy: start-up

    shown_source = default_sources().describe
    state: State = ctx.obj
    paths = inputs_of(paths or [], batch_file)
    if not paths:
        from ferryman.frontdoors.cli.usage_json import usage_exit  # lazy: an error only

        usage_exit(
            "no input: give PATH..., `-a FILE` or `-` (one a line on stdin)",
            "Name what to add: `ferryman add PATH --to DEST` (`ferryman add -h` says more).",
        )
    try:
        profile = from_choices(**dataclasses.asdict(output), playlist=playlist, subs=subs, nfo=nfo)
        dest = destination.dest
        if preset is not None:
            profile, dest = with_preset(ctx, state, preset, profile, dest)
        notify = notices.notify
        if notify is not None:
            from ferryman.engine.plumbing.notice_targets import check_target  # lazy: start-up

            notify = check_target(notify)
    except FerrymanError as exc:
        _fail(exc)
        raise typer.Exit(for_error(exc.code)) from None
    options: dict[str, Any] = {
        "notify": notify,
        "dest": dest,
        "password": password,
        "priority": priority,
        "force": force,
        "profile": profile,
    }

    def report_added(results: list[Job | FerrymanError]) -> ExitCode:
        """Say what became of every input; the exit code its problems call for (a bad
        destination is a usage error, Telegram not set up a configuration one, as
        the table in --help says and `watch add` exits)."""
        code = ExitCode.OK
        for path, job in zip(paths, results, strict=True):
            if state.json:
                out.print(json.dumps(added_json(path, job, shown_source)), markup=False)
            if isinstance(job, FerrymanError):
                _fail(job)
                code = max(code, for_error(job.code))
            elif job.error_code and state.json:  # a script's stderr: JSON, as any error
                code = max(code, for_error(job.error_code))
                said = added_json(path, job, shown_source)["error"] | {"job": job.id}
                err.print(json.dumps({"error": said}), markup=False, highlight=False)
            elif job.error_code:
                code = max(code, for_error(job.error_code))
                err.print(
                    Text.assemble(
                        (f"job {job.id}", "red"),
                        printable(f" {job.error_code}: {job.error_message}"),
                    )
                )
                step = with_job(step_of(job.error_code, job.error_message), job.id)
                err.print(f"  next: {step}", markup=False)
            elif not state.json:
                shown = shown_source(job.source)  # a link without its token
                out.print(
                    f"job {job.id}: {shown} → {shown_dest(job.dest)} ({job.name})", markup=False
                )
        return code

    silent_after = 2.0  # leases: as `ferryman workers` tells a live engine from a silent one

    def light(settings: Settings, store: Sqlite3Store) -> tuple[ExitCode, list[int], list[str]]:
        results: list[Job | FerrymanError] = []
        for path in paths:
            try:
                results.append(intake.add_source_now(store, path, settings=settings, **options))
            except FerrymanError as exc:
                results.append(exc)
        live = store.live_nodes(silent_after * settings.lease_seconds)
        return report_added(results), _added(results), live

    async def full(settings: Settings, store: AddDoor) -> tuple[ExitCode, list[int], list[str]]:
        results: list[Job | FerrymanError] = []
        for path in paths:
            try:
                results.append(await intake.add_source(store, path, settings=settings, **options))
            except FerrymanError as exc:
                results.append(exc)
        return report_added(results), _added(results), await live_nodes(store, settings)

    code, added, live = run_light(ctx, light, full, writes=True)
    if run_now and added:  # its own jobs to their end, here or in the ferryman running
        from ferryman.frontdoors.cli.follow import run_own_jobs  # lazy: start-up

        code = max(code, run_own_jobs(ctx, added, live))
    elif added and not state.quiet:
        say_what_next(live, len(added))
    if code:
        raise typer.Exit(code)


def _added(results: list[Job | FerrymanError]) -> list[int]:
    """The jobs added that have work to do (not refused, not failed at once)."""
    return [job.id for job in results if not isinstance(job, FerrymanError) and not job.error_code]


@work_app.command()
def run(
    ctx: typer.Context,
    until_idle: Annotated[
        bool,
        typer.Option(
            "--until-idle",
            help="Stop once every job has ended or waits on you, and exit by the table in"
            " `ferryman --help`: 0 all delivered, 1 a job failed, 3 one waits on you.",
        ),
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
    code = run_engine(ctx.obj, until_idle=until_idle, node_name=node_name)
    if code:
        raise typer.Exit(code)


@work_app.command()
def demo(ctx: typer.Context) -> None:
    """Make sample inputs, run them into the library, and print the reports."""
    from ferryman.frontdoors.demo import run_demo  # the engine, PyAV, the samples

    state: State = ctx.obj
    try:
        words, machine = (err, out) if state.json else (out, None)
        code = run_demo(usable_data_dir(state.settings()), words, machine)
    except FerrymanError as exc:
        _fail(exc)
        raise typer.Exit(for_error(exc.code)) from exc
    raise typer.Exit(code)
