"""``ferryman config show|set`` (the effective settings; a runtime one changed) and
``ferryman quarantine list``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ferryman.frontdoors.cli_store import run_light, run_with_store
from ferryman.frontdoors.terminal import console

# The store, the engine and settings load in the commands that use them (`--help`).
if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store import Store


out = console()


config_app = typer.Typer(help="Show or change settings.", no_args_is_help=True)
quarantine_app = typer.Typer(help="What could not be delivered, kept with a reason.")


@quarantine_app.command("list")
def quarantine_list(ctx: typer.Context) -> None:
    """Every quarantined file with its reason code."""
    from ferryman.engine.quarantine import list_quarantine

    settings = ctx.obj.settings()
    found = list_quarantine(settings.quarantine_dir)
    if not found:
        out.print("quarantine is empty")
    for path, code in found:
        out.print(f"{code}\t{path}", markup=False, highlight=False)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """The effective settings (file, environment, flags, runtime), secrets masked."""

    from ferryman.config import mask_secrets, with_runtime

    def shown(settings: Settings, runtime: dict[str, Any]) -> dict[str, Any]:
        return mask_secrets(with_runtime(settings, runtime)) | {"runtime_overrides": runtime}

    async def full(settings: Settings, store: Store) -> dict[str, Any]:
        return shown(settings, await store.runtime_settings())

    data = run_light(ctx, lambda settings, store: shown(settings, store.runtime_settings()), full)
    out.print_json(json.dumps(data))


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: Annotated[
        str,
        typer.Argument(
            help="A runtime setting, e.g. space_floor (a wrong one is refused with the list)."
        ),
    ],
    value: Annotated[str, typer.Argument(help="Its new value, e.g. 2GB or true.")],
) -> None:
    """Change a runtime setting; a running engine applies it within a second."""
    from ferryman.engine import runtime_config

    run_with_store(
        ctx, lambda settings, store: runtime_config.set_runtime(store, settings, key, value)
    )
    out.print(f"{key} = {value}", markup=False)
