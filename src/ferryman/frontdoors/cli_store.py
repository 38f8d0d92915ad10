"""How a command reaches the full store: open it, run the work, close it; a coded error
becomes a clear exit 2. One place for every command module (``cli``, ``cli_watch``…)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors.terminal import console, fail

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store import Store

T = TypeVar("T")


def run_with_store(
    ctx: typer.Context, work: Callable[[Settings, Store], Awaitable[T]], job: int | None = None
) -> T:
    """Open the store, run ``work``, close; a FerrymanError becomes a clear exit 2 (its
    next step with ``job``'s number, when the command named one)."""

    async def go() -> T:
        from ferryman.store import Store

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
        fail(console(stderr=True), exc, job)
        raise typer.Exit(2) from exc
