"""`ferryman demo`: sample inputs made on the spot, run to the end, reports printed."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ferryman.config import Settings, default_data_dir, load_settings
from ferryman.engine.ops import intake, report
from ferryman.errors import FerrymanError
from ferryman.frontdoors.progress import attach_renderer
from ferryman.frontdoors.startup import running
from ferryman.frontdoors.terminal import print_report
from ferryman.model import Job
from ferryman.samples import make_demo_inputs
from ferryman.sources.builtin import default_sources
from ferryman.store.ports import JobsView


def run_demo(settings: Settings, console: Console, machine: Console | None = None) -> int:
    """Returns the exit code: 0 when every job ended as the demo expects. ``machine``
    (``--json``): the jobs' reports and the count as one JSON object there, the words
    on ``console`` (stderr then)."""
    inputs_dir = (settings.data_dir / "demo-inputs").absolute()
    return asyncio.run(_demo(settings, console, inputs_dir, machine))


async def _demo(
    settings: Settings, console: Console, inputs_dir: Path, machine: Console | None = None
) -> int:
    async with running(settings, command="demo") as started:
        store, engine = started.store, started.engine
        earlier = await _earlier_demo_jobs(store, inputs_dir)
        if earlier:
            _already_ran(console, settings, earlier)
            return 0
        console.print(f"making sample inputs in {inputs_dir} …", markup=False)
        inputs = await asyncio.to_thread(make_demo_inputs, inputs_dir)
        for line in inputs.description:
            console.print(f"  {line}", markup=False)
        job_ids = []
        for path in inputs.paths:
            try:
                # Made to play anywhere (a library keeps originals unless asked): the
                # samples that need a remux or a transcode show one.
                job = await intake.add_source(store, path, dest="library:?convert=yes", force=True)
            except FerrymanError as exc:
                console.print(f"{exc.code}: {exc.message}", style="red", markup=False)
                continue
            job_ids.append(job.id)
        renderer = attach_renderer(engine.bus, store, "bars" if console.is_terminal else "plain")
        try:
            await engine.run(until_idle=True)
        finally:
            await renderer.close()
        intact = rescued = 0
        expected = inputs.expected_files(settings.library_media_only)
        reports = []
        for job_id in job_ids:
            data = await report.report(store, job_id)
            if data["error"]:
                rescued += data["delivered"]  # entries before the damage still arrive
            else:
                intact += data["delivered"]
            print_report(console, data)
            reports.append(data)
        if machine is not None:
            counted = {"delivered": intact, "expected": expected, "rescued": rescued}
            shown = {"jobs": reports, **counted, "library": str(settings.library)}
            machine.print(json.dumps(shown, default=str), markup=False, highlight=False)
        console.print(
            Text.assemble(
                "\n",
                (f"{intact} of {expected} sample files delivered", "bold"),
                f" (+{rescued} rescued from the broken archive) into {settings.library}",
            )
        )
        _print_next_steps(console, settings, job_ids)
        return 0 if intact == expected else 1


async def _earlier_demo_jobs(store: JobsView, inputs_dir: Path) -> list[Job]:
    """Jobs an earlier demo added in this data dir: their inputs are in ``inputs_dir``.

    The inputs are made afresh each time (new files, so dedupe would not see them), so
    a second demo would deliver everything again as ``holiday (2)``; it says where the
    first one's albums are instead.
    """
    sources = default_sources()
    found = []
    for job in await store.list_jobs():
        where = Path(sources.describe(job.source))
        if where.parent == inputs_dir:
            found.append(job)
    return found


def _already_ran(console: Console, settings: Settings, jobs: list[Job]) -> None:
    ids = ", ".join(str(job.id) for job in jobs)
    console.print(
        f"the demo already ran in {settings.data_dir} (job{'s' if len(jobs) > 1 else ''} {ids});"
        f" its albums are in {settings.library}; to run it afresh, delete that data dir"
        " or give another: --data-dir DIR, or FERRYMAN_DATA_DIR=DIR (as `make demo`"
        " takes it: `FERRYMAN_DATA_DIR=DIR make demo`)",
        markup=False,
        highlight=False,
    )
    _print_next_steps(console, settings, [job.id for job in jobs])


def ferryman_command(argv0: str, cwd: Path) -> str:
    """How to call this ferryman from a new shell in ``cwd``: ``ferryman`` when that
    name on PATH is this program, else its path (``.venv/bin/ferryman`` after
    ``make demo``), else ``python -m ferryman`` with this interpreter."""
    program = Path(argv0)
    if program.name != "ferryman" or not program.exists():
        return f"{_shown_path(Path(sys.executable), cwd)} -m ferryman"
    on_path = shutil.which("ferryman")
    if on_path and os.path.samefile(on_path, program):
        return "ferryman"
    return _shown_path(program, cwd)


def next_steps(settings: Settings, job_ids: list[int], *, argv0: str, cwd: Path) -> list[str]:
    """The commands to type next, each true as printed in a new shell in ``cwd``: the
    data dir named unless it is the default one, the program by a path that works."""
    command = ferryman_command(argv0, cwd)
    plain = _plain_settings()
    here = command
    if settings.data_dir.absolute() != plain.data_dir.absolute():
        here += f" --data-dir {_shown_path(settings.data_dir, cwd)}"
    first = job_ids[0] if job_ids else 1
    others = f" (jobs {first} to {job_ids[-1]})" if len(job_ids) > 1 else ""
    steps = [
        f"{here} status  # the demo's jobs",
        f"{here} report {first}  # one job's story{others}",
    ]
    if command != "ferryman":
        activate = Path(argv0).parent / "activate"
        if activate.exists():
            steps.append(f". {_shown_path(activate, cwd)}  # then `ferryman` alone works")
    steps.append(
        f"{command} add --run PATH  # your own first job: a file, folder, archive or link,"
        f" into {plain.library}"
    )
    return steps


def _plain_settings() -> Settings:
    """What a plain ``ferryman`` in a new shell reads: the config file and the environment
    (``FERRYMAN_DATA_DIR`` in a container, say), without this run's flags; the defaults
    when that is unreadable (this run would have said why)."""
    try:
        return load_settings()
    except FerrymanError:
        return Settings.model_validate({"data_dir": default_data_dir()})


def _shown_path(path: Path, cwd: Path) -> str:
    """``path`` relative to ``cwd`` when inside it (shorter, still right), quoted."""
    absolute = path.absolute()
    try:
        shown = str(absolute.relative_to(cwd.absolute()))
        if "/" not in shown:
            shown = f"./{shown}"
    except ValueError:
        shown = str(absolute)
    return shlex.quote(shown)


def _print_next_steps(console: Console, settings: Settings, job_ids: list[int]) -> None:
    console.print("next, from this folder in any shell:", markup=False, highlight=False)
    steps = [
        step.partition("  # ")
        for step in next_steps(settings, job_ids, argv0=sys.argv[0], cwd=Path.cwd())
    ]
    width = max(len(command) for command, _, _ in steps)
    for command, _, why in steps:
        console.print(
            f"  {command.ljust(width)}  # {why}", markup=False, highlight=False, soft_wrap=True
        )
