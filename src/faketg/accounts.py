"""Per-account limits of the fake: a speed cap and the Premium flag, as Telegram sets them.

Telegram caps each account whatever its link (users see 4-5 MB/s per account, about
10 Mbit/s per bot token): every connection of one account shares that account's cap,
as they share the link's. A cap is one more pipe (``network.Pipe``) the account's bytes
cross, each direction at the cap's rate; ``None`` lifts it. The Premium flag is the
account's own (``Account.premium``): it sets the fake's limits for that account (8000
parts, 4000 MiB files, 2048-character captions) and ``User.premium`` as clients see it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telethon.tl import functions

from faketg.network import Pipe
from faketg.sender import RpcFault

if TYPE_CHECKING:
    from faketg.sender import FakeSender
    from faketg.server import FakeTelegram
    from faketg.state import Account


@dataclass(slots=True)
class AccountCap:
    bytes_per_s: float
    pipe: Pipe = field(default_factory=Pipe)


@dataclass(slots=True)
class AccountCaps:
    """The caps set, by account id."""

    caps: dict[int, AccountCap] = field(default_factory=dict)
    # account id -> (until, on the server's clock; the requests it holds)
    floods: dict[int, tuple[float, tuple[type, ...]]] = field(default_factory=dict)

    def of(self, account_id: int | None) -> tuple[Pipe, float] | None:
        cap = self.caps.get(account_id) if account_id is not None else None
        return None if cap is None else (cap.pipe, cap.bytes_per_s)


def cap_account(server: FakeTelegram, account: Account, bytes_per_s: float | None) -> None:
    """Every connection of ``account`` shares ``bytes_per_s`` each way (None: no cap)."""
    if bytes_per_s is None:
        server.caps.caps.pop(account.id, None)
    else:
        server.caps.caps[account.id] = AccountCap(bytes_per_s)


def cap_mbit(server: FakeTelegram, account: Account, mbit: float | None) -> None:
    cap_account(server, account, None if mbit is None else mbit * 1_000_000 / 8)


# What a flood wait on an account holds by default: its uploads and its posts.
MEDIA_REQUESTS: tuple[type, ...] = (
    functions.upload.SaveFilePartRequest,
    functions.upload.SaveBigFilePartRequest,
    functions.messages.UploadMediaRequest,
    functions.messages.SendMediaRequest,
    functions.messages.SendMultiMediaRequest,
)


def flood_account(
    server: FakeTelegram,
    account: Account,
    seconds: float,
    requests: tuple[type, ...] = MEDIA_REQUESTS,
) -> None:
    """From now, for ``seconds``, every request of ``requests`` by ``account`` (on any
    connection) is answered ``FLOOD_WAIT_N``, N the seconds left: Telegram slowing one
    account down while the others go on."""
    server.caps.floods[account.id] = (server.clock() + seconds, requests)


def check_flood(server: FakeTelegram, account: Account | None, request: Any) -> None:
    """Raise the account's flood wait for this request, while one holds."""
    if account is None or account.id not in server.caps.floods:
        return
    until, held = server.caps.floods[account.id]
    left = until - server.clock()
    if left <= 0:
        del server.caps.floods[account.id]
    elif isinstance(request, held):
        raise RpcFault(420, f"FLOOD_WAIT_{math.ceil(left)}")


def set_premium(account: Account, premium: bool) -> None:
    """Premium bought or lapsed: seen at the client's next ``users.getUsers``."""
    account.premium = premium


def cap_of(server: FakeTelegram, sender: FakeSender) -> tuple[Pipe, float] | None:
    """The cap the connection's account has, if any (a connection not logged in: none)."""
    account = server.account_of(sender)
    return server.caps.of(account.id if account is not None else None)
