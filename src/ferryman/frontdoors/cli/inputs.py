"""What ``add`` takes besides its arguments, and how results are shaped for a script.

Lists of inputs as yt-dlp and gallery-dl take them: ``-a FILE`` (``--batch-file``) and
``-`` for stdin, one input a line, blank lines and ``#`` comments skipped. ``--json``
prints each added job (or refused input) as one JSON object a line, so ``add --run
--json`` is one stream a script reads line by line with the run's events after it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ferryman.errors import FerrymanError, step_of, with_job
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail
from ferryman.net.rclone_path import shown_dest

if TYPE_CHECKING:
    from ferryman.frontdoors.cli.args import State
    from ferryman.model import Job


def listed(text: str) -> list[str]:
    """One input a line; blank lines and ``#`` comments skipped."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def inputs_of(paths: list[str], batch_file: Path | None) -> list[str]:
    """The arguments, with ``-`` and ``-a FILE`` replaced by the inputs they list."""
    found: list[str] = []
    stdin_read = False
    for path in paths:
        if path == "-":
            found += [] if stdin_read else listed(sys.stdin.read())
            stdin_read = True
        elif not path.strip():  # `add "$FILE"` with FILE unset: it read as the folder here
            refused = FerrymanError(
                "source.invalid", "an empty input names nothing (an unset shell variable?)"
            )
            fail(console(stderr=True), refused)
            raise typer.Exit(for_error(refused.code))
        else:
            found.append(path)
    if batch_file is not None:
        if str(batch_file) == "-":
            found += [] if stdin_read else listed(sys.stdin.read())
        else:
            try:
                found += listed(batch_file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                from ferryman.frontdoors.cli.usage_json import usage_exit  # lazy: an error

                usage_exit(
                    f"-a {batch_file}: cannot be read ({exc})",
                    "Check the list's path and that it is UTF-8 text, one input a line.",
                )
    return found


def added_json(path: str, job: Job | FerrymanError, shown: Callable[[str], str]) -> dict[str, Any]:
    """An input's result for ``add --json``: the job, or the error that refused it."""
    if isinstance(job, FerrymanError):
        step = with_job(job.next_step, None)
        return {"input": path, "job": None, "error": _error(job.code, job.message, step)}
    error = None
    if job.error_code:
        step = with_job(step_of(job.error_code, job.error_message), job.id)
        error = _error(job.error_code, job.error_message or "", step)
    return {
        "input": path,
        "job": {
            "id": job.id,
            "name": job.name,
            "source": shown(job.source),  # a link without its token
            "dest": shown_dest(job.dest),
            "state": job.state.value,
        },
        "error": error,
    }


def _error(code: str, message: str, step: str) -> dict[str, str]:
    return {"code": code, "message": message, "next": step}


def output_mode(state: State, tty: bool) -> str:
    """How a run shows its progress: ``json`` (one event a line on stdout), ``quiet``
    (nothing), ``bars`` (a terminal), else ``plain`` (one line an event, on stderr)."""
    if state.json:
        return "json"
    if state.quiet:
        return "quiet"
    return "bars" if tty else "plain"
