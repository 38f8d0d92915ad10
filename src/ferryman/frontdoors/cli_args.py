"""What the commands share of the command line: the global options (``State``, on
Typer's context) and a job named by its number."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferryman.frontdoors.terminal import console

if TYPE_CHECKING:
    from ferryman.config import Settings

# A job as the commands take it: text, so a mistyped one gets one line of ferryman's
# own (`job_number`), not the parser's boxed type error.
JobArg = Annotated[
    str, typer.Argument(metavar="JOB", help="The job's number (`ferryman status` lists them).")
]


def job_number(job: str) -> int:
    """``job`` as a number, or one line that says what a job is and exit 2."""
    if job.strip().isdecimal():
        return int(job)
    console(stderr=True).print(
        f"job must be a number (see `ferryman status`), not {job!r}", markup=False
    )
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
