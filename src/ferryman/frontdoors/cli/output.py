"""The output options (``-q``, ``-v``/``-vv``, ``--json``, ``--no-color``) after the
command as well as before it: ``ferryman status -v`` as people type it (git, rclone).

The root declares them; a command that does not declare one of its own has it taken
out of its arguments before they are parsed, recorded in the context's ``meta``
(``cli.args.State`` reads it from there) and applied (log level, colour). A command
with a ``--json`` of its own keeps it. Nothing after ``--`` is looked at.
"""

from __future__ import annotations

import re
from typing import Any

from ferryman.frontdoors.cli.args import JSON, QUIET, VERBOSE, apply_output

NO_COLOR = "ferryman.no_color"
_FLAGS = {"-q": QUIET, "--quiet": QUIET, "--json": JSON, "--no-color": NO_COLOR}
_VERBOSE = re.compile(r"-(v+)|--verbose")


def take_output_options(command: Any, ctx: Any, args: list[str]) -> list[str]:
    """``args`` without the output options ``command`` does not declare itself."""
    declared = {opt for param in command.params for opt in param.opts}
    kept: list[str] = []
    for at, arg in enumerate(args):
        if arg == "--":
            kept += args[at:]
            break
        said = _said(arg)
        if said is None or arg in declared:
            kept.append(arg)
            continue
        key, value = said
        ctx.meta[key] = max(value, int(ctx.meta.get(key, 0)))
    apply_output(ctx.meta)
    return kept


def _said(arg: str) -> tuple[str, int] | None:
    if arg in _FLAGS:
        return _FLAGS[arg], 1
    verbose = _VERBOSE.fullmatch(arg)
    if verbose:
        return VERBOSE, len(verbose.group(1) or "v")
    return None


def said(ctx: Any, text: str, /, **data: Any) -> None:
    """A command's result: ``text`` for a person, or under ``--json`` (before or after
    the command) ``data`` as one JSON object a line on stdout, so that every command
    answers a script in the same words."""
    import json  # lazy: start-up

    from ferryman.frontdoors.terminal import console  # lazy: start-up

    if bool(ctx.meta.get(JSON)):
        console().print(json.dumps(data, default=str), markup=False, highlight=False)
    else:
        console().print(text, markup=False, highlight=False)


def wants_json(ctx: Any) -> bool:
    """Whether ``--json`` was given, before or after the command."""
    return bool(ctx.meta.get(JSON))
