"""``ferryman web``: the page and the API (FastAPI on uvicorn), and ``web token``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ferryman.errors import FerrymanError
from ferryman.frontdoors import quiet_start
from ferryman.frontdoors.cli.output import said, wants_json
from ferryman.frontdoors.exit_codes import for_error
from ferryman.frontdoors.terminal import console, fail

web_app = typer.Typer(
    help="Serve the web page and the API (described at /api/docs once it serves).",
    invoke_without_command=True,
)


@web_app.callback()
def web(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Address to listen on (web.host, 127.0.0.1); any other needs web.tokens.",
        ),
    ] = None,
    port: Annotated[
        int | None,  # bounded as web.port is: 99999 was a traceback from bind()
        typer.Option("--port", min=0, max=65535, help="Port (web.port, 8080)."),
    ] = None,
    no_engine: Annotated[
        bool,
        typer.Option(
            "--no-engine",
            help="Serve only: `ferryman run` workers elsewhere do the jobs (a shared"
            " PostgreSQL store).",
        ),
    ] = False,
) -> None:
    """Serve the page and /api/v1 (docs at /api/docs), running the engine in the same
    process unless --no-engine."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio  # lazy: start-up

    from ferryman.web.guard import (  # lazy: start-up
        check_bind,
        check_listen,
        private_links_refused,
    )
    from ferryman.web.server import serve  # lazy: start-up

    settings = ctx.obj.settings()
    chosen_host = host or settings.web.host
    # An exposed page's links never fetch inward; a loopback one without tokens may
    # reach the home network (cloud metadata stays refused: net.egress).
    w = settings.web
    if private_links_refused(chosen_host, w.tokens, w.allow_private_links):
        network = settings.network.model_copy(update={"block_private": True})
        settings = settings.model_copy(update={"network": network})
    chosen_port = settings.web.port if port is None else port

    def ready(bound: int) -> None:
        shown = f"[{chosen_host}]" if ":" in chosen_host else chosen_host
        url = f"http://{shown}:{bound}/"
        said(ctx, f"ferryman web: {url} (Ctrl-C stops)", event="listening", url=url)

    def stopping() -> None:
        said(ctx, "stopping…", event="stopping")

    async def go() -> None:
        check_bind(chosen_host, settings.web.tokens)  # before any store or engine
        await check_listen(chosen_host, chosen_port)
        if no_engine:
            from ferryman.store import Store  # lazy: start-up

            store = await Store.open(settings.database)
            quiet_start.over()  # start-up is over (frontdoors/quiet_start.py)
            try:
                await serve(
                    settings,
                    store,
                    host=chosen_host,
                    port=chosen_port,
                    ready=ready,
                    on_stop=stopping,
                )
            finally:
                await store.close()
            return
        from ferryman.frontdoors.startup import running  # lazy: start-up

        # Signals go to uvicorn while it serves; the engine stops once it has.
        async with running(
            settings, on_signal=lambda: None, command="web", links_expected=True
        ) as started:
            engine = asyncio.create_task(started.engine.run(), name="engine")

            def stopping_engine() -> None:  # the engine winds down while uvicorn does
                stopping()
                started.engine.stop()

            try:
                await serve(
                    settings,
                    started.store,
                    host=chosen_host,
                    port=chosen_port,
                    bus=started.engine.bus,
                    engine_alive=lambda: not engine.done(),
                    shared=started.engine.ctx.resources,  # its Telegram accounts
                    ready=ready,
                    on_stop=stopping_engine,
                )
            finally:
                started.engine.stop()
                await engine

    try:
        asyncio.run(go())
    except FerrymanError as exc:
        fail(console(stderr=True), exc, as_json=wants_json(ctx))
        raise typer.Exit(for_error(exc.code)) from exc


@web_app.command("token")
def token(ctx: typer.Context) -> None:
    """Make an API token: give the token to clients, put its sha256 line in web.tokens."""
    from ferryman.web.guard import new_token  # lazy: start-up

    made, hashed = new_token()
    out = console()
    if ctx.obj.json:  # the token, and the line web.tokens takes
        out.print(json.dumps({"token": made, "hash": hashed}), markup=False, highlight=False)
        return
    out.print(f"token (shown once; give it to the client): {made}", markup=False)
    # Into the settings file in use (it said "ferryman.toml", which is read only with
    # --config); `config set` replaces the list, so beside others it goes by hand.
    try:
        others = ctx.obj.settings().web.tokens
    except FerrymanError:
        others = []  # a bad setting elsewhere: the command that reads it will say so
    if others:
        out.print(
            f"add its hash to web.tokens beside the {len(others)} there"
            f" (`ferryman config edit`): {hashed}",
            markup=False,
        )
    else:
        out.print(f"add its hash: ferryman config set web.tokens {hashed}", markup=False)
    out.print(f"or: FERRYMAN_WEB__TOKENS='[\"{hashed}\"]'", markup=False)
