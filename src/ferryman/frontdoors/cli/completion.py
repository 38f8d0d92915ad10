"""``ferryman completion bash|zsh|fish``: the shell's completion script, as Typer (on
Click) writes it; the shell then asks ``ferryman`` itself, with ``_FERRYMAN_COMPLETE``
set, for the words that fit (``cli.main`` registers Typer's shells for that)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ferryman.frontdoors.cli.output import said, wants_json

completion_app = typer.Typer()  # its command joins the root's (``cli``)


@completion_app.command()
def completion(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
) -> None:
    """Print the shell's completion script: `ferryman completion bash >>~/.bashrc`
    (zsh: `>~/.zfunc/_ferryman`; fish: `>~/.config/fish/completions/ferryman.fish`)."""
    from typer._completion_shared import get_completion_script  # lazy: start-up

    if shell not in ("bash", "zsh", "fish"):
        from ferryman.frontdoors.cli.usage_json import usage_exit  # lazy: an error only

        usage_exit(
            f"shell must be bash, zsh or fish, not {shell!r}",
            "Run `ferryman completion bash` (or zsh, fish).",
        )
    script = get_completion_script(
        prog_name="ferryman", complete_var="_FERRYMAN_COMPLETE", shell=shell
    )
    if wants_json(ctx):  # a script installing it reads the shell's script from here
        said(ctx, "", shell=shell, script=script.rstrip("\n") + "\n")
        return
    sys.stdout.write(script.rstrip("\n") + "\n")
