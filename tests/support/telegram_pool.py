"""A pool of accounts in a test's data dir: each a session file the fake knows, with its
flags written beside it, as ``ferryman telegram login --as NAME`` leaves it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

from telethon.tl import functions

from faketg import FakeTelegram
from faketg.state import Account as FakeAccount
from ferryman.config import Settings
from ferryman.telegram.account import Account, remember
from ferryman.telegram.accounts import session_of, with_session
from tests.support.telegram_helpers import log_in
from tests.support.waiting import eventually


async def log_in_as(
    settings: Settings, server: FakeTelegram, account: FakeAccount, name: str | None = None
) -> None:
    """``account``'s session under ``name`` (None: the own ``telegram.session``), and the
    flags Telegram gives it (what joins it to the pool)."""
    name = name or settings.telegram.session
    await log_in(with_session(settings, name), server, account)
    remember(session_of(settings, name), Account(premium=account.premium, bot=account.bot))


def senders(messages: list[object]) -> list[int]:
    """Who posted each message (its ``from_id``), in the chat's order."""
    return [m.from_id for m in messages]


@contextlib.asynccontextmanager
async def spread_to(
    server: FakeTelegram,
    to: FakeAccount,
    others: Iterable[FakeAccount],
    *,
    since: int | None = None,
) -> AsyncIterator[None]:
    """The ``others``' albums held at their ``uploadMedia`` until ``to`` took one (since
    the request ``since`` of the fake's log; None: from now), so a test that needs ``to``
    in the job sees it there however slowly a loaded machine reads the albums. The pool
    hands an album to the first free account in its order: read slowly, the own account
    (free again before the next album came) took every album once, and then bot1 every
    one bot2 was to show it had joined."""
    holds = [server.hold(functions.messages.UploadMediaRequest, account=a) for a in others]
    mark = len(server.log) if since is None else since

    async def then_release() -> None:
        try:
            await eventually(
                lambda: (to.id, "UploadMediaRequest") in server.log[mark:],
                f"an album through {to.first_name}",
                within=60,
            )
        finally:
            for held in holds:
                held.release()

    releasing = asyncio.create_task(then_release())
    try:
        yield
    except BaseException:
        releasing.cancel()
        for held in holds:
            held.release()
        raise
    await releasing  # fails the test if ``to`` never took an album
