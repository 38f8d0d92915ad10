"""``ferryman update``: yt-dlp and its solver updated in ferryman's own environment, tried on
a smoke set before they are kept, rolled back when the trial fails (``links/update``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.args import State
from ferryman.frontdoors.cli.output import said, wants_json
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail

err = console(stderr=True)

update_app = typer.Typer()  # its command joins the root's (``cli``)


@update_app.command()
def update(
    ctx: typer.Context,
    check: Annotated[
        bool, typer.Option("--check", help="Only say whether a newer yt-dlp is there.")
    ] = False,
    index_url: Annotated[
        str | None,
        typer.Option("--index-url", metavar="URL", help="The package index (pip's own if not)."),
    ] = None,
    find_links: Annotated[
        list[str] | None,
        typer.Option("--find-links", metavar="PLACE", help="A folder or page of wheels."),
    ] = None,
    no_index: Annotated[
        bool, typer.Option("--no-index", help="Only the --find-links places, no index.")
    ] = False,
) -> None:
    """Update yt-dlp and its YouTube solver (yt-dlp-ejs) in ferryman's own environment: the
    new version is tried on local links first and kept only if it passes, else the one
    before is put back (exit 1). pip's own settings (pip.conf, PIP_INDEX_URL) apply."""
    from ferryman.links.update import Pip  # lazy: start-up
    from ferryman.links.update import update as updating  # lazy: start-up

    state: State = ctx.obj
    pip = Pip(sys.executable, sys.executable, index_url, tuple(find_links or ()), no_index)
    quiet = wants_json(ctx) or state.quiet

    def step(text: str) -> None:
        if not quiet:
            err.print(text, markup=False, highlight=False)

    try:
        done = updating(state.settings().data_dir, pip, check=check, said=step)
    except FerrymanError as exc:
        fail(err, exc)
        raise typer.Exit(for_error(exc.code)) from exc
    old = done.before.get("yt-dlp") or "(none)"
    new = done.after.get("yt-dlp") or "(none)"
    if done.outcome == "current":
        text = f"yt-dlp {old} is the newest the index has"
    elif done.outcome == "available":
        text = f"yt-dlp {new} is there (this is {old}): `ferryman update` installs it"
    elif done.outcome == "updated":
        moved = ", ".join(
            f"{name} {done.before.get(name) or '(none)'} -> {version}"
            for name, version in done.after.items()
            if version != done.before.get(name)
        )
        text = f"{moved}: tried and kept (the next link uses it)"
    else:
        text = f"the new yt-dlp failed its trial; {new} is back in place"
    said(ctx, text, **done.as_json())
    if done.outcome == "rolled_back":
        back = FerrymanError("update.rolled_back", f"the new yt-dlp failed: {done.trial}")
        fail(err, back)
        raise typer.Exit(for_error(back.code))
