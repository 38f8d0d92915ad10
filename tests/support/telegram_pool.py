"""A pool of accounts in a test's data dir: each a session file the fake knows, with its
flags written beside it, as ``ferryman telegram login --as NAME`` leaves it."""

from __future__ import annotations

from faketg import FakeTelegram
from faketg.state import Account as FakeAccount
from ferryman.config import Settings
from ferryman.telegram.account import Account, remember
from ferryman.telegram.accounts import session_of, with_session
from tests.support.telegram_helpers import log_in


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
