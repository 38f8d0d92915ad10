"""What the commands share of the command line: the global options (``State``, on
Typer's context) and a job named by its number."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail
from ferryman.model import MAX_ROW_ID

if TYPE_CHECKING:
    from ferryman.config import Settings

# A job as the commands take it: text, so a mistyped one gets one line of ferryman's
# own (`job_number`), not the parser's boxed type error.
JobArg = Annotated[
    str, typer.Argument(metavar="JOB", help="The job's number (`ferryman status` lists them).")
]


# The largest number a job or watch can have, and the bounds of --priority: the store's
# INTEGER columns (32 bits on PostgreSQL). Past it, the database refused with a traceback.
MAX_NUMBER = MAX_ROW_ID


def job_number(job: str) -> int:
    """``job`` as a number, or one line that says what a job is and exit 2; a number
    past ``MAX_NUMBER`` is no job (``job.not_found``, exit 1), never asked of the store."""
    if job.strip().isdecimal():
        number = int(job)
        if number > MAX_NUMBER:
            fail(console(stderr=True), FerrymanError("job.not_found", f"there is no job {number}"))
            raise typer.Exit(for_error("job.not_found"))
        return number
    from ferryman.frontdoors.cli.usage_json import usage_exit  # lazy: met on an error only

    usage_exit(
        f"job must be a number (see `ferryman status`), not {job!r}",
        "Name a job by its number: `ferryman status` lists them.",
    )


class State:
    """What the global options decided; passed down through Typer's context.

    ``-q``, ``-v``, ``--json`` and ``--no-color`` may also come after the command
    (``ferryman status -v``): a command's own parse records them in ``meta`` (the
    context tree's shared dict), which may happen after the root's callback made this
    State, so they are read from there when asked for, not copied."""

    def __init__(
        self, config: Path | None, data_dir: Path | None, meta: dict[str, Any] | None = None
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.meta: dict[str, Any] = meta if meta is not None else {}

    @property
    def verbose(self) -> int:
        return int(self.meta.get(VERBOSE, 0))

    @property
    def quiet(self) -> bool:
        return bool(self.meta.get(QUIET))

    @property
    def json(self) -> bool:
        return bool(self.meta.get(JSON))

    def overrides(self) -> dict[str, Any]:
        """The settings the global flags give (``--data-dir``)."""
        return {"data_dir": self.data_dir}

    def settings(self, **flags: Any) -> Settings:
        """The settings, with a command's own flags over the file and environment."""
        from ferryman.config import load_settings  # lazy: start-up

        return load_settings(self.config, {**self.overrides(), **flags})


def usable_data_dir(settings: Settings) -> Settings:
    """``settings`` once their data folder is made and writable, else
    ``store.data_dir_unusable`` with the reason (``--data-dir /proc/x``, a file): the commands
    that write there (``add``, ``run``, ``demo``) say so before anything else fails."""
    import os  # lazy: start-up

    from ferryman.errors import FerrymanError  # lazy: start-up

    folder = settings.data_dir
    if folder.exists() and not folder.is_dir():
        raise FerrymanError("store.data_dir_unusable", f"{folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise FerrymanError("store.data_dir_unusable", f"{folder} cannot be made: {why}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FerrymanError("store.data_dir_unusable", f"{folder} cannot be written")
    return settings


# Keys in the context's ``meta`` for the output options, wherever they were typed.
VERBOSE, QUIET, JSON = "ferryman.verbose", "ferryman.quiet", "ferryman.json"


def apply_output(meta: dict[str, Any]) -> None:
    """Log level and colour from the output options said so far (called again when a
    command's own parse finds more of them).

    Log records are the engine's words to whoever reads its log (a service's journal,
    a log file), not to a person at a terminal: there, without ``-v``, none is printed
    (what a person needs reaches them as a job's state, a report, an error with its code
    and next step) except a bug's traceback (an error logged with its exception), which
    they can report. ``-v`` prints warnings and what each step does, ``-vv`` everything."""
    import logging  # lazy: start-up
    import os  # lazy: start-up

    level = logging.WARNING
    if meta.get(QUIET):
        level = logging.ERROR
    elif meta.get(VERBOSE, 0) >= 2:
        level = logging.DEBUG
    elif meta.get(VERBOSE):
        level = logging.INFO
    root = logging.getLogger()
    if not root.handlers:  # human lines go to stderr: results alone on stdout
        from ferryman.printable import EscapingFormatter  # lazy: start-up

        handler = logging.StreamHandler()  # control characters escaped (printable)
        handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(lambda record: _asked_for(record, handler.stream))
        root.addHandler(handler)
    root.setLevel(level)
    if meta.get("ferryman.no_color"):
        os.environ["NO_COLOR"] = "1"  # the convention Rich and child programs read


def _asked_for(record: Any, stream: Any) -> bool:
    """The handler's filter: a record reaches a terminal under ``-v`` (the root's level
    below warnings) or as a bug's traceback; a log that is no terminal gets them all."""
    import logging  # lazy: start-up

    if logging.getLogger().level < logging.WARNING or record.exc_info is not None:
        return True
    return stream is None or not stream.isatty()
