"""``serve``: the engine and the chat front door in one event loop, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ferryman.config import Settings
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.frontdoors.telegram.door import FrontDoor
from ferryman.sinks.telegram_kind import session_file, telegram_hub
from ferryman.store import Store
from ferryman.telegram.client import Dialer


def check_ready(settings: Settings) -> None:
    """Refuse, before anything starts, a chat that cannot be served: no api_id/api_hash
    (``telegram.not_configured``), no session yet (``telegram.not_logged_in``)."""
    tg = settings.telegram
    if tg.api_id is None or not tg.api_hash:
        raise FerrymanError(
            "telegram.not_configured",
            "telegram.api_id and telegram.api_hash are not set, so the chat cannot be"
            " served; to try the chat without an account: `ferryman telegram demo`",
        )
    if not session_file(settings).exists():
        from ferryman.telegram.accounts import account_names, logged_in  # lazy: start-up

        if logged_in(settings):  # named accounts alone: they send, the own one answers
            raise FerrymanError(
                "telegram.not_logged_in",
                f"the chat is answered through the own session ({session_file(settings)}),"
                " which is not logged in; the accounts logged in with --as"
                f" ({', '.join(account_names(settings))}) send albums, they do not answer it",
                step="Log in the account that answers the chat, without --as: `ferryman"
                " telegram login --bot` (a bot, by its token) or `ferryman telegram login`"
                " (by phone); then `ferryman telegram serve` again.",
            )
        raise FerrymanError(
            "telegram.not_logged_in",
            f"there is no Telegram session yet ({session_file(settings)}), so the chat"
            " cannot be served",
        )


async def serve(
    settings: Settings,
    store: Store,
    client: Any = None,
    *,
    dialer: Dialer | None = None,
    stop: asyncio.Event | None = None,
    engine: Engine | None = None,
) -> None:
    """Listen in the chat and run the engine until ``stop`` is set or the client is gone.

    Without ``client`` the engine's own Telegram connection is used, so deliveries to
    Telegram and the chat share one login (the way ``ferryman telegram serve`` runs);
    a ``client`` given is handed to the engine's hub: one login either way, and the files
    sent in the chat are fetched (``tg:u/…``) by the account they were sent to.
    """
    engine = engine or Engine(store, settings, dialer=dialer)
    arrived: asyncio.Queue[Any] = asyncio.Queue()

    async def take(event: Any) -> None:  # Telethon awaits what a handler returns
        arrived.put_nowait(event)

    hub = None
    if client is not None:  # the engine fetches the chat's files through it too
        telegram_hub(engine.ctx.resources).adopt(client, dialer)
    else:
        from telethon import events

        hub = telegram_hub(engine.ctx.resources)
        # Listening before the connection: what was sent while ferryman was off comes
        # with it (catch-up) and is answered, in order, once the door is open.
        hub.listen(take, events.NewMessage(incoming=True))
        client = await hub.client()
    door = FrontDoor(
        settings,
        store,
        client,
        engine.bus,
        engine.ctx.wakeup.notify,
        engine.ctx.sinks,
        arrived if hub is not None else None,
        engine.ctx.sources,
        engine.ctx.resources,
    )
    stop = stop or asyncio.Event()
    try:
        await door.start()
    except BaseException:
        await door.close()
        raise
    running = asyncio.create_task(engine.run(), name="engine")
    stopped = asyncio.create_task(stop.wait(), name="stop")
    gone = asyncio.ensure_future(client.disconnected)
    try:
        await asyncio.wait({running, stopped, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if hub is not None:
            hub.unlisten(take)
        await door.close()
        engine.stop()
        for task in (stopped, gone):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await gone
        await running
