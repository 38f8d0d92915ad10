"""``ferryman preset add|list|remove``: named bundles of a link's choices (quality, audio
format, subtitles, destination) that ``add --preset NAME`` takes (``links/presets``).
The CLI's are the machine's own user's (``local``); built-in ones need no adding."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.args import State
from ferryman.frontdoors.cli.options import Output, with_groups
from ferryman.frontdoors.cli.output import said, wants_json
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail

if TYPE_CHECKING:
    from ferryman.links.profile import Profile

out = console()
err = console(stderr=True)

preset_app = typer.Typer(
    help="Presets for links: named bundles of quality, audio format, subtitles and"
    " destination (add --preset NAME)."
)


def _failed(exc: FerrymanError) -> typer.Exit:
    fail(err, exc)
    return typer.Exit(for_error(exc.code))


@preset_app.command("add")
@with_groups(output=Output)
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The preset's name: letters, digits, - and _.")],
    *,
    output: Output,
    subs: Annotated[
        str | None,
        typer.Option("--subs", metavar="LANGS", help="Links to media: subtitles, as en,de."),
    ] = None,
    nfo: Annotated[
        bool, typer.Option("--nfo", help="For a library: an .nfo and the poster beside it.")
    ] = False,
    to: Annotated[
        str | None, typer.Option("--to", metavar="DEST", help="Where its jobs go.")
    ] = None,
) -> None:
    """Keep a preset of your own (replacing one of that name); the options are add's."""
    from ferryman.links import presets  # lazy: start-up
    from ferryman.links.profile import from_choices  # lazy: start-up
    from ferryman.sinks.builtin import default_sinks  # lazy: start-up

    state: State = ctx.obj
    try:
        settings = state.settings()
        profile = from_choices(**dataclasses.asdict(output), subs=subs, nfo=nfo)
        dest = default_sinks().parse(to).text if to else None
        kept = presets.add(
            settings.data_dir,
            None,
            presets.Preset(name, profile.token() if profile else None, dest),
        )
    except FerrymanError as exc:
        raise _failed(exc) from None
    text = f"preset {kept.name}: {kept.describe()}"
    said(ctx, text, preset=kept.name, profile=kept.token, dest=kept.dest)


@preset_app.command("list")
def list_presets(ctx: typer.Context) -> None:
    """The presets you can name: yours, then the built-in ones (--json: a list of them)."""
    from ferryman.links import presets  # lazy: start-up

    state: State = ctx.obj
    try:
        found = presets.every(state.settings().data_dir, None)
    except FerrymanError as exc:
        raise _failed(exc) from None
    if wants_json(ctx):
        rows = [
            {"name": p.name, "profile": p.token, "dest": p.dest, "builtin": p.builtin}
            for p in found
        ]
        out.print_json(json.dumps(rows))
        return
    for preset in found:
        where = "built in" if preset.builtin else "yours"
        out.print(f"{preset.name}: {preset.describe()} ({where})", markup=False)


@preset_app.command("remove")
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="One of your presets.")],
) -> None:
    """Forget a preset of your own (the built-in ones stay)."""
    from ferryman.links import presets  # lazy: start-up

    state: State = ctx.obj
    try:
        presets.remove(state.settings().data_dir, None, name)
    except FerrymanError as exc:
        raise _failed(exc) from None
    said(ctx, f"preset {name} removed", preset=name, removed=True)


def with_preset(
    ctx: typer.Context, state: State, name: str, profile: Profile | None, dest: str
) -> tuple[Profile | None, str]:
    """``add --preset NAME``: the preset's profile where no output option was given, its
    destination where ``--to`` was not (``preset.unknown`` if there is no such preset);
    the preset's subtitles and playlist join the ones given."""
    from ferryman.links import presets  # lazy: start-up
    from ferryman.links.profile import parse_token  # lazy: start-up

    found = presets.find(state.settings().data_dir, None, name)
    if profile is None and found.token is not None:
        profile = parse_token(found.token)
    given = ctx.get_parameter_source("to")  # Typer's own Click: its enum, by name
    if found.dest and (given is None or given.name not in ("COMMANDLINE", "ENVIRONMENT")):
        dest = found.dest
    return profile, dest
