"""How a command reaches the store: open it, run the work, close it; a coded error
becomes a clear exit (its row of ``exit_codes``). One place for every command module
(``cli``, ``cli.watch``…).
``run_light``: a command that must answer at once reads SQLite without SQLAlchemy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.cli.args import usable_data_dir
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store import Store
    from ferryman.store.startup.sqlite3_store import Sqlite3Store

T = TypeVar("T")


def run_with_store(
    ctx: typer.Context, work: Callable[[Settings, Store], Awaitable[T]], job: int | None = None
) -> T:
    """Open the store, run ``work``, close; a FerrymanError becomes a clear exit (its
    next step with ``job``'s number, when the command named one)."""

    async def go() -> T:
        from ferryman.store import Store  # lazy: start-up

        settings: Settings = ctx.obj.settings()
        store = await Store.open(settings.database)
        try:
            return await work(settings, store)
        finally:
            await store.close()

    try:
        import asyncio  # not for `--help`: it costs a noticeable share of start-up

        return asyncio.run(go())
    except FerrymanError as exc:
        fail(console(stderr=True), exc, job, as_json=ctx.obj.json)
        raise typer.Exit(for_error(exc.code)) from exc


def run_light(
    ctx: typer.Context,
    light: Callable[[Settings, Sqlite3Store], T],
    full: Callable[[Settings, Store], Awaitable[T]],
    *,
    writes: bool = False,
) -> T:
    """``light`` on the SQLite store through the standard library (a command that
    must answer at once); ``full`` through the store when that cannot serve: another
    database, or one at another schema version (the full store migrates it)."""
    from ferryman.store.startup.sqlite3_store import open_sqlite3  # lazy: start-up

    try:
        settings: Settings = ctx.obj.settings()
        if writes:
            usable_data_dir(settings)
        store = open_sqlite3(settings.database, create=writes)
        if store is not None:
            try:
                return light(settings, store)
            finally:
                store.close()
    except FerrymanError as exc:
        fail(console(stderr=True), exc, as_json=ctx.obj.json)
        raise typer.Exit(for_error(exc.code)) from exc
    return run_with_store(ctx, full)
