"""``ferryman report|links|pause|resume|cancel|retry|remove|password``: what a person
sees of one job, and does to it (through ``engine/ops/control``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.args import JobArg, job_number
from ferryman.frontdoors.cli.run import live_nodes, say_what_next
from ferryman.frontdoors.cli.store import run_with_store
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail, print_links, print_report

# The store, the engine and settings load in the commands that use them (`--help`).
if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.engine.ops import control
    from ferryman.model import Job
    from ferryman.store.ports import Control, JobDoor, LinksDoor, RetryDoor


out = console()


job_app = typer.Typer()  # its commands join the root's (``cli``)


@job_app.command("report")
def report_cmd(ctx: typer.Context, job: JobArg) -> None:
    """What a job delivered, converted, skipped and quarantined, and why."""
    from ferryman.engine.ops import report  # lazy: start-up

    number = job_number(job)
    data = run_with_store(ctx, lambda _s, store: report.report(store, number), number)
    if ctx.obj.json:
        out.print_json(json.dumps(data))
        return
    print_report(out, data)


@job_app.command()
def links(ctx: typer.Context, job: JobArg) -> None:
    """A `--to link:` job's download links, or a Telegram job's (read from Telegram by
    `ferryman web`), signed afresh (valid for web.link_ttl)."""
    from ferryman.frontdoors.result_links import job_links, listening  # lazy: start-up

    number = job_number(job)

    async def signed(settings: Settings, store: LinksDoor) -> tuple[Job, Any]:
        found = await store.get_job(number)
        return found, await job_links(settings, found, kept=store.sink_state("telegram"))

    found, made = run_with_store(ctx, signed, number)
    serving = listening(made.base)
    if ctx.obj.json:
        files = [{"name": f.name, "size": f.size, "url": f.url} for f in made.files]
        data = {"job": number, "files": files, "zip": made.whole, "expires_at": made.expires}
        out.print_json(json.dumps(data | {"served_by": made.base, "serving": serving}))
        return
    print_links(out, found, made, serving)


def _control(
    ctx: typer.Context, action: Callable[[Control], Coroutine[Any, Any, Any]], job: int
) -> None:
    run_with_store(ctx, lambda _s, store: action(store), job)


def _said(ctx: typer.Context, number: int, state: str, **more: Any) -> None:
    """``job N STATE`` (``paused``, ``queued again``), or under ``--json`` the job's number
    and what it is now as one object."""
    if ctx.obj.json:
        out.print(json.dumps({"job": number, "state": state, **more}), markup=False)
    else:
        out.print(f"job {number} {state}", markup=False)


@job_app.command()
def pause(ctx: typer.Context, job: JobArg) -> None:
    """Pause a job: nothing of it is claimed until `resume`."""
    from ferryman.engine.ops import control  # lazy: start-up

    number = job_number(job)
    _control(ctx, lambda store: control.pause_job(store, number), number)
    _said(ctx, number, "paused")


@job_app.command()
def resume(ctx: typer.Context, job: JobArg) -> None:
    """Resume a paused job."""
    from ferryman.engine.ops import control  # lazy: start-up

    number = job_number(job)
    _control(ctx, lambda store: control.resume_job(store, number), number)
    _said(ctx, number, "resumed")


@job_app.command()
def cancel(ctx: typer.Context, job: JobArg) -> None:
    """Cancel a job and delete its files from the work area."""

    from ferryman.engine.ops import control  # lazy: start-up

    number = job_number(job)
    _control(ctx, lambda store: control.cancel_job(store, number), number)
    _said(ctx, number, "cancelled")


@job_app.command()
def retry(ctx: typer.Context, job: JobArg) -> None:
    """Run an ended job again; what was delivered is not delivered twice."""
    from ferryman.engine.ops import control  # lazy: start-up

    number = job_number(job)

    async def again(settings: Settings, store: RetryDoor) -> list[str]:
        await control.retry_job(store, number)
        return await live_nodes(store, settings)

    live = run_with_store(ctx, again, number)
    if ctx.obj.json:
        _said(ctx, number, "queued", running=live)
        return
    _said(ctx, number, "queued again")
    say_what_next(live, again=True)


@job_app.command()
def remove(
    ctx: typer.Context,
    jobs: Annotated[
        list[str] | None,
        typer.Argument(metavar="[JOB]...", help="The jobs' numbers (`ferryman status`)."),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed job too.")] = False,
    done: Annotated[bool, typer.Option("--done", help="Every done job too.")] = False,
    cancelled: Annotated[
        bool, typer.Option("--cancelled", help="Every cancelled job too.")
    ] = False,
    quarantine: Annotated[
        bool,
        typer.Option("--quarantine", help="Delete the jobs' quarantine folders too."),
    ] = False,
) -> None:
    """Forget ended jobs: their records and work files (a running job: cancel it first).

    What they delivered to a library or a chat stays there; the files behind their
    download links (to link:) go with them; their quarantine folders stay unless
    --quarantine is given. Each job is removed on its own: one that cannot be (not
    ended, not found) is said and the others still go.
    """
    from ferryman.engine.ops import control  # lazy: start-up

    numbers = [job_number(j) for j in jobs or []]
    states = {s for s, on in (("failed", failed), ("done", done), ("cancelled", cancelled)) if on}
    if not numbers and not states:
        console(stderr=True).print(
            "name the jobs to remove (`ferryman remove 3 4`), or --failed, --done or"
            " --cancelled for every job of that state",
            markup=False,
        )
        raise typer.Exit(2)

    async def forget(
        settings: Settings, store: JobDoor
    ) -> list[control.Removed | tuple[int, FerrymanError]]:
        chosen = list(dict.fromkeys(numbers))
        if states:
            listed = await store.list_jobs()
            chosen += [j.id for j in listed if j.state.value in states and j.id not in chosen]
        outcomes: list[control.Removed | tuple[int, FerrymanError]] = []
        for number in chosen:
            try:
                outcomes.append(
                    await control.remove_job(store, settings, number, quarantine=quarantine)
                )
            except FerrymanError as exc:
                outcomes.append((number, exc))
        return outcomes

    outcomes = run_with_store(ctx, forget, numbers[0] if len(numbers) == 1 else None)
    if ctx.obj.json:
        _removed_json(outcomes)
        return
    if not outcomes:
        out.print(f"no {' or '.join(sorted(states))} job to remove", markup=False)
    refused: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, tuple):
            number, exc = outcome
            fail(console(stderr=True), exc, number, as_json=False)
            refused.append(exc.code)
            continue
        out.print(f"job {outcome.job.id} ({outcome.job.name}) removed", markup=False)
        for folder in outcome.folders:
            out.print(f"  deleted {folder}", markup=False, highlight=False)
    if refused:
        raise typer.Exit(for_error(refused[0]))


def _removed_json(outcomes: list[control.Removed | tuple[int, FerrymanError]]) -> None:
    """``remove --json``: one object, the jobs removed (with the folders deleted) and the
    ones refused (with their error), exit code of the first refusal."""
    removed = [
        {"job": o.job.id, "name": o.job.name, "deleted": [str(f) for f in o.folders]}
        for o in outcomes
        if not isinstance(o, tuple)
    ]
    errors = [o for o in outcomes if isinstance(o, tuple)]
    refused = [
        {"job": number, "error": {"code": exc.code, "message": exc.message}}
        for number, exc in errors
    ]
    out.print(json.dumps({"removed": removed, "refused": refused}), markup=False)
    if errors:
        raise typer.Exit(for_error(errors[0][1].code))


@job_app.command()
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
    """Give a job a password, tried at once where its archive is on this machine (a
    wrong one is said and not kept); a job in needs_password reads on from where it stopped."""
    number = job_number(job)
    if secret is None:
        if sys.stdin.isatty():
            secret = typer.prompt("password", hide_input=True)
        else:
            secret = sys.stdin.readline().rstrip("\r\n")
    given = secret
    from ferryman.engine.ops import control  # lazy: start-up
    from ferryman.engine.ops.password_check import Fit, password_fits  # lazy: start-up
    from ferryman.model import JobState  # lazy: start-up

    async def tried(settings: Settings, store: JobDoor) -> tuple[Job, Fit]:
        job = await store.get_job(number)
        fit = Fit.UNTRIED
        if job.state is JobState.NEEDS_PASSWORD and given:
            fit = await password_fits(settings, store, job, given)
            if fit is Fit.REFUSED:  # not kept: the job still waits for the right one
                raise FerrymanError(
                    "archive.password_wrong",
                    f"that password does not open {job.name}; it was not kept",
                )
        return await control.give_password(store, number, given), fit

    found, fit = run_with_store(ctx, tried, number)
    if ctx.obj.json:
        _said(ctx, number, found.state.value, password="opens" if fit is Fit.OPENS else "kept")
    elif fit is Fit.OPENS:
        out.print(
            f"job {number}: the password opens it; the next `ferryman run` reads on from"
            " where reading stopped",
            markup=False,
        )
    elif found.state is JobState.QUEUED:
        out.print(
            f"job {number}: password added; the next `ferryman run` tries it where reading"
            " stopped (`ferryman status` then shows whether it opened)",
            markup=False,
        )
    else:
        out.print(f"job {number}: password added (the job is {found.state.value})")
