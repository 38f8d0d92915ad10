"""`ferryman demo`: sample inputs made on the spot, run to the end, reports printed."""

from __future__ import annotations

import asyncio

from rich.console import Console

from ferryman.config import Settings
from ferryman.engine import intake, report
from ferryman.engine.lock import DataDirLock
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.progress import attach_renderer
from ferryman.samples import make_demo_inputs
from ferryman.store import Store


def run_demo(settings: Settings, console: Console) -> int:
    """Returns the exit code: 0 when every job ended as the demo expects."""
    with DataDirLock(settings.data_dir):
        return asyncio.run(_demo(settings, console))


async def _demo(settings: Settings, console: Console) -> int:
    inputs_dir = settings.data_dir / "demo-inputs"
    console.print(f"making sample inputs in {inputs_dir} …")
    inputs = await asyncio.to_thread(make_demo_inputs, inputs_dir)
    for line in inputs.description:
        console.print(f"  {line}")
    store = await Store.open(settings.database)
    try:
        job_ids = []
        for path in inputs.paths:
            try:
                job = await intake.add_path(store, path, force=True)
            except FerrymanError as exc:
                console.print(f"[red]{exc.code}[/red]: {exc.message}")
                continue
            job_ids.append(job.id)
        engine = Engine(store, settings)
        detach = attach_renderer(engine.bus, store, console.is_terminal)
        try:
            await engine.run(until_idle=True)
        finally:
            detach()
        intact = rescued = 0
        for job_id in job_ids:
            data = await report.report(store, job_id)
            if data["error"]:
                rescued += data["delivered"]  # entries before the damage still arrive
            else:
                intact += data["delivered"]
            _print(console, data)
        console.print(
            f"\n[bold]{intact} of {inputs.expected_media} sample media delivered[/bold]"
            f" (+{rescued} rescued from the broken archive) into {settings.library}"
        )
        return 0 if intact == inputs.expected_media else 1
    finally:
        await store.close()


def _print(console: Console, data: dict[str, object]) -> None:
    from ferryman.cli import print_report

    print_report(dict(data))
