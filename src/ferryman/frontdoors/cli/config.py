"""``ferryman config path|init|edit|show|set|unset`` (the settings file where people look
for it, changed in place; the effective settings with their origins) and
``ferryman quarantine list``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.output import said
from ferryman.frontdoors.cli.store import run_light, run_with_store
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail

# The store, the engine and settings load in the commands that use them (`--help`).
if TYPE_CHECKING:
    from pathlib import Path

    from ferryman.config import ConfigFile, Settings
    from ferryman.store.ports import RuntimeSettings

T = TypeVar("T")
out = console()
err = console(stderr=True)


config_app = typer.Typer(help="Show or change settings.", no_args_is_help=True)
quarantine_app = typer.Typer(help="What could not be delivered, kept with a reason.")


@quarantine_app.command("list")
def quarantine_list(ctx: typer.Context) -> None:
    """Every quarantined file with its reason code."""
    from ferryman.engine.plumbing.quarantine import list_quarantine  # lazy: start-up

    settings = ctx.obj.settings()
    found = list_quarantine(settings.quarantine_dir)
    if ctx.obj.json:  # `--json` before or after the command, as every list takes it
        kept = [{"code": code, "path": str(path)} for path, code in found]
        out.print_json(json.dumps({"quarantine": kept}))
        return
    if not found:
        out.print("quarantine is empty")
    for path, code in found:
        out.print(f"{code}\t{path}", markup=False, highlight=False)


def _file(ctx: typer.Context) -> ConfigFile:
    from ferryman.config import config_file  # lazy: start-up

    return config_file(ctx.obj.config)


@config_app.command("path")
def config_path(ctx: typer.Context) -> None:
    """The settings file read (--config, else $FERRYMAN_CONFIG, else the default place)."""
    found = _file(ctx)
    if ctx.obj.json:
        exists = found.path.is_file()
        said = {"path": str(found.path), "chosen_by": found.chosen_by, "exists": exists}
        out.print(json.dumps(said), markup=False, highlight=False)
        return
    out.print(str(found.path), markup=False, highlight=False)
    there = "read" if found.read else "not there yet: `ferryman config init` makes it"
    if found.read and not found.path.is_file():  # named, and missing: every command refuses it
        there = "not there: commands refuse it until `ferryman config init` makes it"
    why = {"default": "the default place"}.get(found.chosen_by, found.chosen_by)
    err.print(f"({why}; {there})", markup=False, highlight=False)


@config_app.command("init")
def config_init(ctx: typer.Context) -> None:
    """Make a commented settings file where it is read (never over one that is there)."""
    from ferryman.config.edit import init  # lazy: start-up

    found = _file(ctx)
    _coded(lambda: init(found.path))
    said(ctx, f"made {found.path}", path=str(found.path), made=True)


@config_app.command("edit")
def config_edit(ctx: typer.Context) -> None:
    """Open the settings file in $VISUAL or $EDITOR (made first when missing), then check it."""
    from ferryman.config.edit import init  # lazy: start-up

    found = _file(ctx)
    if not found.path.exists():
        _coded(lambda: init(found.path))
    _coded(lambda: _edit(found.path))
    _coded(ctx.obj.settings)
    said(ctx, f"{found.path}: valid", path=str(found.path), valid=True)


def _edit(path: Path) -> None:
    """The editor on ``path``; one that is missing or fails is a coded error (Click's own
    exception is not the one Typer's vendored Click catches: it was a traceback)."""
    import click  # lazy: start-up

    try:
        click.edit(filename=str(path))
    except click.ClickException as exc:
        raise FerrymanError(
            "config.editor_failed", f"{exc.format_message()}; {path} is as the editor left it"
        ) from exc


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """The effective settings, secrets masked: the file read, and where each value came
    from (default, file, environment, flag, runtime)."""

    from ferryman.config import load_layers, origins, settings_of, with_runtime  # lazy: start-up
    from ferryman.config.shown import mask_secrets  # lazy: start-up

    state = ctx.obj
    layers = _coded(lambda: load_layers(state.config, state.overrides()))

    def shown(settings: Settings, runtime: dict[str, Any]) -> dict[str, Any]:
        data = mask_secrets(with_runtime(settings_of(layers), runtime))
        files = [str(layers.file.path)] if layers.file.read else []
        return data | {
            "runtime_overrides": runtime,
            "files_read": files,
            "origins": origins(layers, runtime),
        }

    async def full(settings: Settings, store: RuntimeSettings) -> dict[str, Any]:
        return shown(settings, await store.runtime_settings())

    data = run_light(ctx, lambda settings, store: shown(settings, store.runtime_settings()), full)
    if state.json:
        out.print_json(json.dumps(data))
        return
    _print_settings(data)


def _print_settings(data: dict[str, Any]) -> None:
    """``key = value  # origin``, one a line, in TOML's words: a person reads it as the
    file they would write."""
    from ferryman.config import flat_keys  # here: settings' pydantic stays off `--help`

    files = data["files_read"] or ["none (defaults, environment and flags only)"]
    out.print(f"# files read: {', '.join(files)}", markup=False, highlight=False)
    values = flat_keys({k: v for k, v in data.items() if k not in _NOT_SETTINGS})
    for key, value in values.items():
        origin = data["origins"].get(key, "default")
        line = f"{key} = {json.dumps(value, ensure_ascii=False)}  # {origin}"
        if value is None:  # TOML has no null: a line pasted into the file would break it
            line = f"# {key} is not set  # {origin}"
        out.print(line, markup=False, highlight=False)


_NOT_SETTINGS = frozenset({"runtime_overrides", "files_read", "origins", "effective"})


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: Annotated[
        str,
        typer.Argument(
            help="A setting, e.g. space_floor or network.wifi_only (a wrong one is refused"
            " with the nearest)."
        ),
    ],
    value: Annotated[
        str,
        typer.Argument(
            help="Its new value, e.g. 2GB or true; a list setting: one value or a JSON array."
        ),
    ],
) -> None:
    """Write a setting into the settings file, keeping the rest of it; a runtime one
    (space_floor, album_size…) also reaches a running engine within a second."""
    from ferryman.config import RUNTIME_KEYS  # lazy: start-up
    from ferryman.config.edit import set_key  # lazy: start-up

    found = _file(ctx)
    written = _coded(lambda: set_key(found.path, key, value))
    shown = json.dumps(written, ensure_ascii=False) if isinstance(written, list) else value
    said(
        ctx,
        f"{key} = {_shown(key, shown)}  ({found.path})",
        key=key,
        value=_shown(key, shown),
        path=str(found.path),
    )
    if key in RUNTIME_KEYS and _has_store(ctx):
        from ferryman.engine.ops import runtime_config  # lazy: start-up

        run_with_store(
            ctx, lambda settings, store: runtime_config.set_runtime(store, settings, key, value)
        )
    elif (
        key not in RUNTIME_KEYS and not ctx.obj.json
    ):  # read at start (web.tokens, a port…): a running one keeps its own
        err.print(
            f"{key} is read when ferryman starts: a ferryman running now (`ferryman run`,"
            " `web`, `telegram serve`, a service) takes it once restarted",
            markup=False,
            highlight=False,
        )


@config_app.command("unset")
def config_unset(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="A setting the file holds, e.g. space_floor.")],
) -> None:
    """Remove a setting from the settings file (its default, or the environment's, applies)."""
    from ferryman.config import RUNTIME_KEYS  # lazy: start-up
    from ferryman.config.edit import unset_key  # lazy: start-up

    found = _file(ctx)
    removed = _coded(lambda: unset_key(found.path, key))
    word = "removed from" if removed else "was not in"
    said(ctx, f"{key} {word} {found.path}", key=key, removed=removed, path=str(found.path))
    if key in RUNTIME_KEYS and _has_store(ctx):
        run_with_store(ctx, lambda _s, store: store.clear_runtime_setting(key))


def _has_store(ctx: typer.Context) -> bool:
    """Whether a store may hold a runtime override (an engine may be running on it): a
    server database, or a SQLite file that is there. None is made just for a setting."""
    settings = _coded(ctx.obj.settings)
    return (
        not settings.database.startswith("sqlite") or (settings.data_dir / "ferryman.db").exists()
    )


def _shown(key: str, value: str) -> str:
    """The value as the terminal may show it: a secret (a token, a password) as ***."""
    from ferryman.config.shown import SECRET_KEYS, SECRET_LISTS, SECRET_NESTED  # lazy: start-up

    secret = {".".join(path) for path in SECRET_NESTED} | SECRET_KEYS | SECRET_LISTS
    if key in secret | {"notify.urls"} or key.endswith(".password"):
        return "***"
    return value


def _coded(work: Callable[[], T]) -> T:
    """``work()``, a coded error ending the command with its row of the exit table."""
    try:
        return work()
    except FerrymanError as exc:
        fail(err, exc)
        raise typer.Exit(for_error(exc.code)) from exc
