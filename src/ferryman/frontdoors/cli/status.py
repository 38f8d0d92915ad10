"""``ferryman status [JOB…]``: the newest jobs (or the ones named, or of a state) with
their counts, and what each one shown waits for or failed of."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferryman.frontdoors.cli.args import job_number
from ferryman.frontdoors.cli.store import run_light
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, print_problems, show, status_table

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store.ports import StatusDoor
    from ferryman.store.startup.sqlite3_store import Sqlite3Store

out = console()
status_app = typer.Typer()  # its command joins the root's (``cli``)

SHOWN = 20  # the table's newest jobs when no --limit is given
STATES = ("queued", "reading", "active", "needs_password", "done", "failed", "cancelled")
# Groups a person asks for: what has not ended yet, and what needs them.
STATE_GROUPS = {"unended": ("queued", "reading", "active", "needs_password")}
# Old words taken for one release (until 0.2): ``reading`` was ``expanding`` in 0.1.0.
STATE_ALIASES = {"expanding": "reading"}


@status_app.command()
def status(
    ctx: typer.Context,
    jobs: Annotated[
        list[str] | None,
        typer.Argument(metavar="[JOB]...", help="Only these jobs (their numbers)."),
    ] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            "-s",
            metavar="STATE",
            help="Only jobs in this state (repeatable): queued, reading, active,"
            " needs_password, done, failed, cancelled, or unended (any not ended).",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=0,
            help=f"The newest N jobs ({SHOWN} in the table, all with --json; 0: all).",
        ),
    ] = None,
) -> None:
    """The newest jobs with their state and item counts; the rest are counted."""
    from ferryman.engine.ops import report  # lazy: start-up

    numbers = [job_number(j) for j in jobs or []]
    states = _states(state or [])
    silent_after = 2.0  # leases: as `ferryman workers` tells a live engine from a silent one

    def light(settings: Settings, store: Sqlite3Store) -> dict[str, Any]:
        data = report.status_of(
            store.list_jobs(),
            store.item_counts(),
            fetching=store.fetching_jobs(),
            fetch_errors=store.fetch_errors(),
            places=store.queue_places(),
        )
        return _mark_idle(data, store.live_nodes(silent_after * settings.lease_seconds))

    async def full(settings: Settings, store: StatusDoor) -> dict[str, Any]:
        from ferryman.engine.ops import nodes  # lazy: start-up

        runs = await nodes.workers(store, settings.lease_seconds)
        live = [r["node"] for r in runs if r["state"] == "alive"]
        return _mark_idle(await report.status(store), live)

    machine = ctx.obj.json
    every = run_light(ctx, light, full)
    newest = limit if limit is not None else (0 if machine or numbers else SHOWN)
    data = picked(every, numbers, states, newest)
    if machine:
        out.print_json(json.dumps(data))
        _end(data)
        return
    if not every["jobs"]:
        settings = ctx.obj.settings()
        out.print(
            f"no jobs yet in {_store_shown(settings)}: `ferryman add PATH` adds one"
            " (`ferryman add --run PATH` runs it at once); jobs added with another"
            " --data-dir are listed with that --data-dir",
            markup=False,
            highlight=False,
        )
        return
    _say_missing(data)
    if data["jobs"]:
        show(out, status_table(data))
        print_problems(out, data)
    elif not data["missing"]:
        out.print(f"no job is {' or '.join(states)}", markup=False)
    if getattr(ctx.obj, "verbose", 0):
        _say_accounts(ctx.obj.settings())
    if data["not_shown"]:
        n = data["not_shown"]
        out.print(
            f"{n} older job{'' if n == 1 else 's'} not shown: `ferryman status --limit 0`"
            " lists every job, `ferryman status JOB` one",
            markup=False,
            highlight=False,
        )
    _end(data)


def _say_accounts(settings: Settings) -> None:
    """``-v``: each Telegram account's figures, as the last engine wrote them (a pool)."""
    from ferryman.telegram.accounts import own_only, read_figures  # lazy: start-up

    figures = read_figures(settings)
    if not figures:
        return
    now = time.time()
    out.print("Telegram accounts (since the engine started):", markup=False)
    for name, f in figures.items():
        seconds = float(f.get("seconds", 0))
        rate = float(f.get("bytes", 0)) / seconds / 1e6 if seconds > 0 else 0.0
        until = float(f.get("waiting_until", 0))
        waiting = f", waiting {until - now:.0f} s more" if until > now else ""
        out.print(
            f"  {name}: {f.get('albums', 0)} albums, {rate:.1f} MB/s while uploading,"
            f" {f.get('waits', 0)} waits, gave way {f.get('refused', 0)} times{waiting}",
            markup=False,
            highlight=False,
        )
    if len(figures) > 1:
        out.print(f"  {own_only(figures)}", markup=False, highlight=False)


def _end(data: dict[str, Any]) -> None:
    """A job asked for by number that is not there ends the command as ``report`` would."""
    if data["missing"]:
        raise typer.Exit(for_error("job.not_found"))


def picked(
    data: dict[str, Any], numbers: list[int], states: list[str], newest: int
) -> dict[str, Any]:
    """``data``'s jobs narrowed to ``numbers`` (in the order given), then to ``states``,
    then to the ``newest`` (0: all), oldest first; how many matched but were cut is
    ``not_shown``, numbers with no job ``missing``."""
    rows: list[dict[str, Any]] = data["jobs"]
    missing: list[int] = []
    if numbers:
        by_id = {job["id"]: job for job in rows}
        missing = [n for n in numbers if n not in by_id]
        rows = [by_id[n] for n in dict.fromkeys(numbers) if n in by_id]
    if states:
        rows = [job for job in rows if job["state"] in states]
    cut = max(0, len(rows) - newest) if newest else 0
    if cut:
        rows = sorted(rows, key=lambda job: job["id"])[cut:]
    return {**data, "jobs": rows, "not_shown": cut, "missing": missing}


def _states(asked: list[str]) -> list[str]:
    """The states asked for, groups spelled out; a word that is none: exit 2."""
    states: list[str] = []
    for word in asked:
        name = word.strip().lower().replace("-", "_")
        name = STATE_ALIASES.get(name, name)
        if name in STATE_GROUPS:
            states.extend(STATE_GROUPS[name])
        elif name in STATES:
            states.append(name)
        else:
            console(stderr=True).print(
                f"--state {word!r} is no job state: one of {', '.join(STATES)}, or unended",
                markup=False,
            )
            raise typer.Exit(2)
    return states


def _say_missing(data: dict[str, Any]) -> None:
    for number in data["missing"]:
        console(stderr=True).print(
            f"no job {number}: `ferryman status` lists the jobs", markup=False
        )


def _mark_idle(data: dict[str, Any], live: list[str]) -> dict[str, Any]:
    """With no engine running, a job that is neither ended, paused nor waiting on a
    person is ``idle``: it waits for the next run (after a Ctrl-C it still says
    ``active``, which alone reads as if something ran it)."""
    from ferryman.engine.ops.report import waits_on_you  # lazy: start-up

    for job in data["jobs"]:
        unended = job["state"] in ("queued", "reading", "active")
        on_you = waits_on_you(job["waiting"])  # a retry's pause needs an engine too
        job["idle"] = not live and unended and not job["paused"] and not on_you
    return data


def _store_shown(settings: Settings) -> str:
    """The data dir, or a database_url without its password: where jobs were looked for."""
    if not settings.database_url:
        return str(settings.data_dir)
    from sqlalchemy.engine import make_url  # lazy: start-up

    return make_url(settings.database_url).render_as_string(hide_password=True)
