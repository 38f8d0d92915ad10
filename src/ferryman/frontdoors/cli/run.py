"""The engine run by ``run`` and ``add --run``: progress as asked (bars, plain lines on
stderr, JSON events, nothing), then the summary of what this run did and the exit code
it calls for (``exit_codes.for_run``; 130 after a Ctrl-C)."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.args import State, usable_data_dir
from ferryman.frontdoors.cli.inputs import output_mode
from ferryman.frontdoors.exit_codes import ExitCode, for_error, for_run
from ferryman.frontdoors.terminal import console, fail, print_links, print_run_summary

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store.ports import JobsView, Nodes

out = console()
err = console(stderr=True)


def say_what_next(live: list[str], jobs: int = 1, *, again: bool = False) -> None:
    """After `add` or `retry`: whether anything runs the ``jobs`` now, and where to look
    (`retry` said "queued again" and nothing more, though no engine might run)."""
    them = "them" if jobs > 1 else "it"
    if live:
        err.print(
            f"a running ferryman ({', '.join(live)}) takes {them} now;"
            " `ferryman status` shows how it goes",
            markup=False,
            highlight=False,
        )
        return
    both = "" if again else "; next time `ferryman add --run` does both"
    err.print(
        f"queued: nothing runs {them} until `ferryman run --until-idle` (or `ferryman run`,"
        f" `web`, `telegram serve`{both}); `ferryman status` shows how it goes",
        markup=False,
        highlight=False,
    )


async def live_nodes(store: Nodes, settings: Settings) -> list[str]:
    """The nodes whose engine runs now against ``store`` (as `ferryman workers` says)."""
    from ferryman.engine.ops import nodes  # lazy: start-up

    runs = await nodes.workers(store, settings.lease_seconds)
    return sorted({r["node"] for r in runs if r["state"] == "alive"})


def run_engine(
    state: State,
    *,
    until_idle: bool,
    node_name: str | None = None,
    only: Collection[int] | None = None,
    lock_wait: float = 0.0,
) -> ExitCode:
    """The engine with progress bars, then the summary (`run`, and `add --run`); the
    exit code the summary (or a Ctrl-C) calls for. ``only`` (`add --run`'s jobs): the
    engine stops once they have ended or wait on a person, and the summary and the
    exit code are theirs alone. ``lock_wait``: how long another ferryman's lock is
    waited for (``running``)."""

    async def go() -> ExitCode:
        from ferryman.engine.ops.report import run_summary  # lazy: start-up
        from ferryman.frontdoors.cli.settled import stop_once_settled  # lazy: start-up
        from ferryman.frontdoors.progress import attach_renderer  # lazy: start-up
        from ferryman.frontdoors.startup import running  # lazy: start-up

        async with running(settings, lock_wait=lock_wait) as started:
            since = started.store.clock()
            before = await started.store.item_counts()  # what this run adds is counted
            mode = output_mode(state, sys.stdout.isatty())
            renderer = attach_renderer(started.engine.bus, started.store, mode, only)
            touched: set[int] = set()  # the jobs this run worked on (not other nodes')
            started.engine.bus.subscribe(
                lambda event: touched.add(event.job_id) if event.job_id is not None else None
            )
            # add --run's jobs ended (or waiting on a person): the engine stops
            watching = stop_once_settled(started, only) if only is not None else None
            try:
                await started.engine.run(until_idle=until_idle)
            finally:
                if watching is not None:
                    watching.cancel()
                await renderer.close()
            summary = await run_summary(
                started.store,
                since,
                touched,
                before=before,
                stopped=True,
                only=only,
                library=str(settings.library),
            )
            interrupted = signal.SIGINT in started.signals
            await say_summary(state, settings, started.store, summary, interrupted=interrupted)
            if not until_idle and not interrupted:
                # A service's `run` stopped by its manager (SIGTERM) did what it was asked:
                # run until told to stop. Its jobs' outcomes are in notices and `status`;
                # a non-zero code here would read as a crash to systemd or Termux:Boot.
                return ExitCode.OK
            return for_run(summary, interrupted=interrupted)

    try:
        from ferryman.engine.plumbing.children import start_children_for  # lazy: start-up

        settings = usable_data_dir(state.settings(node_name=node_name))
        # before the engine's half second of loading
        start_children_for(settings.database, bool(settings.notify.urls))
        import asyncio  # not for `--help`: it costs a noticeable share of start-up

        return asyncio.run(go())
    except FerrymanError as exc:
        fail(err, exc)
        raise typer.Exit(for_error(exc.code)) from exc


async def say_summary(
    state: State,
    settings: Settings,
    store: JobsView,
    summary: dict[str, Any],
    *,
    interrupted: bool = False,
) -> None:
    """A run's summary: a JSON line, or the lines and the new download links."""
    if state.json:
        line = {"event": "run_summary", "interrupted": interrupted, **summary}
        out.print(json.dumps(line), markup=False)
        return
    print_run_summary(out, summary)
    await _print_new_links(settings, store, summary["links"])


async def _print_new_links(settings: Settings, store: JobsView, jobs: list[dict[str, Any]]) -> None:
    """After a run: the download links of the link: jobs it delivered (a few per job)."""
    if not jobs:
        return
    import asyncio  # lazy: start-up

    from ferryman.frontdoors.result_links import job_links, listening  # lazy: start-up

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
