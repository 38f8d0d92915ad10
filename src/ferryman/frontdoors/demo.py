"""`ferryman demo`: sample inputs made on the spot, run to the end, reports printed."""

from __future__ import annotations

import asyncio

from rich.console import Console

from ferryman.config import Settings
from ferryman.engine import intake, report
from ferryman.errors import FerrymanError
from ferryman.frontdoors.progress import attach_renderer
from ferryman.frontdoors.startup import running
from ferryman.frontdoors.terminal import print_report
from ferryman.samples import make_demo_inputs


def run_demo(settings: Settings, console: Console) -> int:
    """Returns the exit code: 0 when every job ended as the demo expects."""
    return asyncio.run(_demo(settings, console))


async def _demo(settings: Settings, console: Console) -> int:
    inputs_dir = settings.data_dir / "demo-inputs"
    console.print(f"making sample inputs in {inputs_dir} …")
    inputs = await asyncio.to_thread(make_demo_inputs, inputs_dir)
    for line in inputs.description:
        console.print(f"  {line}")
    async with running(settings) as started:
        store, engine = started.store, started.engine
        job_ids = []
        for path in inputs.paths:
            try:
                job = await intake.add_source(store, path, force=True)
            except FerrymanError as exc:
                console.print(f"{exc.code}: {exc.message}", style="red", markup=False)
                continue
            job_ids.append(job.id)
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


def _print(console: Console, data: dict[str, object]) -> None:
    print_report(console, dict(data))
