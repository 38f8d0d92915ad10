"""A usage error (an unknown option or command, a bad or missing argument) under
``--json``: one line on stderr, ``{"error": {"code": "cli.usage", "message", "next"}}``,
as every other error is for a script, not Click's three lines of text. The exit code
stays 2. Without ``--json`` nothing changes: Click's own lines, as ``cli.help`` words them.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any, NoReturn

import typer

try:  # the Click Typer runs on: its own copy in recent Typers, else Click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - an older Typer
    from click.exceptions import UsageError  # type: ignore[assignment,unused-ignore]

from ferryman.frontdoors.exit_codes import ExitCode
from ferryman.frontdoors.terminal import console, json_asked

CODE = "cli.usage"


class JsonUsageError(UsageError):
    """The same error, shown as the one JSON line a script reads."""

    def __init__(self, message: str, ctx: Any, exit_code: int) -> None:
        super().__init__(message, ctx)
        self.exit_code = exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        path = self.ctx.command_path if self.ctx is not None else "ferryman"
        said = {
            "code": CODE,
            "message": self.format_message(),
            "next": f"Run `{path} -h` to see what it takes.",
        }
        print(json.dumps({"error": said}), file=file or sys.stderr, flush=True)


def json_words(args: list[str]) -> bool:
    """``--json`` among ``args``, before any ``--`` (after it, it is an input's name)."""
    words = args[: args.index("--")] if "--" in args else args
    return "--json" in words


def for_json(exc: Exception, args: list[str]) -> Exception:
    """``exc`` as a script under ``--json`` reads it (``args``: the command line, where the
    parse that failed has not said yet whether ``--json`` was given); other errors as
    they are. A group given no command, whose error is its help page, says so in words."""
    if not isinstance(exc, UsageError) or isinstance(exc, JsonUsageError):
        return exc
    ctx = exc.ctx
    if not (json_asked(ctx) or json_words(args)):
        return exc
    message = exc.format_message()
    if type(exc).__name__ == "NoArgsIsHelpError":  # its message: the whole help page
        group = ctx is not None and hasattr(ctx.command, "commands")
        message = "Missing command." if group else "Missing argument."
    return JsonUsageError(message, ctx, exc.exit_code)


def usage_exit(message: str, next_step: str) -> NoReturn:
    """A command's own usage error (a value its parse took but it cannot use): the line
    a person reads, or under ``--json`` the error a script reads; then exit 2."""
    if json_asked():
        said = {"code": CODE, "message": message, "next": next_step}
        print(json.dumps({"error": said}), file=sys.stderr, flush=True)
    else:
        console(stderr=True).print(message, markup=False, highlight=False)
    raise typer.Exit(ExitCode.USAGE)
