"""``ferryman workers|drain``: the engines that ran against this store, and a node let
finish what it holds."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ferryman.frontdoors.cli.output import said
from ferryman.frontdoors.cli.store import run_with_store
from ferryman.frontdoors.terminal import console, show

# The store, the engine and settings load in the commands that use them (`--help`).
if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.store.ports import Nodes


out = console()


nodes_app = typer.Typer()  # its commands join the root's (``cli``)


@nodes_app.command()
def workers(
    ctx: typer.Context,
    every: Annotated[
        bool, typer.Option("--all", help="Every stopped run too, not only each node's last.")
    ] = False,
) -> None:
    """The engines that ran against this store: node, stages, last heartbeat, work held.

    A stopped run is listed while it is its node's last (each `run --until-idle` leaves
    one); --all lists them all, as --json does."""
    from ferryman.engine.ops import nodes  # lazy: start-up

    async def listed(settings: Settings, store: Nodes) -> tuple[list[dict[str, Any]], str]:
        where = settings.database_url or str(settings.data_dir / "ferryman.db")
        return await nodes.workers(store, settings.lease_seconds), where

    runs, database = run_with_store(ctx, listed)
    if ctx.obj.json:
        out.print_json(json.dumps(runs))
        return
    if not runs:
        from sqlalchemy.engine import make_url  # lazy: start-up

        shown = (
            make_url(database).render_as_string(hide_password=True)
            if "://" in database
            else database
        )
        out.print(
            f"no worker has run against the store {shown} yet (start one: ferryman run;"
            " another store: --config, or database_url)",
            markup=False,
            highlight=False,
            soft_wrap=True,  # a path stays whole, to be copied
        )
        return

    kept, older = (runs, 0) if every else nodes.last_stopped(runs)
    table = Table("node", "pid", "state", "stages", "heartbeat", "holds")
    for run in kept:
        age = run["heartbeat_age"]
        state = run["state"]
        if run["draining"] and state in ("stopped", "silent"):
            state += " (drained)"  # its next start takes nothing: seen before it starts
        table.add_row(
            run["node"],
            str(run["pid"]),
            state,
            ",".join(run["stages"]),
            f"{age:.0f} s ago",
            str(run["held"]),
        )
    show(out, table)
    if older:
        runs_word = "run" if older == 1 else "runs"
        out.print(f"{older} older stopped {runs_word} not shown (--all lists them)", markup=False)


@nodes_app.command()
def drain(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="A node as `ferryman workers` names it.")],
    undo: Annotated[bool, typer.Option("--undo", help="Let the node take work again.")] = False,
) -> None:
    """Let a node finish what it holds and take nothing new (stays so across restarts)."""
    from ferryman.engine.ops import nodes  # lazy: start-up

    async def act(settings: Settings, store: Nodes) -> bool:
        await nodes.drain(store, node, not undo)
        runs = await nodes.workers(store, settings.lease_seconds)
        return any(r["node"] == node and r["state"] not in ("stopped", "silent") for r in runs)

    running = run_with_store(ctx, act)
    if ctx.obj.json:
        said(ctx, "", node=node, draining=not undo, running=running)
    elif undo:
        out.print(f"{node} takes work again")
    elif running:
        out.print(
            f"{node} is draining: a running node hears of it at once (one cut off, at its"
            " next heartbeat), finishes what it holds and takes nothing new;"
            " see `ferryman workers`"
        )
    else:
        out.print(
            f"{node} is drained: it is not running now, and when it starts it takes"
            f" nothing until `ferryman drain {node} --undo`"
        )
