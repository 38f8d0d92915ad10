"""The command line's root: its options, and where its commands come from.

The commands live by concern in this package and are built when asked for
(``cli.lazy``: ``ferryman status`` loads the module of ``status`` and no other):
``work`` (add, run, demo), ``status``, ``job`` (one job's report, links and controls),
``nodes`` (workers, drain), ``doctor``, ``config`` (config, quarantine), ``watch``,
``telegram``, ``web``, ``service``…"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Annotated

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.args import JSON, QUIET, VERBOSE, State, apply_output
from ferryman.frontdoors.cli.lazy import LazyGroup
from ferryman.frontdoors.cli.output import NO_COLOR
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.quiet_start import quiet
from ferryman.frontdoors.terminal import console, fail

app = typer.Typer(
    help="ferryman: archives, media files and links in; playable media out.",
    no_args_is_help=True,
    add_completion=False,
    # Help and usage lines as cli.help writes them, for every command; the commands
    # built when asked for (cli.lazy).
    cls=LazyGroup,
    rich_markup_mode=None,  # usage errors as plain lines, not boxes
    context_settings={"help_option_names": ["-h", "--help"]},
)

out = console()
err = console(stderr=True)


def _print_version(wanted: bool) -> None:
    """``ferryman --version``: what a bug report names (nothing else is loaded)."""
    if wanted:
        from ferryman import __version__  # lazy: start-up

        out.print(f"ferryman {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Settings file to read (else $FERRYMAN_CONFIG, else"
            " ~/.config/ferryman/config.toml; `ferryman config path` says which).",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Database, work area, library, quarantine (else $FERRYMAN_DATA_DIR or XDG).",
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log more (-vv: everything).")
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print results and errors only.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Results as JSON (one object a line for add, run).")
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (as NO_COLOR=1).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version."
        ),
    ] = False,
) -> None:
    said = {VERBOSE: verbose, QUIET: quiet, JSON: as_json, NO_COLOR: no_color}
    for key, value in said.items():  # a command's own parse may have said more already
        ctx.meta[key] = max(int(value), int(ctx.meta.get(key, 0)))
    apply_output(ctx.meta)
    ctx.obj = State(config, data_dir.resolve() if data_dir else None, ctx.meta)


def main() -> None:
    quiet()  # no collector walks through start-up's imports (frontdoors/quiet_start.py)
    if "_FERRYMAN_COMPLETE" in os.environ:  # a shell asks for completions (`completion`)
        from typer._completion_classes import completion_init  # lazy: start-up

        completion_init()  # Typer registers its shells only when asked to
    try:
        app(complete_var="_FERRYMAN_COMPLETE")  # also under `python -m ferryman`
    except FerrymanError as exc:  # one a command let through: still its code, not a traceback
        fail(err, exc)
        raise SystemExit(for_error(exc.code)) from None
    finally:
        # The process ends here: its last act would be a full collection of a heap that
        # is about to go anyway (0.15 s of every command after the engine ran).
        gc.freeze()
